import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { benchLadderArgs, plainReferenceArgs, runLadderBench, unpaced } from './ladder-bench.js';

const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), '__fixtures__');

/** Golden check; UPDATE_GOLDEN=1 rewrites the file. */
function golden(name: string, value: unknown): void {
  const file = path.join(FIXTURES, name);
  const text = JSON.stringify(value, null, 2) + '\n';
  if (process.env.UPDATE_GOLDEN === '1' || !fs.existsSync(file)) fs.writeFileSync(file, text);
  expect(text).toBe(fs.readFileSync(file, 'utf8'));
}

const OPTS = {
  rungs: [
    { name: '720p', height: 720, videoBitrateKbps: 2800 },
    { name: '360p', height: 360, videoBitrateKbps: 800 },
  ],
  x264Preset: 'veryfast',
  mediaSeconds: 30,
  width: 1280,
  height: 720,
  fps: 30,
  partTarget: 0.5,
  segmentSeconds: 2,
};

describe('plainReferenceArgs', () => {
  it('turns each fMP4 pipe output into a plain MP4 file and drops the fragmenting and progress options (golden)', () => {
    const ladder = [
      '-hide_banner', '-nostats', '-progress', 'pipe:2', '-stats_period', '1',
      '-f', 'lavfi', '-t', '30', '-i', 'testsrc2=size=1280x720:rate=30',
      '-filter_complex', '[0:v:0]fps=30,split=1[v0];[v0]scale=-2:720[out0]',
      '-map', '[out0]', '-c:v', 'libx264', '-preset', 'veryfast', '-b:v', '2800k',
      '-f', 'mp4', '-movflags', 'empty_moov+default_base_moof+frag_every_frame', '-flush_packets', '1', '-muxdelay', '0', '-max_muxing_queue_size', '1024', 'pipe:3',
      '-map', '1:a:0', '-c:a', 'aac', '-b:a', '128k',
      '-f', 'mp4', '-movflags', 'empty_moov+default_base_moof+frag_every_frame', '-flush_packets', '1', '-muxdelay', '0', '-max_muxing_queue_size', '1024', 'pipe:4',
    ];
    const outputs = [
      { name: '720p', kind: 'video' as const, fd: 3 },
      { name: 'audio', kind: 'audio' as const, fd: 4 },
    ];
    golden('plain-reference-args.json', plainReferenceArgs(ladder, outputs, '/tmp/x'));
  });

  it('keeps the packager ladder command identical apart from outputs and muxer flags, and reads its input unpaced', () => {
    const { args, outputs } = benchLadderArgs(OPTS);
    expect(args).not.toContain('-re');
    expect(unpaced(['-re', '-i', 'x', '-re'])).toEqual(['-i', 'x']);
    const plain = plainReferenceArgs(args, outputs, '/tmp/x');
    expect(plain.filter((a) => a.startsWith('pipe:'))).toEqual([]);
    expect(plain.filter((a) => a.endsWith('.mp4'))).toEqual(outputs.map((o) => `/tmp/x/${o.name}.mp4`));
    // Everything but outputs, `-y` and the pipe-only muxer/progress options (flag + value) is the same.
    const encoderArgs = (xs: string[]) => {
      const kept: string[] = [];
      for (let i = 0; i < xs.length; i++) {
        if (['-movflags', '-flush_packets', '-muxdelay', '-progress', '-stats_period'].includes(xs[i])) i++;
        else if (xs[i] !== '-y' && !xs[i].startsWith('pipe:') && !xs[i].endsWith('.mp4')) kept.push(xs[i]);
      }
      return kept;
    };
    expect(encoderArgs(plain)).toEqual(encoderArgs(args));
    expect(encoderArgs(args).length).toBeGreaterThan(50);
    expect(plain[plain.indexOf('-filter_complex') + 1]).toBe(args[args.indexOf('-filter_complex') + 1]);
  });
});

describe('runLadderBench', () => {
  it('times the ladder through the CMAF pipeline and the plain command on one second of a tiny pattern', async () => {
    const r = await runLadderBench({
      ...OPTS,
      rungs: [{ name: '180p', height: 180, videoBitrateKbps: 300 }],
      x264Preset: 'ultrafast',
      mediaSeconds: 1,
      width: 320,
      height: 180,
      runs: 1,
    });
    expect(r.runs.map((x) => [x.kind, x.exitCode])).toEqual([['plain', 0], ['ladder', 0], ['pipes', 0]]);
    expect(r.pipesWallMs.count).toBe(1);
    const ladder = r.runs[1];
    expect(ladder.outputs.map((o) => o.name)).toEqual(['180p', 'audio']);
    for (const o of ladder.outputs) {
      expect(o.parts).toBeGreaterThanOrEqual(2);
      expect(o.segments).toBe(1);
      expect(o.mediaSeconds).toBeCloseTo(1, 1);
    }
    expect(r.runs[0].outputs.every((o) => o.bytes > 0)).toBe(true);
    expect(r.ratio).toBeGreaterThan(0);
    expect(r.realTimeFactor).toBeCloseTo(1 / (r.ladderWallMs.min / 1000), 6);
    expect(r.plainArgs.some((a) => a.startsWith('<tmp>/'))).toBe(true);
  }, 30_000);
});
