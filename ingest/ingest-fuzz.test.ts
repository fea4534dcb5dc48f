/**
 * Containment fuzz: mutated replays of a real FFmpeg publish session hammer the RTMP port while a real
 * publish of a good stream goes on. node-media-server 4.4.3 alone dies on the first malformed connect;
 * here the worker must not exit once and the good stream must not notice.
 *
 * INGEST_FUZZ_CASES (default 3000), INGEST_FUZZ_SEED (default 1), INGEST_FUZZ_CONCURRENCY (default 16)
 * and INGEST_FUZZ_MAX_SECONDS (default 30) bound the run; a failing case replays from (seed, case).
 */
import { spawn } from 'node:child_process';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMetricsRegistry } from '../platform/index.js';
import type { PublishAuthorizer } from './contract.js';
import { IngestServer } from './ingest-server.js';
import { HANDSHAKE_BYTES, MUTATIONS, SessionFuzzer, type Mutation } from './test-support/rtmp-fuzz.js';
import { prng } from '../platform/index.js';
import { captureLogger, connectSession, publishTestPattern, recordingBus, recordingProxy, waitFor, type Publisher } from './test-support/rtmp-test-kit.js';

const CASES = Number(process.env.INGEST_FUZZ_CASES ?? 3000);
const SEED = Number(process.env.INGEST_FUZZ_SEED ?? 1);
const CONCURRENCY = Number(process.env.INGEST_FUZZ_CONCURRENCY ?? 16);
const MAX_SECONDS = Number(process.env.INGEST_FUZZ_MAX_SECONDS ?? 30);
const KEY = 'sk_live_fuzz_target_000111';

/**
 * node-media-server's own RtmpSession on a plain listener, exactly as its NodeRtmpServer wires it, with
 * no guard: the control that shows the fuzz cases reach the crash.
 */
const BARE_NMS = `
const net = require('node:net');
require('node-media-server/src/core/logger.js').log = () => {};
const RtmpSession = require('node-media-server/src/session/rtmp_session.js');
const server = net.createServer((socket) => new RtmpSession(socket).run());
server.listen(0, '127.0.0.1', () => process.stdout.write(server.address().port + '\\n'));
`;

/** Starts the unguarded NMS in a child process; resolves with its port and exit promise. */
async function bareNms(): Promise<{ port: number; exited: Promise<number | null>; kill: () => void }> {
  const child = spawn(process.execPath, ['-e', BARE_NMS], { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout.once('data', (d: Buffer) => resolve(Number(d.toString().trim())));
    child.once('exit', () => reject(new Error('bare NMS did not start')));
  });
  return { port, exited, kill: () => child.kill('SIGKILL') };
}

const authorizer: PublishAuthorizer = {
  async authorize(key) {
    return key === KEY ? { ok: true, streamId: 'stream-fuzz' } : { ok: false, reason: 'unknown stream key' };
  },
};

/** Sends one case in a few random slices; done when the server closes it or it goes quiet. */
function replay(port: number, bytes: Buffer, rnd: () => number): Promise<'closed' | 'idle'> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    let settled = false;
    const done = (r: 'closed' | 'idle') => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(r);
    };
    const timer = setTimeout(() => done('idle'), 150);
    socket.on('connect', () => {
      let off = 0;
      while (off < bytes.length) {
        const n = Math.max(1, Math.floor(rnd() * 1500));
        socket.write(bytes.subarray(off, off + n));
        off += n;
      }
    });
    socket.on('data', () => undefined);
    socket.on('close', () => done('closed'));
    socket.on('error', () => done('closed'));
  });
}

describe('RTMP ingest containment under fuzzed sessions', () => {
  const { logger } = captureLogger('info');
  const registry = createMetricsRegistry(false);
  let server: IngestServer;
  let rec: Awaited<ReturnType<typeof recordingBus>>;
  let proxy: Awaited<ReturnType<typeof recordingProxy>>;
  let good: Publisher | undefined;

  beforeAll(async () => {
    rec = await recordingBus(logger);
    server = new IngestServer(
      { authorizer, bus: rec.bus, logger, metrics: registry },
      {
        ports: { api: 0, rtmp: 0, ingestHttp: 0, origin: 0, edge: 0 },
        bindHost: '127.0.0.1',
        controlApiUrl: 'http://127.0.0.1:9',
        internalToken: 'test',
        ingest: { publishDeadlineMs: 2000, statsPublishIntervalMs: 500 },
      },
    );
    await server.start();
    proxy = await recordingProxy(server.rtmpPort, 48 * 1024);
  });

  afterAll(async () => {
    good?.child.kill('SIGKILL');
    await good?.exited;
    await proxy?.close();
    await server?.close();
    await rec?.bus.close();
  });

  it(`survives ${CASES} mutated sessions (seed ${SEED}) with zero worker exits while a real stream stays live`, { timeout: (MAX_SECONDS + 60) * 1000 }, async () => {
    // A real publish, recorded on its way through the proxy: the fuzz corpus and the stream to protect.
    good = publishTestPattern(`rtmp://127.0.0.1:${proxy.port}/live/${KEY}`, MAX_SECONDS + 30);
    const started = await waitFor(() => rec.events.find((e) => e.topic === 'ingest.stream.started'), 15_000, 'good stream started');
    const sessionId = started.msg.sessionId;
    await waitFor(() => proxy.recorded().length >= 16 * 1024, 10_000, 'recorded session');
    const corpus = proxy.recorded();
    expect(corpus.length).toBeGreaterThan(HANDSHAKE_BYTES);
    expect(corpus.includes(Buffer.from('connect'))).toBe(true);
    expect(corpus.includes(Buffer.from(KEY))).toBe(true);

    const pid = server.workerPid;
    const fuzzer = new SessionFuzzer(corpus, KEY);
    const kinds = new Map<Mutation, number>();
    const outcomes = { closed: 0, idle: 0 };
    const statsAt = (since: number) => rec.events.filter((e) => e.topic === 'ingest.stream.stats' && e.msg.sessionId === sessionId && Number(e.msg.atMs) >= since);
    const fuzzStart = Date.now();
    const deadline = fuzzStart + MAX_SECONDS * 1000;
    let next = 0;
    const lane = async () => {
      while (next < CASES && Date.now() < deadline) {
        const n = next++;
        const { kind, bytes } = fuzzer.mutate(SEED, n);
        kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
        outcomes[await replay(server.rtmpPort, bytes, prng(SEED + n))] += 1;
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, lane));
    const ran = outcomes.closed + outcomes.idle;
    const fuzzEnd = Date.now();
    console.log(`rtmp fuzz: ${ran} cases in ${((fuzzEnd - fuzzStart) / 1000).toFixed(1)} s`, Object.fromEntries(kinds), outcomes);

    // Enough cases ran, of every kind, and they reached the error paths.
    expect(ran).toBeGreaterThanOrEqual(Math.min(CASES, 500));
    expect([...kinds.keys()].sort()).toEqual([...MUTATIONS].sort());
    const byResult = async (result: string) =>
      (await registry.getMetricsAsJSON()).find((m) => m.name === 'ingest_connections_total')?.values.find((v) => v.labels.result === result)?.value ?? 0;
    await waitFor(async () => (await byResult('protocol_error')) > 0, 5000, 'protocol errors counted');
    expect(await byResult('refused')).toBeGreaterThan(0);

    // Zero worker exits.
    expect(server.workerRestarts).toBe(0);
    expect(server.workerPid).toBe(pid);
    // The good stream never ended and kept flowing through the fuzzing.
    expect(rec.events.some((e) => e.topic === 'ingest.stream.ended' && e.msg.sessionId === sessionId)).toBe(false);
    expect(good.child.exitCode).toBeNull();
    const during = statsAt(fuzzStart).filter((e) => Number(e.msg.atMs) <= fuzzEnd + 1000);
    expect(during.length).toBeGreaterThanOrEqual(Math.floor((fuzzEnd - fuzzStart) / 1000) - 1);
    // Frames kept arriving (a starved CI machine may leave one tick without a frame, not most).
    expect(during.filter((e) => Number(e.msg.fps) > 0).length).toBeGreaterThanOrEqual(Math.ceil(during.length / 2));
    const bytesBefore = Number(during[0]?.msg.bytesIn ?? 0);
    const after = await waitFor(() => statsAt(fuzzEnd + 600)[0], 3000, 'stats after fuzzing');
    expect(Number(after.msg.bytesIn)).toBeGreaterThan(bytesBefore);
  });

  it('control: the same cases kill an unguarded node-media-server 4.4.3 process', async () => {
    // One hand-made connect without tcUrl is enough.
    const single = await bareNms();
    await replay(single.port, connectSession({ app: 'live' }), prng(1));
    expect(await Promise.race([single.exited, new Promise((r) => setTimeout(() => r('alive'), 3000))])).not.toBe('alive');
    // And the fuzz corpus finds a crash within its first few hundred cases.
    const bare = await bareNms();
    const fuzzer = new SessionFuzzer(proxy.recorded(), KEY);
    let died = false;
    void bare.exited.then(() => (died = true));
    let n = 0;
    for (; n < 500 && !died; n++) await replay(bare.port, fuzzer.mutate(SEED, n).bytes, prng(SEED + n)).catch(() => undefined);
    bare.kill();
    console.log(`unguarded NMS died after ${n} fuzz cases`);
    expect(died).toBe(true);
  });
});
