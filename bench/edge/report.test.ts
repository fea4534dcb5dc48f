import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { BENCH_ORIGIN_DEFAULTS } from './bench-origin.js';
import { EDGE_BENCH_DEFAULTS, type EdgeBenchResult } from './edge-bench.js';
import { edgeBenchOptionsFromEnv } from './main.js';
import { evaluateTargets, formatEdgeReport } from './report.js';
import { summarize } from './stats.js';
import type { ViewerStepResult } from './viewer-bench.js';
import type { WrkResult } from './wrk.js';

const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), '__fixtures__');

function wrk(rps: number, p99: number): WrkResult & { serverCores: number } {
  return {
    requests: rps * 10,
    seconds: 10,
    rps,
    bytesPerSecond: rps * 2048,
    errors: { connect: 0, read: 0, write: 0, status: 0, timeout: 0 },
    latencyMs: { p50: p99 / 4, p90: p99 / 2, p99, max: p99 * 2, mean: p99 / 3 },
    serverCores: 0.5,
  };
}

function burst(fetches: number, latencies: number[]) {
  return { requests: 1000, ok: 1000, errors: 0, upstreamFetches: fetches, latencyMs: summarize(latencies) };
}

function step(viewers: number, p99: number, keepUp: number): ViewerStepResult {
  return {
    server: 'edge',
    viewers,
    started: viewers,
    measureSeconds: 10,
    parts: Math.round(viewers * 20 * keepUp),
    keepUp,
    partMs: summarize([p99 / 2, p99]),
    lagMs: summarize([p99, p99 * 2]),
    errors: 0,
    errorSamples: [],
    serverCores: 0.4,
    loadgenCores: 0.6,
  };
}

/** A fixed result: the playlist and segment pass, the part misses on rps, cold passes, 2000 viewers OK. */
function sample(): EdgeBenchResult {
  const { log: _log, ...settings } = EDGE_BENCH_DEFAULTS;
  const r: EdgeBenchResult = {
    startedAt: '2026-01-01T00:00:00.000Z',
    finishedAt: '2026-01-01T00:03:00.000Z',
    machine: { cpus: 2, cpuModel: 'Test CPU', loadAvgStart: [1, 1, 1], loadAvgEnd: [2, 1, 1], node: 'v20.0.0', nginx: 'nginx version: nginx/1.22.1', wrk: 'wrk 4.1.0' },
    settings: { ...settings, origin: BENCH_ORIGIN_DEFAULTS },
    hits: [
      { object: 'playlist', path: '/p', bytes: 2048, edge: wrk(40_000, 3), nginx: wrk(50_000, 2), rpsRatio: 0.8, p99Ratio: 1.5 },
      { object: 'part', path: '/q', bytes: 150_000, edge: wrk(9000, 6), nginx: wrk(10_000, 5), rpsRatio: 0.9, p99Ratio: 1.2 },
      { object: 'segment', path: '/s', bytes: 1_500_000, edge: wrk(1100, 50), nginx: wrk(1000, 40), rpsRatio: 1.1, p99Ratio: 1.25 },
    ],
    cold: [
      { delayMs: 50, bytes: 60_000, edge: burst(1, [100, 120]), nginx: burst(1, [520, 540]), p50Ratio: 100 / 520 },
      { delayMs: 200, bytes: 60_000, edge: burst(1, [230, 250]), nginx: burst(1, [520, 540]), p50Ratio: 230 / 520 },
    ],
    blocked: {
      requests: 1000,
      holdMs: 1250,
      edge: { ...burst(1, [1260, 1270]), heldAtOrigin: 1, afterReleaseMs: summarize([10, 30]) },
      nginx: { ...burst(1, [1500, 1510]), heldAtOrigin: 1, afterReleaseMs: summarize([240, 260]) },
    },
    viewers: [step(1000, 40, 1), step(2000, 90, 0.99), step(3000, 180, 0.9)],
    targets: [],
  };
  r.targets = evaluateTargets(r);
  return r;
}

describe('evaluateTargets', () => {
  it('judges each target from the run', () => {
    const t = sample().targets;
    expect(t.map((c) => [c.name, c.pass])).toEqual([
      ['hit playlist (2 KB)', true],
      ['hit part (150 KB)', false],
      ['hit segment (1.5 MB)', true],
      ['1000 cold requests (origin 50 ms)', true],
      ['1000 blocked playlist requests released', true],
      ['LL-HLS viewers on one edge process', false],
    ]);
    expect(t[5].measured).toContain('2000 viewers OK');
  });

  it('fails the cold target when the edge fetched more than once', () => {
    const r = sample();
    r.cold[0].edge.upstreamFetches = 2;
    expect(evaluateTargets(r)[3].pass).toBe(false);
  });
});

describe('formatEdgeReport', () => {
  it('matches the golden Markdown', () => {
    const text = formatEdgeReport(sample());
    const file = path.join(FIXTURES, 'edge-report.md');
    if (process.env.UPDATE_GOLDEN === '1') fs.writeFileSync(file, text);
    expect(text).toBe(fs.readFileSync(file, 'utf8'));
  });
});

describe('edgeBenchOptionsFromEnv', () => {
  it('maps BENCH_* variables and scenario arguments', () => {
    const o = edgeBenchOptionsFromEnv(
      { BENCH_SECONDS: '4', BENCH_NGINX_WORKERS: 'auto', BENCH_VIEWERS: '100, 200', BENCH_COLD_DELAYS: '20', BENCH_ONLY: 'cold', BENCH_EDGE_NODE_ARGS: '--cpu-prof --x' },
      ['edge', 'hits', 'viewers'],
    );
    expect(o.seconds).toBe(4);
    expect(o.viewerSeconds).toBe(4);
    expect(o.nginxWorkers).toBe('auto');
    expect(o.viewerSteps).toEqual([100, 200]);
    expect(o.coldDelaysMs).toEqual([20]);
    expect(o.only).toEqual(['hits', 'viewers']);
    expect(o.edgeNodeArgs).toEqual(['--cpu-prof', '--x']);
    expect(edgeBenchOptionsFromEnv({ BENCH_ONLY: 'cold,blocked' }).only).toEqual(['cold', 'blocked']);
    expect(edgeBenchOptionsFromEnv({}).only).toEqual(EDGE_BENCH_DEFAULTS.only);
  });

  it('rejects nonsense numbers', () => {
    expect(() => edgeBenchOptionsFromEnv({ BENCH_SECONDS: 'ten' })).toThrow(/BENCH_SECONDS/);
  });
});
