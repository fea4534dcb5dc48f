/**
 * Judges an edge benchmark run against the targets and renders it as Markdown tables
 * (absolute figures for both caches, ratios, PASS/MISS), the form bench/RESULTS.md records.
 */
import type { EdgeBenchResult } from './edge-bench.js';
import type { LatencySummary } from './stats.js';

/** One target of the issue and how the run did against it. */
export interface TargetCheck {
  name: string;
  target: string;
  measured: string;
  pass: boolean;
}

/** Minimum edge/nginx rps ratio per object (issue: ≥ 0.7× / ≥ 0.95× / ≥ 1.0×), with p99 ≤ 2× nginx's. */
export const HIT_RPS_TARGETS = { playlist: 0.7, part: 0.95, segment: 1.0 } as const;
/** Max edge/nginx p99 ratio on hits. */
export const HIT_P99_MAX_RATIO = 2;
/** Max edge/nginx cold waiter p50 ratio. */
export const COLD_P50_MAX_RATIO = 0.3;
/** Max time from the origin's release to the last of the blocked waiters' responses, ms. */
export const RELEASE_MAX_MS = 50;
/** Viewers one edge process must carry, with part fetch p99 ≤ VIEWER_P99_MAX_MS and everyone keeping up. */
export const VIEWER_TARGET = 3000;
/** Max part fetch p99 of a viewer step, ms. */
export const VIEWER_P99_MAX_MS = 100;
/** Share of published parts fetched in the window for a step to count as "keeping up". */
export const KEEP_UP_MIN = 0.98;

const f = (v: number, d = 1) => (Number.isFinite(v) ? v.toFixed(d) : '–');
const x = (v: number) => `${f(v, 2)}×`;

/** Checks every target that the run measured. */
export function evaluateTargets(r: EdgeBenchResult): TargetCheck[] {
  const out: TargetCheck[] = [];
  for (const h of r.hits) {
    const min = HIT_RPS_TARGETS[h.object];
    out.push({
      name: `hit ${h.object} (${kb(h.bytes)})`,
      target: `rps ≥ ${min}× nginx, p99 ≤ ${HIT_P99_MAX_RATIO}× nginx`,
      measured: `rps ${x(h.rpsRatio)}, p99 ${x(h.p99Ratio)}`,
      pass: h.rpsRatio >= min && h.p99Ratio <= HIT_P99_MAX_RATIO && h.edge.errors.status + h.edge.errors.read === 0,
    });
  }
  const cold = r.cold[0];
  if (cold) {
    out.push({
      name: `${cold.edge.requests} cold requests (origin ${cold.delayMs} ms)`,
      target: `1 upstream fetch, waiter p50 ≤ ${COLD_P50_MAX_RATIO}× nginx`,
      measured: `${cold.edge.upstreamFetches} fetch(es), p50 ${x(cold.p50Ratio)}, ${cold.edge.errors} errors`,
      pass: cold.edge.upstreamFetches === 1 && cold.p50Ratio <= COLD_P50_MAX_RATIO && cold.edge.errors === 0,
    });
  }
  if (r.blocked) {
    const e = r.blocked.edge;
    out.push({
      name: `${e.requests} blocked playlist requests released`,
      target: `last response ≤ ${RELEASE_MAX_MS} ms after release`,
      measured: `${f(e.afterReleaseMs.max)} ms, ${e.upstreamFetches} upstream, ${e.errors} errors`,
      pass: e.afterReleaseMs.max <= RELEASE_MAX_MS && e.errors === 0,
    });
  }
  const steps = r.viewers.filter((s) => s.server === 'edge');
  if (steps.length) {
    const good = steps.filter(viewerStepOk);
    const best = good.reduce((m, s) => Math.max(m, s.viewers), 0);
    const top = steps[steps.length - 1];
    out.push({
      name: 'LL-HLS viewers on one edge process',
      target: `≥ ${VIEWER_TARGET} viewers, part p99 ≤ ${VIEWER_P99_MAX_MS} ms, keeping up`,
      measured: `${best} viewers OK (largest step ${top.viewers}: part p99 ${f(top.partMs.p99)} ms, keep-up ${f(top.keepUp * 100)}%)`,
      pass: best >= VIEWER_TARGET,
    });
  }
  return out;
}

/** Whether a viewer step meets the per-step bar (p99, keep-up, no errors, everyone started). */
export function viewerStepOk(s: EdgeBenchResult['viewers'][number]): boolean {
  return s.partMs.p99 <= VIEWER_P99_MAX_MS && s.keepUp >= KEEP_UP_MIN && s.errors === 0 && s.started === s.viewers;
}

/** The run as Markdown: settings line, one table per scenario, then the targets. */
export function formatEdgeReport(r: EdgeBenchResult): string {
  const s = r.settings;
  const lines: string[] = [];
  lines.push(
    `Run ${r.startedAt} · ${r.machine.cpus} × ${r.machine.cpuModel} · load avg at start ${r.machine.loadAvgStart.map((v) => v.toFixed(2)).join(' ')}, at end ${r.machine.loadAvgEnd.map((v) => v.toFixed(2)).join(' ')}`,
    '',
    `Node ${r.machine.node} (edge: one process) · ${r.machine.nginx} (worker_processes ${s.nginxWorkers}) · ${r.machine.wrk}`,
    '',
  );
  if (r.hits.length) {
    lines.push(
      `### Cache hits (wrk -t${s.threads} -c${s.connections}, ${s.warmSeconds} s warm-up + ${s.seconds} s measured)`,
      '',
      '| object | edge rps | nginx rps | ratio | edge p50 / p99 ms | nginx p50 / p99 ms | p99 ratio | edge CPU | nginx CPU | CPU µs/request edge / nginx |',
      '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    );
    for (const h of r.hits) {
      lines.push(
        `| ${h.object} ${kb(h.bytes)} | ${Math.round(h.edge.rps)} | ${Math.round(h.nginx.rps)} | ${x(h.rpsRatio)} | ${f(h.edge.latencyMs.p50, 2)} / ${f(h.edge.latencyMs.p99, 2)} | ${f(h.nginx.latencyMs.p50, 2)} / ${f(h.nginx.latencyMs.p99, 2)} | ${x(h.p99Ratio)} | ${pct(h.edge.serverCores)} | ${pct(h.nginx.serverCores)} | ${f(usPerRequest(h.edge))} / ${f(usPerRequest(h.nginx))} |`,
      );
    }
    lines.push('');
  }
  if (r.cold.length) {
    lines.push(
      `### ${s.coldRequests} concurrent cold requests (one new ${kb(r.cold[0].bytes)} object per burst, established connections)`,
      '',
      '| origin delay | edge upstream | nginx upstream | edge waiter p50 / p99 / max ms | nginx waiter p50 / p99 / max ms | p50 ratio | errors edge / nginx |',
      '|---:|---:|---:|---:|---:|---:|---:|',
    );
    for (const c of r.cold) {
      lines.push(
        `| ${c.delayMs} ms | ${c.edge.upstreamFetches} | ${c.nginx.upstreamFetches} | ${lat(c.edge.latencyMs)} | ${lat(c.nginx.latencyMs)} | ${x(c.p50Ratio)} | ${c.edge.errors} / ${c.nginx.errors} |`,
      );
    }
    lines.push('');
  }
  if (r.blocked) {
    const b = r.blocked;
    lines.push(
      `### ${b.requests} blocked playlist requests, released by the origin after ${b.holdMs} ms`,
      '',
      '| cache | upstream requests | release → response p50 / p99 / last ms | errors |',
      '|---|---:|---:|---:|',
      `| edge | ${b.edge.upstreamFetches} | ${lat(b.edge.afterReleaseMs)} | ${b.edge.errors} |`,
      `| nginx | ${b.nginx.upstreamFetches} | ${lat(b.nginx.afterReleaseMs)} | ${b.nginx.errors} |`,
      '',
    );
  }
  if (r.viewers.length) {
    const o = s.origin;
    lines.push(
      `### LL-HLS viewers (part ${o.partMs} ms, ${kb(o.simPartBytes)}, ${o.partsPerSegment} parts per segment; blocking reload then the part; ${s.viewerSeconds} s measured per step)`,
      '',
      '| cache | viewers | started | keep-up | part p50 / p99 / max ms | publish → viewer has part p50 / p99 ms | errors | server CPU | load-gen CPU |',
      '|---|---:|---:|---:|---:|---:|---:|---:|---:|',
    );
    for (const v of r.viewers) {
      lines.push(
        `| ${v.server} | ${v.viewers} | ${v.started} | ${f(v.keepUp * 100)}% | ${lat(v.partMs)} | ${f(v.lagMs.p50)} / ${f(v.lagMs.p99)} | ${v.errors} | ${pct(v.serverCores)} | ${pct(v.loadgenCores)} |`,
      );
    }
    lines.push('');
  }
  lines.push('### Targets', '', '| | target | measured | |', '|---|---|---|---|');
  for (const t of r.targets) lines.push(`| ${t.name} | ${t.target} | ${t.measured} | ${t.pass ? 'PASS' : 'MISS'} |`);
  return lines.join('\n') + '\n';
}

/** Server CPU time per request: comparable even when the load tool, not the server, is the limit. */
function usPerRequest(r: { serverCores: number; rps: number }): number {
  return (r.serverCores / r.rps) * 1e6;
}

function lat(l: LatencySummary): string {
  return `${f(l.p50)} / ${f(l.p99)} / ${f(l.max)}`;
}

function pct(cores: number): string {
  return `${Math.round(cores * 100)}%`;
}

function kb(bytes: number): string {
  return bytes >= 1_000_000 ? `${(bytes / 1_000_000).toFixed(1)} MB` : `${Math.round(bytes / 1000)} KB`;
}
