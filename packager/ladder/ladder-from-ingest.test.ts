/**
 * The live path end to end as far as the ladder: FFmpeg publishes RTMP to the real ingest, the ladder
 * probes the session's internal URL and transcodes it, aligned renditions come out of the pipes.
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IngestServer, type IngestTopics, type StreamControlTopics } from '../../ingest/index.js';
import { MemoryBus, createLogger, createMetricsRegistry } from '../../platform/index.js';
import { ffmpegLadderArgs } from './ffmpeg-ladder-args.js';
import { LadderProcess } from './ffmpeg-ladder-process.js';
import { probeSource } from './ffprobe.js';

const KEY = 'sk_live_ladder_test_1234';
const logger = createLogger('silent');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ladder-ingest-'));

describe('ladder fed by the RTMP ingest', () => {
  const bus = new MemoryBus<IngestTopics & StreamControlTopics>({ logger });
  let ingest: IngestServer;

  beforeAll(async () => {
    ingest = new IngestServer(
      {
        authorizer: { authorize: async (key) => (key === KEY ? { ok: true, streamId: 'ladder-stream' } : { ok: false, reason: 'unknown stream key' }) },
        bus,
        logger,
        metrics: createMetricsRegistry(false),
      },
      { ports: { api: 0, rtmp: 0, ingestHttp: 0, origin: 0, edge: 0 }, bindHost: '127.0.0.1', controlApiUrl: 'http://127.0.0.1:9', internalToken: 't' },
    );
    await ingest.start();
  });

  afterAll(async () => {
    await ingest?.close();
    await bus.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('probes the live source and encodes aligned renditions until the publisher stops', { timeout: 40_000 }, async () => {
    const started = new Promise<IngestTopics['ingest.stream.started']>((resolve) => void bus.subscribe('ingest.stream.started', resolve));
    const publisher = spawn('ffmpeg', [
      '-hide_banner', '-loglevel', 'error', '-re',
      '-f', 'lavfi', '-i', 'testsrc2=size=320x180:rate=30', '-f', 'lavfi', '-i', 'sine=sample_rate=48000', '-t', '6',
      '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-g', '15', '-c:a', 'aac',
      '-f', 'flv', `rtmp://127.0.0.1:${ingest.rtmpPort}/live/${KEY}`,
    ], { stdio: 'ignore' });
    const session = await started;
    const t0 = Date.now();
    const probe = await probeSource(session.sourceUrl, { ffprobePath: 'ffprobe', timeoutMs: 8000 });
    console.log('probe ms', Date.now() - t0);
    expect(probe).toMatchObject({ width: 320, height: 180, videoCodec: 'h264', audioCodec: 'aac' });

    const ladder = ffmpegLadderArgs({
      input: { kind: 'url', url: session.sourceUrl },
      source: { width: probe.width, height: probe.height, fps: probe.fps, hasAudio: Boolean(probe.audioCodec), audioCodec: probe.audioCodec },
      rungs: [
        { name: '180p', height: 180, videoBitrateKbps: 300 },
        { name: '144p', height: 144, videoBitrateKbps: 200 },
      ],
      segmentSeconds: 1,
      x264Preset: 'ultrafast',
    });
    const proc = new LadderProcess({ logger }, { ffmpegPath: 'ffmpeg', args: ladder.args, outputs: ladder.outputs });
    const bytes = new Map<string, Buffer[]>();
    proc.on('data', (name, chunk) => bytes.set(name, [...(bytes.get(name) ?? []), chunk]));
    proc.start();
    const t1 = Date.now();
    proc.once('data', () => console.log('first ladder bytes ms', Date.now() - t1));
    const exit = await proc.exited;
    await new Promise((r) => publisher.once('close', r).exitCode !== null && r(undefined));
    expect(exit.code, exit.stderrTail).toBe(0);

    const keyframes = ladder.outputs
      .filter((o) => o.kind === 'video')
      .map((o) => {
        const f = path.join(tmp, `${o.name}.mp4`);
        fs.writeFileSync(f, Buffer.concat(bytes.get(o.name) ?? []));
        const r = spawnSync('ffprobe', ['-v', 'error', '-select_streams', 'v', '-show_entries', 'frame=pts_time,key_frame', '-of', 'json', '-show_frames', f], { encoding: 'utf8' });
        const frames = (JSON.parse(r.stdout) as { frames: { pts_time: string; key_frame: number }[] }).frames;
        expect(frames.length).toBeGreaterThan(60);
        return frames.filter((x) => x.key_frame === 1).map((x) => Number(x.pts_time));
      });
    expect(keyframes[0].length).toBeGreaterThanOrEqual(3);
    expect(keyframes[1]).toEqual(keyframes[0]);
    // On the 1 s grid (the source's own 0.5 s GOP does not leak through).
    for (const t of keyframes[0]) expect(Math.abs(t - Math.round(t))).toBeLessThan(0.04);
    expect(Buffer.concat(bytes.get('audio') ?? []).subarray(4, 8).toString()).toBe('ftyp');
  });
});
