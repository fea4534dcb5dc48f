import { spawnSync } from 'node:child_process';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMetricsRegistry, type Registry } from '../platform/index.js';
import type { PublishAuthorizer } from './contract.js';
import { IngestServer } from './ingest-server.js';
import {
  captureLogger,
  amfCommand,
  connectSession,
  publishTestPattern,
  recordingBus,
  rtmpHandshake,
  rtmpMessage,
  sendAndWait,
  waitFor,
} from './test-support/rtmp-test-kit.js';

const GOOD_KEY = 'sk_live_good_0123456789';
const DISABLED_KEY = 'sk_live_disabled_98765';
const UNKNOWN_KEY = 'sk_live_nobody_4242424242';
const SLOW_KEY = 'sk_live_slow_auth_777777';

/** A real authorizer over an in-memory key table (what control-api answers, minus the database). */
const authorizer: PublishAuthorizer = {
  async authorize(key) {
    if (key === GOOD_KEY) return { ok: true, streamId: 'stream-good' };
    if (key === 'sk_live_second_555555') return { ok: true, streamId: 'stream-second' };
    if (key === DISABLED_KEY) return { ok: false, reason: 'stream is disabled' };
    if (key === SLOW_KEY) {
      await new Promise((r) => setTimeout(r, 600));
      return { ok: true, streamId: 'stream-slow' };
    }
    return { ok: false, reason: 'unknown stream key' };
  },
};

async function metric(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number> {
  const json = await registry.getMetricsAsJSON();
  const m = json.find((x) => x.name === name);
  const v = m?.values.find((x) => Object.entries(labels).every(([k, val]) => x.labels[k] === val));
  return v?.value ?? 0;
}

function ffprobeStreams(url: string): { codec_type: string; codec_name: string; width?: number; height?: number }[] {
  const r = spawnSync('ffprobe', ['-v', 'error', '-rw_timeout', '8000000', '-show_entries', 'stream=codec_type,codec_name,width,height', '-of', 'json', url], {
    encoding: 'utf8',
    timeout: 15_000,
  });
  return (JSON.parse(r.stdout || '{}') as { streams?: [] }).streams ?? [];
}

describe('IngestServer (real RTMP publishes through node-media-server in a worker)', () => {
  const { logger, lines } = captureLogger();
  const registry = createMetricsRegistry(false);
  let server: IngestServer;
  let rec: Awaited<ReturnType<typeof recordingBus>>;
  let url: (key: string) => string;

  beforeAll(async () => {
    rec = await recordingBus(logger);
    server = new IngestServer(
      { authorizer, bus: rec.bus, logger, metrics: registry },
      {
        ports: { api: 0, rtmp: 0, ingestHttp: 0, origin: 0, edge: 0 },
        bindHost: '127.0.0.1',
        controlApiUrl: 'http://127.0.0.1:9',
        internalToken: 'test',
        ingest: { publishDeadlineMs: 1500, statsPublishIntervalMs: 500 },
      },
    );
    await server.start();
    url = (key) => `rtmp://127.0.0.1:${server.rtmpPort}/live/${key}`;
  });

  afterAll(async () => {
    await server?.close();
    await rec?.bus.close();
  });

  it('announces a good publish, serves it to the packager while live, and ends it', async () => {
    const pub = publishTestPattern(url(GOOD_KEY), 4);
    const started = await waitFor(() => rec.events.find((e) => e.topic === 'ingest.stream.started' && e.msg.streamId === 'stream-good'), 10_000, 'started');
    const sourceUrl = String(started.msg.sourceUrl);
    expect(sourceUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/ingest\/[A-Za-z0-9_-]+\.flv$/);
    expect(sourceUrl).not.toContain(GOOD_KEY);
    expect(started.msg.video).toEqual({ codec: 'h264', width: 320, height: 180, fps: 30 });
    expect(started.msg.audio).toMatchObject({ codec: 'aac', sampleRate: 48000 });
    // The packager-side URL really delivers media while the publisher is live.
    const streams = ffprobeStreams(sourceUrl);
    expect(streams.find((s) => s.codec_type === 'video')).toMatchObject({ codec_name: 'h264', width: 320, height: 180 });
    expect(streams.find((s) => s.codec_type === 'audio')).toMatchObject({ codec_name: 'aac' });
    const { code } = await pub.exited;
    expect(code).toBe(0);
    const ended = await waitFor(() => rec.events.find((e) => e.topic === 'ingest.stream.ended' && e.msg.sessionId === started.msg.sessionId), 5000, 'ended');
    expect(ended.msg.streamId).toBe('stream-good');
    expect(rec.events.some((e) => e.topic === 'ingest.stream.stats' && e.msg.sessionId === started.msg.sessionId && Number(e.msg.bitrateKbps) > 0)).toBe(true);
    expect(await metric(registry, 'ingest_connections_total', { result: 'accepted' })).toBeGreaterThanOrEqual(1);
    expect(server.liveSessions()).toEqual([]);
  });

  it('accepts a key with a query string (OBS-style key?foo=bar)', async () => {
    const before = rec.events.length;
    const pub = publishTestPattern(url(`${GOOD_KEY}?foo=bar`), 1.5);
    const started = await waitFor(() => rec.events.slice(before).find((e) => e.topic === 'ingest.stream.started'), 10_000, 'started');
    expect(started.msg.streamId).toBe('stream-good');
    await pub.exited;
  });

  it('refuses unknown and disabled keys: FFmpeg cannot publish, the log says why without the key', async () => {
    for (const [key, reason] of [[UNKNOWN_KEY, 'unknown stream key'], [DISABLED_KEY, 'stream is disabled']]) {
      const pub = publishTestPattern(url(key), 3);
      const { code, stderr } = await pub.exited;
      expect(code).not.toBe(0);
      expect(stderr).toMatch(/NetStream\.Publish\.BadName|error|fail/i);
      const refusal = lines().map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.msg === 'publish refused' && l.reason === reason);
      expect(refusal).toBeDefined();
      expect(refusal?.key).toBe(`${key.slice(0, 4)}…(${key.length})`);
    }
    expect(lines().some((l) => l.includes(UNKNOWN_KEY) || l.includes(DISABLED_KEY) || l.includes(GOOD_KEY))).toBe(false);
    expect(rec.events.filter((e) => e.topic === 'ingest.stream.started' && e.msg.streamId !== 'stream-good')).toEqual([]);
  });

  it('refuses a second publisher for a stream that is already live', async () => {
    const first = publishTestPattern(url('sk_live_second_555555'), 4);
    await waitFor(() => server.liveSessions().find((s) => s.streamId === 'stream-second'), 10_000, 'first live');
    const second = publishTestPattern(url('sk_live_second_555555'), 2);
    const { code } = await second.exited;
    expect(code).not.toBe(0);
    expect(server.liveSessions().filter((s) => s.streamId === 'stream-second')).toHaveLength(1);
    first.child.kill('SIGKILL');
    await first.exited;
  });

  it('drops the live publisher of a stream control-api disables', async () => {
    const mark = rec.events.length;
    const pub = publishTestPattern(url(GOOD_KEY), 15);
    const started = await waitFor(() => rec.events.slice(mark).find((e) => e.topic === 'ingest.stream.started'), 10_000, 'started');
    await rec.bus.publish('control.stream.disabled', { streamId: 'stream-good', accountId: 'acct-1', atMs: Date.now() });
    const ended = await waitFor(() => rec.events.find((e) => e.topic === 'ingest.stream.ended' && e.msg.sessionId === started.msg.sessionId), 5000, 'ended');
    expect(ended.msg.reason).toBe('stream disabled');
    const { code } = await pub.exited;
    expect(code).not.toBe(0);
  });

  it('forgets a publisher that leaves while the authorizer is still deciding', async () => {
    const publish = Buffer.concat([
      connectSession({ app: 'live', tcUrl: 'rtmp://127.0.0.1/live' }),
      rtmpMessage(3, 20, 0, amfCommand('createStream', 2, null)),
      rtmpMessage(8, 20, 1, amfCommand('publish', 3, null, SLOW_KEY, 'live')),
    ]);
    expect(await sendAndWait(server.rtmpPort, publish, 150)).toBe('timeout'); // we hang up first
    await new Promise((r) => setTimeout(r, 800)); // the authorizer says yes after we left
    const before = rec.events.length;
    const pub = publishTestPattern(url(SLOW_KEY), 1.5);
    const started = await waitFor(() => rec.events.slice(before).find((e) => e.topic === 'ingest.stream.started'), 10_000, 'started');
    expect(started.msg.streamId).toBe('stream-slow');
    await pub.exited;
  });

  it('times out a client that connects and sends nothing, and keeps serving', async () => {
    const pid = server.workerPid;
    const t0 = Date.now();
    const silent = await sendAndWait(server.rtmpPort, Buffer.alloc(0), 6000);
    expect(silent).toBe('closed-by-server');
    expect(Date.now() - t0).toBeLessThan(4000);
    // A truncated handshake (C0 and part of C1) is timed out the same way.
    const truncated = await sendAndWait(server.rtmpPort, rtmpHandshake().subarray(0, 700), 6000);
    expect(truncated).toBe('closed-by-server');
    await waitFor(async () => (await metric(registry, 'ingest_connections_total', { result: 'timeout' })) >= 2, 3000, 'timeouts counted');
    expect(server.workerPid).toBe(pid);
  });

  it('drops only the offending connection on a malformed connect (the NMS 4.4.3 crash)', async () => {
    const pid = server.workerPid;
    const errorsBefore = await metric(registry, 'ingest_connections_total', { result: 'protocol_error' });
    // No tcUrl: NMS runs `new URL(undefined)` inside its socket data handler.
    expect(await sendAndWait(server.rtmpPort, connectSession({ app: 'live' }), 3000)).toBe('closed-by-server');
    // A tcUrl that is not a string, and a connect whose command object is a number.
    expect(await sendAndWait(server.rtmpPort, connectSession({ app: 'live', tcUrl: 42 }), 3000)).toBe('closed-by-server');
    await waitFor(async () => (await metric(registry, 'ingest_connections_total', { result: 'protocol_error' })) >= errorsBefore + 2, 3000, 'protocol errors');
    expect(server.workerPid).toBe(pid);
    expect(server.workerRestarts).toBe(0);
  });

  it('1000 junk connections from one address (the whole listener budget) do not stop a real publisher from another', async () => {
    const pid = server.workerPid;
    // The flood comes from 127.0.0.2 (a loopback address of its own); the publisher from 127.0.0.1.
    let closedByServer = 0;
    const sockets = await Promise.all(
      Array.from({ length: 1000 }, () => new Promise<net.Socket>((resolve) => {
        const s = net.connect({ port: server.rtmpPort, host: '127.0.0.1', localAddress: '127.0.0.2' });
        s.on('error', () => undefined);
        s.on('close', () => closedByServer++);
        s.on('connect', () => {
          s.write(Buffer.concat([Buffer.from([3]), Buffer.alloc(1536, 0x5a)]));
          resolve(s);
        });
        s.on('error', () => resolve(s));
      })),
    );
    const mark = rec.events.length;
    const pub = publishTestPattern(url(GOOD_KEY), 3);
    const started = await waitFor(() => rec.events.slice(mark).find((e) => e.topic === 'ingest.stream.started' && e.msg.streamId === 'stream-good'), 10_000, 'the real publish');
    expect(started.msg.remoteAddress).toBe('127.0.0.1');
    // All but the per-address cap (10) were closed at accept, long before the 5 s publish deadline.
    await waitFor(() => closedByServer >= 990, 1500, 'flood closed at accept');
    expect(server.workerPid).toBe(pid);
    for (const s of sockets) s.destroy();
    await pub.exited;
  }, 30_000);

  it('restarts a killed worker, ends its sessions, and takes publishes again', async () => {
    const mark = rec.events.length;
    const pub = publishTestPattern(url(GOOD_KEY), 20);
    const started = await waitFor(() => rec.events.slice(mark).find((e) => e.topic === 'ingest.stream.started' && e.msg.streamId === 'stream-good'), 10_000, 'started');
    const pid = server.workerPid!;
    process.kill(pid, 'SIGKILL');
    const ended = await waitFor(() => rec.events.find((e) => e.topic === 'ingest.stream.ended' && e.msg.sessionId === started.msg.sessionId), 5000, 'ended');
    expect(ended.msg.reason).toBe('ingest worker restarted');
    await waitFor(() => server.workerPid && server.workerPid !== pid, 10_000, 'new worker');
    expect(server.workerRestarts).toBe(1);
    expect(await metric(registry, 'ingest_worker_restarts_total')).toBe(1);
    pub.child.kill('SIGKILL');
    await pub.exited;
    // Same port, new worker: a publisher gets through again.
    await waitFor(() => new Promise<boolean>((resolve) => {
      const s = net.connect(server.rtmpPort, '127.0.0.1', () => { s.destroy(); resolve(true); }).on('error', () => resolve(false));
    }), 10_000, 'listening again');
    const before = rec.events.length;
    const again = publishTestPattern(url(GOOD_KEY), 1.5);
    await waitFor(() => rec.events.slice(before).find((e) => e.topic === 'ingest.stream.started'), 10_000, 'started after restart');
    await again.exited;
  });
});
