import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../platform/index.js';
import { ffmpegLadderArgs, type LadderArgs } from './ffmpeg-ladder-args.js';
import { LadderProcess, ProgressParser, type LadderProgress } from './ffmpeg-ladder-process.js';
import { LadderSupervisor } from './ladder-supervisor.js';

const logger = createLogger('silent');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ladder-test-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** A 320x180 lavfi test pattern with a tone through a 180p/144p ladder. */
function testLadder(seconds: number): LadderArgs {
  return ffmpegLadderArgs({
    input: { kind: 'lavfi', video: 'testsrc2=size=320x180:rate=30', audio: 'sine=frequency=440:sample_rate=48000', durationSeconds: seconds },
    source: { width: 320, height: 180, fps: 30, hasAudio: true },
    rungs: [
      { name: '180p', height: 180, videoBitrateKbps: 300 },
      { name: '144p', height: 144, videoBitrateKbps: 200 },
    ],
    segmentSeconds: 1,
    x264Preset: 'ultrafast',
  });
}

/** Top-level ISO BMFF box types, in order (ISO/IEC 14496-12 §4.2). */
function topLevelBoxes(buf: Buffer): string[] {
  const types: string[] = [];
  for (let off = 0; off + 8 <= buf.length; ) {
    let size = buf.readUInt32BE(off);
    if (size === 1) size = Number(buf.readBigUInt64BE(off + 8));
    if (size === 0) size = buf.length - off;
    types.push(buf.toString('latin1', off + 4, off + 8));
    if (size < 8) break;
    off += size;
  }
  return types;
}

/** Key-frame presentation times of the video in an MP4 file, via ffprobe. */
function keyframeTimes(file: string): number[] {
  const r = spawnSync('ffprobe', ['-v', 'error', '-select_streams', 'v', '-show_entries', 'frame=pts_time,key_frame', '-of', 'json', '-show_frames', file], { encoding: 'utf8' });
  const frames = (JSON.parse(r.stdout) as { frames: { pts_time: string; key_frame: number }[] }).frames;
  return frames.filter((f) => f.key_frame === 1).map((f) => Number(f.pts_time));
}

describe('ProgressParser', () => {
  it('turns a -progress block into one event', () => {
    const p = new ProgressParser();
    const got: LadderProgress[] = [];
    const block = 'frame=90\nfps=29.97\nstream_0_0_q=28.0\nout_time_us=3000000\ndup_frames=1\ndrop_frames=2\nspeed=1.01x\nprogress=continue';
    for (const line of block.split('\n')) expect(p.line(line, (x) => got.push(x))).toBe(true);
    expect(p.line('[libx264 @ 0x55] some warning', () => undefined)).toBe(false);
    expect(got).toEqual([{ frames: 90, fps: 29.97, speed: 1.01, dropped: 2, duplicated: 1, outTimeSeconds: 3 }]);
  });
});

describe('LadderProcess (real FFmpeg)', () => {
  it('writes fragmented MP4 to one pipe per output, with keyframes aligned across renditions', async () => {
    const ladder = testLadder(3);
    const proc = new LadderProcess({ logger }, { ffmpegPath: 'ffmpeg', args: ladder.args, outputs: ladder.outputs });
    const chunks = new Map<string, Buffer[]>();
    const progress: LadderProgress[] = [];
    proc.on('data', (name, chunk) => chunks.set(name, [...(chunks.get(name) ?? []), chunk]));
    proc.on('progress', (p) => progress.push(p));
    proc.start();
    const exit = await proc.exited;
    expect(exit.code, exit.stderrTail).toBe(0);
    expect(ladder.outputs.map((o) => [o.name, o.fd])).toEqual([['180p', 3], ['144p', 4], ['audio', 5]]);
    expect(progress.length).toBeGreaterThanOrEqual(1);
    expect(progress.at(-1)?.frames).toBeGreaterThanOrEqual(80);

    const keyframes: number[][] = [];
    for (const out of ladder.outputs) {
      const bytes = Buffer.concat(chunks.get(out.name) ?? []);
      const boxes = topLevelBoxes(bytes);
      expect(boxes[0], out.name).toBe('ftyp');
      expect(boxes[1], out.name).toBe('moov');
      // frag_every_frame: one moof per frame (3 s of 30 fps video, or ~141 AAC frames).
      expect(boxes.filter((b) => b === 'moof').length, out.name).toBeGreaterThan(60);
      const file = path.join(tmp, `${out.name}.mp4`);
      fs.writeFileSync(file, bytes);
      if (out.kind === 'video') keyframes.push(keyframeTimes(file));
    }
    // A keyframe on every 1 s segment boundary, at the same times in every rendition.
    expect(keyframes[0]).toEqual([0, 1, 2]);
    expect(keyframes[1]).toEqual(keyframes[0]);
  });

  it('reports a missing binary as an exit, not a crash', async () => {
    const proc = new LadderProcess({ logger }, { ffmpegPath: '/nonexistent/ffmpeg', args: [], outputs: [] });
    proc.start();
    const exit = await proc.exited;
    expect(exit.code).not.toBe(0);
    expect(exit.stderrTail).toMatch(/ENOENT/);
  });

  it('stop() ends a running process', async () => {
    const ladder = testLadder(30);
    const proc = new LadderProcess({ logger }, { ffmpegPath: 'ffmpeg', args: ladder.args, outputs: ladder.outputs });
    let bytes = 0;
    proc.on('data', (_n, c) => (bytes += c.length));
    proc.start();
    while (bytes === 0) await new Promise((r) => setTimeout(r, 50));
    const exit = await proc.stop();
    expect(exit.stopped).toBe(true);
  });
});

describe('LadderSupervisor (real FFmpeg)', () => {
  it('restarts a killed FFmpeg and announces the discontinuity', async () => {
    const sup = new LadderSupervisor({ logger }, { ffmpegPath: 'ffmpeg', build: () => testLadder(20), backoffInitialMs: 50 });
    const restarted: number[] = [];
    const spawned: number[] = [];
    let bytesSinceSpawn = 0;
    sup.on('spawned', (s) => {
      spawned.push(s.attempt);
      bytesSinceSpawn = 0;
    });
    sup.on('data', (_n, c) => (bytesSinceSpawn += c.length));
    sup.on('restarted', (r) => restarted.push(r.restarts));
    await sup.start();
    const waitBytes = async () => {
      const deadline = Date.now() + 10_000;
      while (bytesSinceSpawn === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(bytesSinceSpawn).toBeGreaterThan(0);
    };
    await waitBytes();
    const first = sup.pid!;
    process.kill(first, 'SIGKILL');
    const deadline = Date.now() + 10_000;
    while (restarted.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(restarted).toEqual([1]);
    expect(spawned).toEqual([1, 2]);
    expect(sup.pid).not.toBe(first);
    await waitBytes();
    // Source gone: the next death is final.
    const ended = new Promise<void>((resolve) => sup.once('ended', () => resolve()));
    sup.sourceGone();
    process.kill(sup.pid!, 'SIGKILL');
    await ended;
    expect(restarted).toEqual([1]);
    await sup.close();
  });

  it('gives up after too many restarts in a minute', async () => {
    const broken: LadderArgs = { args: ['-hide_banner', '-f', 'lavfi', '-i', 'nosuchfilter', '-f', 'null', '-'], outputs: [] };
    const sup = new LadderSupervisor({ logger }, { ffmpegPath: 'ffmpeg', build: () => broken, backoffInitialMs: 10, maxRestartsPerMinute: 2 });
    const failed = new Promise<{ reason: string }>((resolve) => sup.once('failed', resolve));
    await sup.start();
    expect((await failed).reason).toMatch(/restarts in a minute/);
    expect(sup.restartCount).toBe(2);
    await sup.close();
  });
});
