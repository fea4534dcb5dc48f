/**
 * Edge cache vs nginx, in one run, same origin, same objects, same load tools (issue "edge benchmarks"):
 * cache-hit throughput and p99 for a playlist, a part and a segment (wrk); 1000 concurrent cold
 * requests (upstream fetches, waiter latency); release time of 1000 blocked playlist requests; and
 * simulated LL-HLS viewers on one edge process. The origin, the edge and nginx each run in a process of
 * their own; ratios are against nginx measured in the same run. See bench/edge-bench.md.
 */
import os from 'node:os';
import { BENCH_ORIGIN_DEFAULTS, BENCH_PATHS, type BenchOriginOptions } from './bench-origin.js';
import { startNodeChild, type Child } from './children.js';
import { NginxProcess } from './nginx-process.js';
import { evaluateTargets, type TargetCheck } from './report.js';
import { blockedBurst, checkCached, coldBurst, hitRun, OriginControl, type BurstResult, type HitRun, type ReleaseResult, type Target } from './scenarios.js';
import { ensureTool, toolVersion } from './tools.js';
import { runViewerStep, type ViewerStepResult } from './viewer-bench.js';

/** The scenarios, by name (`only` picks a subset). */
export type Scenario = 'hits' | 'cold' | 'blocked' | 'viewers';

/** Knobs of a run (main.ts maps BENCH_* environment variables onto these). */
export interface EdgeBenchOptions {
  /** Measured seconds per wrk run; default 10. */
  seconds: number;
  /** Warm-up seconds before each measured wrk run; default 3. */
  warmSeconds: number;
  /** wrk connections and threads (same for both caches); default 64 and 1. */
  connections: number;
  threads: number;
  /** nginx worker_processes; default 1 (against one Node process). */
  nginxWorkers: number | 'auto';
  /** Concurrent cold requests per burst; default 1000. */
  coldRequests: number;
  /** Origin delays of the cold object, one burst each; the first is judged against the target. */
  coldDelaysMs: number[];
  /** Concurrent blocked playlist requests; default 1000. */
  blockedRequests: number;
  /**
   * How long the origin holds them before the release; default 1250. Not a multiple of 500 ms: nginx's
   * lock waiters re-check every 500 ms from their arrival, and a release on that beat would flatter it.
   */
  blockedHoldMs: number;
  /** Viewer counts to step through on the edge; default 500, 1000, 2000, 3000. */
  viewerSteps: number[];
  /** Measured seconds per viewer step; default 10. */
  viewerSeconds: number;
  /** Worker threads simulating viewers; default 2. */
  viewerWorkers: number;
  /** Also run the viewer steps through nginx (reference only; off by default). */
  viewersThroughNginx: boolean;
  /** Scenarios to run; default all. */
  only: Scenario[];
  origin: Partial<BenchOriginOptions>;
  /** Extra Node flags for the edge process (e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof` to profile it). */
  edgeNodeArgs: string[];
  /** Progress lines. */
  log: (line: string) => void;
}

/** Defaults of EdgeBenchOptions. */
export const EDGE_BENCH_DEFAULTS: EdgeBenchOptions = {
  seconds: 10,
  warmSeconds: 3,
  connections: 64,
  threads: 1,
  nginxWorkers: 1,
  coldRequests: 1000,
  coldDelaysMs: [50, 200],
  blockedRequests: 1000,
  blockedHoldMs: 1250,
  viewerSteps: [500, 1000, 2000, 3000],
  viewerSeconds: 10,
  viewerWorkers: 2,
  viewersThroughNginx: false,
  only: ['hits', 'cold', 'blocked', 'viewers'],
  origin: {},
  edgeNodeArgs: [],
  log: () => {},
};

/** One object of the hit test: both caches' wrk runs and the ratios. */
export interface HitRow {
  object: 'playlist' | 'part' | 'segment';
  path: string;
  bytes: number;
  edge: HitRun;
  nginx: HitRun;
  /** edge rps / nginx rps, and edge p99 / nginx p99. */
  rpsRatio: number;
  p99Ratio: number;
}

/** One cold burst on both caches. */
export interface ColdRow {
  delayMs: number;
  bytes: number;
  edge: BurstResult;
  nginx: BurstResult;
  /** edge waiter p50 / nginx waiter p50. */
  p50Ratio: number;
}

/** Everything a run measured, plus what it ran on. */
export interface EdgeBenchResult {
  startedAt: string;
  finishedAt: string;
  machine: { cpus: number; cpuModel: string; loadAvgStart: number[]; loadAvgEnd: number[]; node: string; nginx: string; wrk: string };
  settings: Omit<EdgeBenchOptions, 'log'> & { origin: BenchOriginOptions };
  hits: HitRow[];
  cold: ColdRow[];
  blocked?: { requests: number; holdMs: number; edge: ReleaseResult; nginx: ReleaseResult };
  viewers: ViewerStepResult[];
  targets: TargetCheck[];
}

/** Runs the benchmark: starts origin, edge and nginx, runs the chosen scenarios, stops everything. */
export async function runEdgeBench(opts: Partial<EdgeBenchOptions> = {}): Promise<EdgeBenchResult> {
  const o: EdgeBenchOptions = { ...EDGE_BENCH_DEFAULTS, ...opts };
  const originOpts: BenchOriginOptions = { ...BENCH_ORIGIN_DEFAULTS, ...o.origin };
  const log = o.log;
  const nginxBin = ensureTool('nginx', 'nginx', log);
  const wrkBin = o.only.includes('hits') ? ensureTool('wrk', 'wrk', log) : undefined;
  const startedAt = new Date().toISOString();
  const loadAvgStart = os.loadavg();

  let origin: Child | undefined;
  let edge: Child | undefined;
  let nginx: NginxProcess | undefined;
  let control: OriginControl | undefined;
  try {
    origin = await startNodeChild('./origin-launcher.js', originOpts);
    edge = await startNodeChild('./edge-launcher.js', {
      port: 0,
      bindHost: '127.0.0.1',
      originUrls: [`http://127.0.0.1:${origin.port}`],
      cacheBytes: 1024 * 1024 * 1024,
    }, o.edgeNodeArgs);
    nginx = new NginxProcess({ binary: nginxBin, originPort: origin.port, workers: o.nginxWorkers, cacheMaxMiB: 2048 });
    await nginx.start();
    control = new OriginControl(origin.port);
    await control.connect();
    log(`bench: origin :${origin.port}, edge :${edge.port} (pid ${edge.pid}), nginx :${nginx.port} (${o.nginxWorkers} worker(s))`);
    const edgeChild = edge;
    const nginxProc = nginx;
    const targets: Record<Target['name'], Target> = {
      edge: { name: 'edge', port: edgeChild.port, cacheHeader: 'x-cache', pids: () => [edgeChild.pid] },
      nginx: { name: 'nginx', port: nginxProc.port, cacheHeader: 'x-cache-status', pids: () => nginxProc.pids() },
    };

    const hits: HitRow[] = [];
    if (o.only.includes('hits')) {
      const objects = [
        { object: 'playlist', path: BENCH_PATHS.playlist, bytes: originOpts.playlistBytes },
        { object: 'part', path: BENCH_PATHS.part, bytes: originOpts.partBytes },
        { object: 'segment', path: BENCH_PATHS.segment, bytes: originOpts.segmentBytes },
      ] as const;
      for (const obj of objects) {
        const runs: Partial<Record<Target['name'], HitRun>> = {};
        for (const t of [targets.edge, targets.nginx]) {
          await checkCached(t, obj.path, obj.bytes);
          runs[t.name] = await hitRun(t, obj.path, { binary: wrkBin!, threads: o.threads, connections: o.connections }, o.warmSeconds, o.seconds);
          log(`bench: hits ${obj.object} ${t.name}: ${Math.round(runs[t.name]!.rps)} rps, p99 ${runs[t.name]!.latencyMs.p99.toFixed(2)} ms`);
        }
        const e = runs.edge!;
        const n = runs.nginx!;
        hits.push({ ...obj, edge: e, nginx: n, rpsRatio: e.rps / n.rps, p99Ratio: e.latencyMs.p99 / n.latencyMs.p99 });
      }
    }

    const cold: ColdRow[] = [];
    if (o.only.includes('cold')) {
      let n = Date.now();
      for (const delayMs of o.coldDelaysMs) {
        const e = await coldBurst(targets.edge, control, o.coldRequests, BENCH_PATHS.cold(n++, delayMs), originOpts.coldBytes);
        const g = await coldBurst(targets.nginx, control, o.coldRequests, BENCH_PATHS.cold(n++, delayMs), originOpts.coldBytes);
        cold.push({ delayMs, bytes: originOpts.coldBytes, edge: e, nginx: g, p50Ratio: e.latencyMs.p50 / g.latencyMs.p50 });
        log(`bench: cold ${delayMs} ms: edge ${e.upstreamFetches} fetch(es), p50 ${e.latencyMs.p50.toFixed(1)} ms; nginx ${g.upstreamFetches}, p50 ${g.latencyMs.p50.toFixed(1)} ms`);
      }
    }

    let blocked: EdgeBenchResult['blocked'];
    if (o.only.includes('blocked')) {
      const msn = Date.now() % 1e9;
      const e = await blockedBurst(targets.edge, control, o.blockedRequests, msn, o.blockedHoldMs);
      const g = await blockedBurst(targets.nginx, control, o.blockedRequests, msn + 1, o.blockedHoldMs);
      blocked = { requests: o.blockedRequests, holdMs: o.blockedHoldMs, edge: e, nginx: g };
      log(`bench: blocked release: edge last ${e.afterReleaseMs.max.toFixed(1)} ms, nginx last ${g.afterReleaseMs.max.toFixed(1)} ms`);
    }

    const viewers: ViewerStepResult[] = [];
    if (o.only.includes('viewers')) {
      for (const t of o.viewersThroughNginx ? [targets.edge, targets.nginx] : [targets.edge]) {
        for (const count of o.viewerSteps) {
          const step = await runViewerStep(t, {
            viewers: count,
            workers: o.viewerWorkers,
            spreadMs: 1000,
            warmMs: 2000,
            measureMs: o.viewerSeconds * 1000,
            partMs: originOpts.partMs,
            partsPerSegment: originOpts.partsPerSegment,
            simPartBytes: originOpts.simPartBytes,
          });
          viewers.push(step);
          log(`bench: viewers ${t.name} ${count}: keep-up ${(step.keepUp * 100).toFixed(1)}%, part p99 ${step.partMs.p99.toFixed(1)} ms, errors ${step.errors}`);
          // Past a clear collapse, bigger steps only add noise and time.
          if (step.keepUp < 0.5 || step.partMs.p99 > 2000) break;
        }
      }
    }

    const result: EdgeBenchResult = {
      startedAt,
      finishedAt: new Date().toISOString(),
      machine: {
        cpus: os.cpus().length,
        cpuModel: os.cpus()[0]?.model ?? 'unknown',
        loadAvgStart,
        loadAvgEnd: os.loadavg(),
        node: process.version,
        nginx: toolVersion(nginxBin, ['-v']),
        wrk: wrkBin ? toolVersion(wrkBin, ['-v']) : 'not used',
      },
      settings: { ...withoutLog(o), origin: originOpts },
      hits,
      cold,
      blocked,
      viewers,
      targets: [],
    };
    result.targets = evaluateTargets(result);
    return result;
  } finally {
    control?.close();
    await Promise.allSettled([edge?.stop(), nginx?.close()]);
    await origin?.stop();
  }
}

function withoutLog(o: EdgeBenchOptions): Omit<EdgeBenchOptions, 'log'> {
  const { log: _log, ...rest } = o;
  return rest;
}
