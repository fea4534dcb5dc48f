/**
 * Ladder throughput: the packager's one-process FFmpeg ladder (fMP4 on pipes, every output parsed and
 * cut into CMAF parts and segments in Node) against a plain FFmpeg command that encodes the same
 * renditions (same filter graph, x264 settings, bitrates and AAC) to ordinary MP4 files. The input is
 * a lavfi test pattern read as fast as it can be encoded (no `-re`), so wall time is encoding cost.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createLogger, type Rung } from '../../platform/index.js';
// The ladder process and the CMAF parser/segmenter are packager internals not (yet) re-exported by
// packager/index.ts; the bench measures exactly the code the live pipeline runs.
import { CmafSegmenter, Fmp4StreamParser, ffmpegLadderArgs, LadderProcess, type LadderOutput } from '../../packager/index.js';
import { summarize, type Summary } from './playlist-timing.js';

/** What to encode. */
export interface LadderBenchOptions {
  rungs: Rung[];
  x264Preset: string;
  /** Media seconds of test pattern. */
  mediaSeconds: number;
  width: number;
  height: number;
  fps: number;
  partTarget: number;
  segmentSeconds: number;
  /** Runs of each command, alternating plain/ladder. */
  runs: number;
  log?: (line: string) => void;
}

/** One timed run. */
export interface TimedRun {
  /** ladder: the packager command with every output parsed and segmented; pipes: the same command, pipes read and dropped; plain: the reference. */
  kind: 'ladder' | 'pipes' | 'plain';
  wallMs: number;
  exitCode: number | null;
  /** Per output: what came out (ladder: CMAF parts/segments; plain: file bytes). */
  outputs: { name: string; bytes: number; parts?: number; segments?: number; mediaSeconds?: number }[];
  /** Node CPU spent in the fMP4 parser and CMAF segmenter (ladder only), ms. */
  nodeCpuMs?: number;
}

/** Result of the ladder benchmark. */
export interface LadderBenchResult {
  options: Omit<LadderBenchOptions, 'log'>;
  ladderArgs: string[];
  plainArgs: string[];
  runs: TimedRun[];
  ladderWallMs: Summary;
  plainWallMs: Summary;
  /** Context: the ladder command with its pipes drained but not parsed (FFmpeg's fMP4 cost without Node's). */
  pipesWallMs: Summary;
  /** Best ladder wall / best plain wall. */
  ratio: number;
  /** Media seconds / best ladder wall seconds. */
  realTimeFactor: number;
  plainRealTimeFactor: number;
}

/** fMP4-for-pipes muxer options that a plain file output does not use (each takes one value). */
const PIPE_ONLY_OPTIONS = new Set(['-movflags', '-flush_packets', '-muxdelay', '-progress', '-stats_period']);

/** The ladder argv without real-time input pacing: `-re` removed. Pure. */
export function unpaced(args: readonly string[]): string[] {
  return args.filter((a) => a !== '-re');
}

/**
 * The plain reference command derived from the ladder's argv: identical input, filter graph and
 * encoder options; each `pipe:<fd>` output becomes `<dir>/<name>.mp4` (a regular MP4, moov at the end)
 * and the fragmenting/flushing muxer options and progress reporting are dropped. Pure.
 */
export function plainReferenceArgs(args: readonly string[], outputs: readonly LadderOutput[], dir: string): string[] {
  const byPipe = new Map(outputs.map((o) => [`pipe:${o.fd}`, path.join(dir, `${o.name}.mp4`)]));
  const out: string[] = ['-y'];
  for (let i = 0; i < args.length; i++) {
    if (PIPE_ONLY_OPTIONS.has(args[i])) {
      i++;
      continue;
    }
    out.push(byPipe.get(args[i]) ?? args[i]);
  }
  return out;
}

/** The ladder command for a lavfi pattern, unpaced, as the packager builds it. */
export function benchLadderArgs(o: Omit<LadderBenchOptions, 'runs' | 'log'>): { args: string[]; outputs: LadderOutput[] } {
  const built = ffmpegLadderArgs({
    input: {
      kind: 'lavfi',
      video: `testsrc2=size=${o.width}x${o.height}:rate=${o.fps}`,
      audio: 'sine=frequency=440:sample_rate=48000',
      durationSeconds: o.mediaSeconds,
    },
    source: { width: o.width, height: o.height, fps: o.fps, hasAudio: true, audioCodec: 'pcm_s16le' },
    rungs: o.rungs,
    segmentSeconds: o.segmentSeconds,
    x264Preset: o.x264Preset,
    logLevel: 'error',
  });
  return { args: unpaced(built.args), outputs: built.outputs };
}

/** Runs the ladder through LadderProcess with every output parsed and segmented, as the live pipeline does. */
async function runLadder(args: string[], outputs: LadderOutput[], o: LadderBenchOptions, parse = true): Promise<TimedRun> {
  const logger = createLogger('silent');
  const stats = new Map(outputs.map((out) => [out.name, { name: out.name, bytes: 0, parts: 0, segments: 0, mediaSeconds: 0 }]));
  const parsers = new Map<string, Fmp4StreamParser>();
  const segmenters = new Map<string, CmafSegmenter>();
  let nodeCpuUs = 0;
  const timed = (fn: () => void) => {
    const c = process.cpuUsage();
    fn();
    const d = process.cpuUsage(c);
    nodeCpuUs += d.user + d.system;
  };
  for (const out of outputs) {
    const s = stats.get(out.name)!;
    const parser = new Fmp4StreamParser();
    parser.on('init', ({ track }) => {
      const seg = new CmafSegmenter({ timescale: track.timescale, kind: track.kind, partTargetSeconds: o.partTarget, segmentTargetSeconds: o.segmentSeconds });
      seg.on('part', (p) => {
        s.parts++;
        s.bytes += p.bytes.length;
      });
      seg.on('segment', (g) => {
        s.segments++;
        s.mediaSeconds += g.duration;
      });
      segmenters.set(out.name, seg);
    });
    parser.on('fragment', (f) => segmenters.get(out.name)?.push(f));
    parsers.set(out.name, parser);
  }
  const proc = new LadderProcess({ logger }, { ffmpegPath: 'ffmpeg', args, outputs });
  if (parse) proc.on('data', (name, chunk) => timed(() => parsers.get(name)?.push(chunk)));
  const t0 = performance.now();
  proc.start();
  const exit = await proc.exited;
  timed(() => segmenters.forEach((s) => s.flush()));
  const wallMs = performance.now() - t0;
  if (exit.code !== 0) o.log?.(`bench: ladder ffmpeg exited ${exit.code}: ${exit.stderrTail}`);
  if (!parse) return { kind: 'pipes', wallMs, exitCode: exit.code, outputs: [] };
  return { kind: 'ladder', wallMs, exitCode: exit.code, outputs: [...stats.values()], nodeCpuMs: nodeCpuUs / 1000 };
}

/** Runs the plain reference command into `dir`. */
async function runPlain(args: string[], outputs: LadderOutput[], dir: string, o: LadderBenchOptions): Promise<TimedRun> {
  const t0 = performance.now();
  const child = spawn('ffmpeg', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (d: string) => (err = (err + d).slice(-2000)));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  const wallMs = performance.now() - t0;
  if (code !== 0) o.log?.(`bench: plain ffmpeg exited ${code}: ${err}`);
  const files = outputs.map((out) => {
    const file = path.join(dir, `${out.name}.mp4`);
    return { name: out.name, bytes: fs.existsSync(file) ? fs.statSync(file).size : 0 };
  });
  for (const f of fs.readdirSync(dir)) fs.rmSync(path.join(dir, f), { force: true });
  return { kind: 'plain', wallMs, exitCode: code, outputs: files };
}

/**
 * Rounds of plain, ladder and pipes-only runs; ratios use the best run of each (the least disturbed by
 * other load on a shared machine).
 */
export async function runLadderBench(o: LadderBenchOptions): Promise<LadderBenchResult> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sf-bench-ladder-'));
  try {
    const { args, outputs } = benchLadderArgs(o);
    const plainArgs = plainReferenceArgs(args, outputs, dir);
    const runs: TimedRun[] = [];
    for (let i = 0; i < o.runs; i++) {
      for (const kind of ['plain', 'ladder', 'pipes'] as const) {
        const run = kind === 'plain' ? await runPlain(plainArgs, outputs, dir, o) : await runLadder(args, outputs, o, kind === 'ladder');
        o.log?.(`bench: ladder run ${i + 1}/${o.runs} ${kind}: ${(run.wallMs / 1000).toFixed(2)} s (exit ${run.exitCode})`);
        runs.push(run);
      }
    }
    const ok = (k: TimedRun['kind']) => runs.filter((r) => r.kind === k && r.exitCode === 0).map((r) => r.wallMs);
    const ladderWallMs = summarize(ok('ladder'));
    const plainWallMs = summarize(ok('plain'));
    const pipesWallMs = summarize(ok('pipes'));
    const { log: _log, ...options } = o;
    return {
      options,
      ladderArgs: args,
      plainArgs: plainArgs.map((a) => a.replace(dir, '<tmp>')),
      runs,
      ladderWallMs,
      plainWallMs,
      pipesWallMs,
      ratio: ladderWallMs.min / plainWallMs.min,
      realTimeFactor: o.mediaSeconds / (ladderWallMs.min / 1000),
      plainRealTimeFactor: o.mediaSeconds / (plainWallMs.min / 1000),
    };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
