/**
 * CLI of the edge benchmark: `node dist/bench/edge/main.js [hits|cold|blocked|viewers ...]` (after
 * `npm run build`). Prints progress and a Markdown report, and writes the full result as JSON to
 * bench/results/edge-<timestamp>.json (under the current directory). Knobs: BENCH_* variables below.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { EDGE_BENCH_DEFAULTS, runEdgeBench, type EdgeBenchOptions, type EdgeBenchResult, type Scenario } from './edge-bench.js';
import { formatEdgeReport } from './report.js';

const SCENARIOS: Scenario[] = ['hits', 'cold', 'blocked', 'viewers'];

/**
 * Options from the environment: BENCH_SECONDS, BENCH_WARM_SECONDS, BENCH_CONNECTIONS, BENCH_THREADS,
 * BENCH_NGINX_WORKERS (1 | N | auto), BENCH_COLD_REQUESTS, BENCH_COLD_DELAYS (ms list),
 * BENCH_BLOCKED_REQUESTS, BENCH_VIEWERS (step list), BENCH_VIEWER_SECONDS, BENCH_VIEWER_WORKERS,
 * BENCH_VIEWERS_NGINX=1, BENCH_ONLY (scenario list), BENCH_EDGE_NODE_ARGS (flags for the edge process,
 * space-separated); scenario names in `args` win over BENCH_ONLY.
 */
export function edgeBenchOptionsFromEnv(env: NodeJS.ProcessEnv, args: string[] = []): Partial<EdgeBenchOptions> {
  const num = (name: string, def: number) => {
    const v = env[name];
    if (v === undefined || v === '') return def;
    const n = Number(v);
    if (!Number.isFinite(n) || n < 0) throw new Error(`${name} must be a non-negative number, got "${v}"`);
    return n;
  };
  const list = (name: string, def: number[]) => (env[name] ? env[name]!.split(',').map((s) => Number(s.trim())).filter((n) => Number.isFinite(n) && n > 0) : def);
  const workers = env.BENCH_NGINX_WORKERS;
  const fromArgs = args.filter((a): a is Scenario => (SCENARIOS as string[]).includes(a));
  const fromEnv = (env.BENCH_ONLY ?? '').split(',').map((s) => s.trim()).filter((a): a is Scenario => (SCENARIOS as string[]).includes(a));
  const d = EDGE_BENCH_DEFAULTS;
  return {
    seconds: num('BENCH_SECONDS', d.seconds),
    warmSeconds: num('BENCH_WARM_SECONDS', d.warmSeconds),
    connections: num('BENCH_CONNECTIONS', d.connections),
    threads: num('BENCH_THREADS', d.threads),
    nginxWorkers: workers === 'auto' ? 'auto' : num('BENCH_NGINX_WORKERS', 1),
    coldRequests: num('BENCH_COLD_REQUESTS', d.coldRequests),
    coldDelaysMs: list('BENCH_COLD_DELAYS', d.coldDelaysMs),
    blockedRequests: num('BENCH_BLOCKED_REQUESTS', d.blockedRequests),
    viewerSteps: list('BENCH_VIEWERS', d.viewerSteps),
    viewerSeconds: num('BENCH_VIEWER_SECONDS', num('BENCH_SECONDS', d.viewerSeconds)),
    viewerWorkers: num('BENCH_VIEWER_WORKERS', d.viewerWorkers),
    viewersThroughNginx: env.BENCH_VIEWERS_NGINX === '1' || env.BENCH_VIEWERS_NGINX === 'true',
    edgeNodeArgs: (env.BENCH_EDGE_NODE_ARGS ?? '').split(' ').filter(Boolean),
    only: fromArgs.length ? fromArgs : fromEnv.length ? fromEnv : d.only,
  };
}

/** Runs the benchmark with options from env/args, prints the report, writes the JSON; returns the result. */
export async function runEdgeBenchCli(env: NodeJS.ProcessEnv = process.env, args: string[] = process.argv.slice(2)): Promise<EdgeBenchResult> {
  const log = (line: string) => console.error(line);
  const result = await runEdgeBench({ ...edgeBenchOptionsFromEnv(env, args), log });
  console.log(formatEdgeReport(result));
  const dir = path.resolve('bench', 'results');
  await fs.mkdir(dir, { recursive: true });
  const file = path.join(dir, `edge-${result.startedAt.replace(/[:.]/g, '-')}.json`);
  await fs.writeFile(file, JSON.stringify(result, null, 2) + '\n');
  console.error(`bench: wrote ${path.relative(process.cwd(), file)}`);
  return result;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  runEdgeBenchCli().then(
    // Missed targets are results, not failures: the exit code only says whether the run worked.
    () => process.exit(0),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
