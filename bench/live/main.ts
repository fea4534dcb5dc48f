/**
 * CLI of the live benchmarks: `node dist/bench/run.js live|latency|player|ladder` (after
 * `npm run build`). Prints progress on stderr and a Markdown report on stdout, and writes the full
 * result as JSON to bench/results/live-<timestamp>.json (under the current directory).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../platform/index.js';
import { runLadderBench } from './ladder-bench.js';
import { runLiveBench } from './live-bench.js';
import { formatLiveReport, type LiveRunResult } from './report.js';

/** Live scenario names; `live` means all three. */
export const LIVE_SCENARIOS = ['latency', 'player', 'ladder'] as const;
/** One live scenario. */
export type LiveScenario = (typeof LIVE_SCENARIOS)[number];

/** The scenarios named in `args` (`live` or none = all). */
export function liveScenarios(args: readonly string[]): LiveScenario[] {
  const named = args.filter((a): a is LiveScenario => (LIVE_SCENARIOS as readonly string[]).includes(a));
  return named.length && !args.includes('live') ? named : [...LIVE_SCENARIOS];
}

/** A non-negative number from the environment, or `def`. */
function num(env: NodeJS.ProcessEnv, name: string, def: number): number {
  const v = env[name];
  if (v === undefined || v === '') return def;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new Error(`${name} must be a non-negative number, got "${v}"`);
  return n;
}

/** First line of `cmd --version`-style output, or 'unknown'. */
function versionOf(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', timeout: 10_000, stdio: ['ignore', 'pipe', 'ignore'] }).split('\n')[0].trim();
  } catch {
    return `${cmd}: unknown`;
  }
}

/** How this run was invoked, with the BENCH_/LIVE_ variables that changed it. */
function commandLine(env: NodeJS.ProcessEnv, args: readonly string[]): string {
  const vars = Object.keys(env).filter((k) => /^(BENCH_|LIVE_)/.test(k)).sort().map((k) => `${k}=${env[k]} `).join('');
  const cmd = env.npm_lifecycle_event === 'bench' ? `npm run bench${args.length ? ` -- ${args.join(' ')}` : ''}` : `node dist/bench/run.js ${args.join(' ')}`.trim();
  return vars + cmd;
}

/**
 * Runs the named live scenarios, prints the report, writes the JSON; returns the result. Knobs:
 * BENCH_LIVE_WARMUP (s, default 6), BENCH_LIVE_FOLLOW (s, 40), BENCH_PLAYER_SECONDS (20),
 * BENCH_LADDER_MEDIA (s of media, 30), BENCH_LADDER_RUNS (3); LIVE_LADDER, LIVE_X264_PRESET,
 * LIVE_PART_TARGET and LIVE_SEGMENT_SECONDS as for the platform (defaults: the platform's).
 */
export async function runLiveBenchCli(env: NodeJS.ProcessEnv = process.env, args: string[] = process.argv.slice(2)): Promise<LiveRunResult> {
  const log = (line: string) => console.error(line);
  const scenarios = liveScenarios(args);
  // The platform's own defaults, with only the LIVE_* overrides an operator set.
  const liveEnv = Object.fromEntries(Object.entries(env).filter(([k]) => /^LIVE_(LADDER|X264_PRESET|PART_TARGET|SEGMENT_SECONDS)$/.test(k))) as Record<string, string>;
  const live = loadConfig({ NODE_ENV: 'test', ...liveEnv }).live;
  const result: LiveRunResult = {
    startedAt: new Date().toISOString(),
    finishedAt: '',
    command: commandLine(env, args),
    machine: {
      cpus: `${os.cpus().length} × ${os.cpus()[0]?.model.trim() ?? 'cpu'}`,
      node: process.version,
      ffmpeg: versionOf('ffmpeg', ['-version']).replace(/ Copyright.*/, ''),
      chromium: versionOf(env.CHROMIUM_PATH ?? '/usr/bin/chromium', ['--version']),
      loadAtStart: os.loadavg(),
      loadAtEnd: [],
    },
  };
  log(`bench: live scenarios ${scenarios.join(', ')}; load avg ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  if (scenarios.includes('latency') || scenarios.includes('player')) {
    result.live = await runLiveBench({
      measure: { partListing: scenarios.includes('latency'), player: scenarios.includes('player') },
      ladder: live.ladder,
      x264Preset: live.x264Preset,
      partTarget: live.partTargetSeconds,
      segmentSeconds: live.segmentSeconds,
      warmupSeconds: num(env, 'BENCH_LIVE_WARMUP', 6),
      followSeconds: num(env, 'BENCH_LIVE_FOLLOW', 40),
      playerSeconds: num(env, 'BENCH_PLAYER_SECONDS', 20),
      publish: { width: 1280, height: 720, fps: 30, gopSeconds: 2 },
      log,
    });
  }
  if (scenarios.includes('ladder')) {
    log('bench: ladder vs plain FFmpeg');
    result.ladder = await runLadderBench({
      rungs: live.ladder,
      x264Preset: live.x264Preset,
      mediaSeconds: num(env, 'BENCH_LADDER_MEDIA', 30),
      width: 1280,
      height: 720,
      fps: 30,
      partTarget: live.partTargetSeconds,
      segmentSeconds: live.segmentSeconds,
      runs: Math.max(1, num(env, 'BENCH_LADDER_RUNS', 3)),
      log,
    });
  }
  result.finishedAt = new Date().toISOString();
  result.machine.loadAtEnd = os.loadavg();
  console.log(formatLiveReport(result));
  const dir = path.resolve('bench', 'results');
  await fs.mkdir(dir, { recursive: true });
  const file = path.join(dir, `live-${result.startedAt.replace(/[:.]/g, '-')}.json`);
  await fs.writeFile(file, JSON.stringify(result, null, 2) + '\n');
  log(`bench: wrote ${path.relative(process.cwd(), file)}`);
  return result;
}
