import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { Fmp4StreamParser, type Fmp4Fragment, type Fmp4Init } from './fmp4-stream-parser.js';
import { CmafSegmenter, type CmafPart, type CmafSegment, type CmafSegmenterConfig, type SegmenterFragment } from './segmenter.js';

const run = promisify(execFile);

function parseFixture(name: string): { init: Fmp4Init; fragments: Fmp4Fragment[] } {
  const parser = new Fmp4StreamParser();
  let init: Fmp4Init | undefined;
  const fragments: Fmp4Fragment[] = [];
  parser.on('init', (i) => (init = i));
  parser.on('fragment', (f) => fragments.push(f));
  parser.push(readFileSync(new URL(`./__fixtures__/${name}`, import.meta.url)));
  parser.end();
  return { init: init!, fragments };
}

const VIDEO = parseFixture('video-320x180.mp4');
const AUDIO = parseFixture('audio-aac.mp4');

interface Output {
  parts: CmafPart[];
  segments: CmafSegment[];
  /** Events emitted by each push, in order ('p' part, 's' segment). */
  perPush: string[];
  segmenter: CmafSegmenter;
}

function segment(fragments: SegmenterFragment[], config: CmafSegmenterConfig, flush = true): Output {
  const segmenter = new CmafSegmenter(config);
  const out: Output = { parts: [], segments: [], perPush: [], segmenter };
  let events = '';
  segmenter.on('part', (p) => {
    out.parts.push(p);
    events += 'p';
  });
  segmenter.on('segment', (s) => {
    out.segments.push(s);
    events += 's';
  });
  for (const f of fragments) {
    events = '';
    segmenter.push(f);
    out.perPush.push(events);
  }
  if (flush) segmenter.flush();
  return out;
}

/** Synthetic fragments of `n` frames with the given durations and keyframe rule. */
function frames(n: number, duration: (i: number) => number, keyframe: (i: number, t: number) => boolean, start = 0): SegmenterFragment[] {
  const out: SegmenterFragment[] = [];
  for (let i = 0, t = start; i < n; i++) {
    const d = duration(i);
    out.push({ bytes: Buffer.from(`f${i};`), decodeTime: t, duration: d, keyframe: keyframe(i, t) });
    t += d;
  }
  return out;
}

/** The spec invariants every output must satisfy (RFC 8216bis §4.4.4.9). */
function checkInvariants(out: Output, fragments: SegmenterFragment[], partTarget: number) {
  expect(Buffer.concat(out.segments.map((s) => s.bytes)).equals(Buffer.concat(fragments.map((f) => f.bytes)))).toBe(true);
  for (const s of out.segments) {
    const parts = out.parts.filter((p) => p.msn === s.msn);
    expect(parts.map((p) => p.partIndex)).toEqual(parts.map((_, i) => i));
    expect(Buffer.concat(parts.map((p) => p.bytes)).equals(s.bytes)).toBe(true);
    expect(parts[0].independent).toBe(true);
    expect(parts[0].decodeTime).toBe(s.startDecodeTime);
    parts.forEach((p, i) => {
      expect(p.duration).toBeLessThanOrEqual(partTarget + 1e-9);
      if (i < parts.length - 1) expect(p.duration).toBeGreaterThanOrEqual(0.85 * partTarget);
    });
    expect(s.duration).toBeCloseTo(parts.reduce((a, p) => a + p.duration, 0), 9);
  }
  expect(out.segments.map((s) => s.msn)).toEqual(out.segments.map((_, i) => out.segments[0].msn + i));
}

const summary = (out: Output) =>
  out.segments.map((s) => ({
    msn: s.msn,
    start: s.startDecodeTime,
    duration: s.duration,
    parts: s.parts.map((p) => `${p.duration.toFixed(5)}${p.independent ? ' independent' : ''}`),
  }));

describe('CmafSegmenter on the FFmpeg fixtures', () => {
  it('cuts 30 fps video into 0.5 s parts and 2 s segments on the keyframes', async () => {
    const out = segment(VIDEO.fragments, { timescale: VIDEO.init.track.timescale, kind: 'video' });
    checkInvariants(out, VIDEO.fragments, 0.5);
    expect(out.segments.map((s) => s.duration)).toEqual([2, 1]);
    expect(out.parts.map((p) => p.duration)).toEqual([0.5, 0.5, 0.5, 0.5, 0.5, 0.5]);
    await expect(JSON.stringify(summary(out), null, 2) + '\n').toMatchFileSnapshot('./__fixtures__/video-segments.golden.json');
  });

  it('emits each part as soon as it is full, and the segment when the next keyframe arrives', () => {
    const out = segment(VIDEO.fragments, { timescale: 15360, kind: 'video' }, false);
    // Fragment 14 completes part 0 (15 × 1/30 s); fragment 60, the keyframe, closes segment 0.
    expect(out.perPush.flatMap((e, i) => (e ? [`${i}:${e}`] : []))).toEqual(['14:p', '29:p', '44:p', '59:p', '60:s', '74:p', '89:p']);
    expect(out.segmenter.nextPartPosition).toEqual({ msn: 1, partIndex: 2 });
    // After the fragment that ends on the grid point, the preload hint goes to the next segment's part 0.
    expect(segment(VIDEO.fragments.slice(0, 60), { timescale: 15360, kind: 'video' }, false).segmenter.nextPartPosition).toEqual({ msn: 1, partIndex: 0 });
    expect(segment(VIDEO.fragments.slice(0, 50), { timescale: 15360, kind: 'video' }, false).segmenter.nextPartPosition).toEqual({ msn: 0, partIndex: 3 });
  });

  it('cuts audio at the AAC frame nearest each 2 s grid point, in parts no longer than the target', async () => {
    const out = segment(AUDIO.fragments, { timescale: 48000, kind: 'audio' });
    checkInvariants(out, AUDIO.fragments, 0.5);
    // 94 × 1024 = 96256 ticks (2.0053 s): the frame starting at 2.0053 s is nearer 2 s than the one at 1.984 s.
    expect(out.segments.map((s) => s.startDecodeTime)).toEqual([0, 96256]);
    expect(out.parts[0].durationTicks).toBe(23 * 1024);
    await expect(JSON.stringify(summary(out), null, 2) + '\n').toMatchFileSnapshot('./__fixtures__/audio-segments.golden.json');
  });

  it('keeps audio and video segment boundaries within half an AAC frame of each other', () => {
    const video = segment(VIDEO.fragments, { timescale: 15360, kind: 'video' }).segments.map((s) => s.startDecodeTime / 15360);
    const audio = segment(AUDIO.fragments, { timescale: 48000, kind: 'audio' }).segments.map((s) => s.startDecodeTime / 48000);
    expect(audio).toHaveLength(video.length);
    audio.forEach((t, i) => expect(Math.abs(t - video[i])).toBeLessThanOrEqual(512 / 48000 + 1e-9));
  });

  it('produces segments ffprobe decodes: init + segment has 60 frames starting with a keyframe', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cmaf-'));
    try {
      const out = segment(VIDEO.fragments, { timescale: 15360, kind: 'video' });
      const file = join(dir, 'seg0.mp4');
      await writeFile(file, Buffer.concat([VIDEO.init.bytes, out.segments[0].bytes]));
      const { stdout } = await run('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'packet=pts_time,flags', '-of', 'csv=p=0', file]);
      const packets = stdout.trim().split('\n');
      expect(packets).toHaveLength(60);
      expect(packets[0]).toMatch(/^0\.000000,K/);
      expect(packets.slice(1).every((p) => !p.includes('K'))).toBe(true);

      const part = join(dir, 'part.mp4');
      const audio = segment(AUDIO.fragments, { timescale: 48000, kind: 'audio' });
      await writeFile(part, Buffer.concat([AUDIO.init.bytes, audio.parts[1].bytes]));
      const probe = await run('ffprobe', ['-v', 'error', '-show_entries', 'packet=pts', '-of', 'csv=p=0', part]);
      expect(probe.stdout.trim().split('\n').map(Number)).toEqual(Array.from({ length: 23 }, (_, i) => (23 + i) * 1024));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('CmafSegmenter timing rules', () => {
  it('29.97 fps: parts of 14 frames, a short last part, segments of 60 frames', () => {
    const f = frames(180, () => 1001, (i) => i % 60 === 0);
    const out = segment(f, { timescale: 30000, kind: 'video' });
    checkInvariants(out, f, 0.5);
    expect(out.segments.map((s) => s.durationTicks / 1001)).toEqual([60, 60, 60]);
    expect(out.segments[0].parts.map((p) => Math.round(p.duration * 30000) / 1001)).toEqual([14, 14, 14, 14, 4]);
  });

  it('millisecond timestamps with RTMP jitter (33/34 ms frames) still cut on the 2 s keyframes', () => {
    const duration = (i: number) => (i % 3 === 2 ? 34 : 33);
    const f = frames(300, duration, (_i, t) => t % 2000 < 34 && (t === 0 || Math.floor(t / 2000) !== Math.floor((t - 33) / 2000)));
    const out = segment(f, { timescale: 1000, kind: 'video' });
    checkInvariants(out, f, 0.5);
    expect(out.segments.slice(0, -1).every((s) => Math.abs(s.duration - 2) < 0.04)).toBe(true);
  });

  it('GOPs longer than the target: segments end at the first keyframe after each grid point', () => {
    const f = frames(300, () => 512, (i) => i % 75 === 0); // keyframe every 2.5 s
    const out = segment(f, { timescale: 15360, kind: 'video' });
    checkInvariants(out, f, 0.5);
    expect(out.segments.map((s) => s.duration)).toEqual([2.5, 2.5, 2.5, 2.5]);
  });

  it('a fragment longer than the part target becomes a part of its own', () => {
    const f = frames(4, () => 9000, () => true);
    const out = segment(f, { timescale: 10000, kind: 'audio', partTargetSeconds: 0.5, segmentTargetSeconds: 2 });
    expect(out.parts.map((p) => p.durationTicks)).toEqual([9000, 9000, 9000, 9000]);
    expect(out.segments.map((s) => s.durationTicks)).toEqual([18000, 18000]);
  });

  it('drops video before the first keyframe', () => {
    const f = frames(40, () => 512, (i) => i === 10);
    const out = segment(f, { timescale: 15360, kind: 'video' });
    expect(out.segmenter.droppedFragments).toBe(10);
    expect(out.segments[0].startDecodeTime).toBe(10 * 512);
    expect(out.parts[0].independent).toBe(true);
  });

  it('stamps program date time from the wall-clock anchor', () => {
    const f = frames(90, () => 512, (i) => i % 60 === 0, 15360 * 10);
    const anchor = { decodeTime: 15360 * 10, wallClockMs: Date.UTC(2024, 0, 1) };
    const out = segment(f, { timescale: 15360, kind: 'video', anchor });
    expect(out.segments.map((s) => new Date(s.programDateTimeMs!).toISOString())).toEqual(['2024-01-01T00:00:00.000Z', '2024-01-01T00:00:02.000Z']);
    expect(out.parts[1].programDateTimeMs).toBe(anchor.wallClockMs + 500);
  });

  it('discontinuity(): closes the segment, keeps counting msn, marks the next segment and its parts', () => {
    const first = frames(45, () => 512, (i) => i % 60 === 0, 100_000);
    const second = frames(60, () => 512, (i) => i % 60 === 0, 0);
    const segmenter = new CmafSegmenter({ timescale: 15360, kind: 'video', firstMsn: 7 });
    const segments: CmafSegment[] = [];
    const parts: CmafPart[] = [];
    segmenter.on('segment', (s) => segments.push(s));
    segmenter.on('part', (p) => parts.push(p));
    first.forEach((f) => segmenter.push(f));
    segmenter.discontinuity({ anchor: { decodeTime: 0, wallClockMs: 5000 } });
    second.forEach((f) => segmenter.push(f));
    segmenter.flush();
    expect(segments.map((s) => [s.msn, s.duration, s.discontinuity, s.startDecodeTime])).toEqual([
      [7, 1.5, false, 100_000],
      [8, 2, true, 0],
    ]);
    expect(parts.filter((p) => p.msn === 8).every((p) => p.discontinuity)).toBe(true);
    expect(segments[1].programDateTimeMs).toBe(5000);
  });

  it('treats an unannounced jump backwards as a discontinuity and keeps PDT continuous', () => {
    const first = frames(30, () => 512, (i) => i === 0, 50_000);
    const second = frames(30, () => 512, (i) => i === 0, 0);
    const out = segment([...first, ...second], { timescale: 15360, kind: 'video', anchor: { decodeTime: 50_000, wallClockMs: 1_000_000 } });
    expect(out.segments.map((s) => [s.msn, s.discontinuity, s.programDateTimeMs])).toEqual([
      [0, false, 1_000_000],
      [1, true, 1_001_000],
    ]);
  });

  it('rejects impossible configurations', () => {
    expect(() => new CmafSegmenter({ timescale: 0, kind: 'video' })).toThrow(RangeError);
    expect(() => new CmafSegmenter({ timescale: 1000, kind: 'video', partTargetSeconds: 3, segmentTargetSeconds: 2 })).toThrow(RangeError);
  });

  it('cuts a copied source on its own keyframes without short parts mid-segment, and bounds a GOP longer than the target duration', () => {
    const ts = 90000;
    const frame = 3600; // 25 fps: parts of 8 frames do not divide a 2 s grid step
    // An OBS-like source: a keyframe every 8 s (200 frames), then one 13 s GOP.
    const keyAt = new Set([0, 200, 400, 600, 925]);
    const input = frames(1000, () => frame, (i) => keyAt.has(i));
    const partTarget = 1 / 3;
    const out = segment(input, { timescale: ts, kind: 'video', partTargetSeconds: partTarget, segmentTargetSeconds: 2, keyframesOnGrid: false, maxSegmentSeconds: 10.49 });
    const durations = out.segments.map((x) => x.duration);
    expect(durations.slice(0, 3)).toEqual([8, 8, 8]);
    // The 13 s GOP is cut at 10.49 s without a keyframe: the part that starts there is not independent.
    expect(Math.max(...durations)).toBeLessThanOrEqual(10.49);
    const cut = out.parts.find((p) => p.msn === out.segments[3].msn + 1 && p.partIndex === 0)!;
    expect(cut.independent).toBe(false);
    // §4.4.4.9: every part but a segment's last is at least 85% of PART-TARGET.
    for (const seg of out.segments) {
      const parts = out.parts.filter((p) => p.msn === seg.msn);
      for (const p of parts.slice(0, -1)) expect(p.duration).toBeGreaterThanOrEqual(0.85 * partTarget - 1e-9);
    }
    // The same source with the grid guess (as for the ladder) leaves short parts where no keyframe came.
    const guessed = segment(input, { timescale: ts, kind: 'video', partTargetSeconds: partTarget, segmentTargetSeconds: 2 });
    const short = guessed.segments.some((seg) => guessed.parts.filter((p) => p.msn === seg.msn).slice(0, -1).some((p) => p.duration < 0.85 * partTarget - 1e-9));
    expect(short).toBe(true);
  });
});
