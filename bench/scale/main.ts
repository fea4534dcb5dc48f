/**
 * CLI of the scale benchmark: `npm run bench -- scale [catalog|render|blocking|packager …]`. Progress on
 * stderr, a Markdown report on stdout, the full result as JSON in bench/results/scale-<timestamp>.json.
 * Knobs: BENCH_SCALE_DVR (s, 3600), BENCH_SCALE_CATALOG_SECONDS (10), BENCH_SCALE_WRK_SECONDS (8),
 * BENCH_SCALE_STREAMS (100), BENCH_SCALE_VIEWERS (viewers per rendition, 10), BENCH_SCALE_BLOCKING_SECONDS
 * (10), BENCH_SCALE_PACKAGER_STREAMS (comma list, 1,4,8,16), BENCH_SCALE_PACKAGER_SECONDS (10);
 * BENCH_SCALE_ORIGIN_PROFILE=<dir> makes the origin processes write V8 CPU profiles there.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { SCALE_SCENARIOS, round, runScaleBench, type ScaleOptions, type ScaleResult, type ScaleScenario } from './scale-bench.js';

/** A positive number from the environment, or the default. */
export function num(env: NodeJS.ProcessEnv, name: string, def: number): number {
  const v = env[name];
  if (v === undefined || v === '') return def;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name} must be a positive number, got "${v}"`);
  return n;
}

/** Options from the environment, with the issue's sizes as defaults. */
export function scaleOptions(env: NodeJS.ProcessEnv): ScaleOptions {
  const streams = (env.BENCH_SCALE_PACKAGER_STREAMS ?? '1,4,8,16').split(',').map((s) => Number(s.trim()));
  if (streams.some((n) => !Number.isInteger(n) || n <= 0)) throw new Error(`BENCH_SCALE_PACKAGER_STREAMS must list positive integers, got "${env.BENCH_SCALE_PACKAGER_STREAMS}"`);
  return {
    partSeconds: 1 / 3,
    partsPerSegment: 6,
    dvrWindowSeconds: num(env, 'BENCH_SCALE_DVR', 3600),
    catalogSeconds: num(env, 'BENCH_SCALE_CATALOG_SECONDS', 10),
    wrkSeconds: num(env, 'BENCH_SCALE_WRK_SECONDS', 8),
    blockingStreams: num(env, 'BENCH_SCALE_STREAMS', 100),
    viewersPerRendition: num(env, 'BENCH_SCALE_VIEWERS', 10),
    blockingSeconds: num(env, 'BENCH_SCALE_BLOCKING_SECONDS', 10),
    packagerStreams: streams,
    packagerSeconds: num(env, 'BENCH_SCALE_PACKAGER_SECONDS', 10),
    originProfileDir: env.BENCH_SCALE_ORIGIN_PROFILE || undefined,
  };
}

const f = (v: number, d = 1) => String(round(v, d) ?? '–');
const verdict = (ok: boolean) => (ok ? 'PASS' : 'MISS');

/** The Markdown report of a run, with the targets of the live-at-scale issue. */
export function formatScaleReport(r: ScaleResult, command: string): string {
  const out: string[] = [`### Scale run ${r.startedAt}`, '', `Command: \`${command}\` · ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'} · Node ${process.version} · DVR window ${r.options.dvrWindowSeconds} s, parts ${f(r.options.partSeconds, 3)} s, ${r.options.partsPerSegment} per segment`, ''];
  const targets: string[] = [];
  if (r.catalog) {
    out.push('#### Live catalog traffic on Redis (4 renditions, two origins listening)', '', '| design | parts | into Redis per part | out of Redis per part | into Redis per stream |', '|---|---:|---:|---:|---:|');
    for (const c of r.catalog) out.push(`| ${c.design} | ${c.parts} | ${f(c.inPerPart, 0)} B | ${f(c.outPerPart, 0)} B | ${f(c.inPerStreamPerSecond / 1024, 1)} KiB/s |`);
    const [now, before] = r.catalog;
    out.push('', `Event log vs whole state: ${f(now.inPerPart / before.inPerPart, 4)}× the bytes in, ${f(now.outPerPart / before.outPerPart, 4)}× the bytes out.`, '');
    targets.push(`| catalog traffic per part, ${r.options.dvrWindowSeconds} s window | ≤ 2 KB | ${f(now.inPerPart, 0)} B in, ${f(now.outPerPart, 0)} B out | ${verdict(now.inPerPart <= 2048 && now.outPerPart <= 2048)} |`);
  }
  if (r.render) {
    const x = r.render;
    out.push(`#### Playlist rendering, ${x.segments} segments (full ${f(x.fullBytes / 1024)} KiB, delta ${f(x.deltaBytes / 1024)} KiB)`, '');
    out.push('| render after a new part | µs |', '|---|---:|', `| full, every segment rendered (before) | ${f(x.fullRenderUs)} |`, `| full, segment text memoised | ${f(x.fullMemoRenderUs)} |`, `| delta, segment text memoised | ${f(x.deltaMemoRenderUs)} |`, '');
    out.push('| memoised hit over HTTP (wrk -c64, one origin process) | requests/s | origin CPU µs/request | p99 ms |', '|---|---:|---:|---:|');
    for (const h of x.hits) out.push(`| ${h.what} | ${f(h.rps, 0)} | ${f(h.cpuUsPerRequest)} | ${f(h.p99Ms)} |`);
    out.push('');
    const delta = x.hits.find((h) => h.what.startsWith('delta'));
    const bare = x.hits.find((h) => h.what.startsWith('reference'));
    if (delta && bare) out.push(`Delta hit vs bare node:http on the same bytes: ${f(delta.cpuUsPerRequest / bare.cpuUsPerRequest, 2)}× the CPU per request (${f(delta.cpuUsPerRequest - bare.cpuUsPerRequest)} µs of the origin's own).`, '');
    if (delta) targets.push(`| memoised playlist hit (delta) | ≤ 50 µs CPU | ${f(delta.cpuUsPerRequest)} µs (bare node:http ${f(bare?.cpuUsPerRequest ?? NaN)} µs) | ${verdict(delta.cpuUsPerRequest <= 50)} |`);
    for (const full of x.hits.filter((h) => h.what.startsWith('full'))) {
      targets.push(`| memoised playlist hit (${full.what.replace('full playlist', `full ${f(x.fullBytes / 1024, 0)} KiB`)}) | ≤ 50 µs CPU | ${f(full.cpuUsPerRequest)} µs | ${verdict(full.cpuUsPerRequest <= 50)} |`);
    }
  }
  if (r.blocking) {
    const b = r.blocking;
    out.push(`#### Blocking delta reloads: ${b.streams} streams × 4 renditions × ${b.viewers / b.renditions} viewers on one origin process`, '');
    out.push('| viewers | requests/s | bytes/response | publish → playlist p50 / p99 / max ms | origin CPU | packager late p99 ms | errors |', '|---:|---:|---:|---:|---:|---:|---:|');
    out.push(`| ${b.viewers} | ${f(b.requestsPerSecond, 0)} | ${f(b.responseBytes, 0)} | ${f(b.latencyMs.p50)} / ${f(b.latencyMs.p99)} / ${f(b.latencyMs.max)} | ${f(b.originCores * 100, 0)}% | ${f(b.publishLateMs.p99)} | ${b.errors} |`, '');
    if (b.errorSamples.length) out.push(`Error samples: ${b.errorSamples.map((e) => `\`${e}\``).join(', ')}`, '');
    targets.push(`| ${b.viewers} blocking viewers on one origin process | p99 ≤ 50 ms, one core | p99 ${f(b.latencyMs.p99)} ms at ${f(b.originCores * 100, 0)}% CPU, ${b.errors} errors | ${verdict(b.latencyMs.p99 <= 50 && b.originCores <= 1 && b.errors === 0)} |`);
  }
  if (r.packager) {
    out.push('#### Packager per host (recorded ladder output replayed in real time; FFmpeg excluded)', '', '| streams | CPU | live memory (heap + Buffers) | process RSS | event-loop delay p99 | part publish delay p99 |', '|---:|---:|---:|---:|---:|---:|');
    for (const s of r.packager.steps) out.push(`| ${s.streams} | ${f(s.cpuCores * 100)}% | +${f(s.memoryMiB)} MiB | ${f(s.rssMiB, 0)} MiB | ${f(s.loopDelayP99Ms)} ms | ≤ ${f(s.partDelayP99Ms, 0)} ms |`);
    out.push('', `Per stream (4 renditions), from the first to the last step: ${f(r.packager.perStream.cpuCores * 100, 2)}% of a core, ${f(r.packager.perStream.memoryMiB, 2)} MiB.`, '');
  }
  if (targets.length) out.push('#### Targets', '', '| | target | measured | |', '|---|---|---|---|', ...targets, '');
  return out.join('\n');
}

/** Runs the scenarios named in args (all when none), prints the report, writes the JSON. */
export async function runScaleBenchCli(env: NodeJS.ProcessEnv, args: string[]): Promise<ScaleResult> {
  const named = args.filter((a): a is ScaleScenario => (SCALE_SCENARIOS as readonly string[]).includes(a));
  const scenarios = named.length ? named : [...SCALE_SCENARIOS];
  const log = (line: string) => console.error(line);
  const result = await runScaleBench(scaleOptions(env), scenarios, log);
  const vars = Object.keys(env).filter((k) => k.startsWith('BENCH_SCALE_')).sort().map((k) => `${k}=${env[k]} `).join('');
  const command = `${vars}npm run bench -- scale${args.length ? ` ${args.join(' ')}` : ''}`;
  console.log(formatScaleReport(result, command));
  const dir = path.join(process.cwd(), 'bench', 'results');
  await fs.mkdir(dir, { recursive: true });
  const file = path.join(dir, `scale-${result.startedAt.replace(/[:.]/g, '-')}.json`);
  await fs.writeFile(file, JSON.stringify(result, null, 2));
  log(`scale: result written to ${path.relative(process.cwd(), file)}`);
  return result;
}
