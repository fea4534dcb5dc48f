/**
 * CLI of the catalog benchmark: `npm run bench -- catalog [pglite|postgres]`. Progress on stderr, a
 * Markdown report on stdout, raw results in bench/results/catalog-<timestamp>.json. Knobs:
 * BENCH_CATALOG_TITLES (100000), BENCH_CATALOG_PROGRESS (1000000), BENCH_CATALOG_PROFILES (10000),
 * BENCH_CATALOG_SEARCHES (300), BENCH_CATALOG_BROWSES (100); BENCH_DATABASE_URL uses that Postgres
 * (an empty database) instead of a throwaway one.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { openPglite, openPostgres, type Sql } from '../../platform/index.js';
import { startPostgres, type TestServer } from '../../platform/test-support/servers.js';
import { num } from '../scale/main.js';
import { WARM_UP_REQUESTS, loadCatalog, measureCatalog, type CatalogBenchOptions, type CatalogEngineResult, type Latency } from './catalog-bench.js';

const lat = (l: Latency) => `${l.p50} / ${l.p99} / ${l.max}`;
const verdict = (ok: boolean) => (ok ? 'PASS' : 'MISS');

/** The Markdown report with the catalog issue's targets. */
export function formatCatalogReport(results: CatalogEngineResult[], opts: CatalogBenchOptions, command: string): string {
  const out = [
    `### Catalog run ${new Date().toISOString()}`, '',
    `Command: \`${command}\` · ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'} · Node ${process.version} · ${opts.titles} titles, ${opts.progressRows} progress rows, ${opts.profiles} profiles; requests one at a time through the control-api app (fastify inject), each series after ${WARM_UP_REQUESTS} uncounted ones`, '',
    '| request (ms: p50 / p99 / max) | ' + results.map((r) => r.engine).join(' | ') + ' |',
    '|---|' + results.map(() => '---:').join('|') + '|',
  ];
  const row = (name: string, pick: (r: CatalogEngineResult) => Latency) => out.push(`| ${name} | ${results.map((r) => lat(pick(r))).join(' | ')} |`);
  row(`search, two words (${results[0].search.n})`, (r) => r.search);
  row('search, a typo', (r) => r.searchTypo);
  row('search, a prefix (3-5 letters)', (r) => r.searchPrefix);
  row('browse, every shared row recomputed', (r) => r.browseCold);
  row('browse, shared rows cached (personal rows computed)', (r) => r.browseWarm);
  row('continue watching', (r) => r.continueWatching);
  out.push(`| load (s) | ${results.map((r) => r.loadSeconds.toFixed(1)).join(' | ')} |`, '');
  out.push('| hot query (EXPLAIN ANALYZE) | ' + results.map((r) => `${r.engine}: seq scans, ms`).join(' | ') + ' |', '|---|' + results.map(() => '---').join('|') + '|');
  for (const [k, p] of results[0].plans.entries()) {
    out.push(`| ${p.query} | ${results.map((r) => `${r.plans[k].seqScans.length ? r.plans[k].seqScans.join(', ') : 'none'}, ${r.plans[k].ms}`).join(' | ')} |`);
  }
  out.push('', '| target | goal | measured | |', '|---|---|---|---|');
  const pg = results.find((r) => r.engine === 'postgres');
  if (pg) {
    const searchP99 = Math.max(pg.search.p99, pg.searchTypo.p99, pg.searchPrefix.p99);
    out.push(`| Postgres: search p99 (worst of the three kinds) | ≤ 50 ms | ${searchP99} ms | ${verdict(searchP99 <= 50)} |`);
    out.push(`| Postgres: browse p99 (shared rows cached as designed, personal rows computed) | ≤ 100 ms | ${pg.browseWarm.p99} ms | ${verdict(pg.browseWarm.p99 <= 100)} |`);
    out.push(`| Postgres: browse p99 with every row recomputed (after a publish) | (≤ 100 ms) | ${pg.browseCold.p99} ms | ${verdict(pg.browseCold.p99 <= 100)} |`);
  }
  for (const r of results) {
    const seq = r.plans.filter((p) => p.seqScans.some((t) => t === 'titles' || t === 'watch_progress'));
    out.push(`| ${r.engine}: hot queries without a sequential scan of titles or watch_progress | all | ${r.plans.length - seq.length} of ${r.plans.length}${seq.length ? ` (${seq.map((p) => p.query).join(', ')})` : ''} | ${verdict(seq.length === 0)} |`);
  }
  out.push('');
  return out.join('\n');
}

/** Runs the benchmark from the CLI's arguments and environment. */
export async function runCatalogBenchCli(env: NodeJS.ProcessEnv, args: string[]): Promise<void> {
  const engines = args.length ? args : ['pglite', 'postgres'];
  const opts: CatalogBenchOptions = {
    titles: num(env, 'BENCH_CATALOG_TITLES', 100_000),
    progressRows: num(env, 'BENCH_CATALOG_PROGRESS', 1_000_000),
    profiles: num(env, 'BENCH_CATALOG_PROFILES', 10_000),
    searches: num(env, 'BENCH_CATALOG_SEARCHES', 300),
    browses: num(env, 'BENCH_CATALOG_BROWSES', 100),
  };
  const progress = (msg: string) => process.stderr.write(`[catalog bench] ${msg}\n`);
  const results: CatalogEngineResult[] = [];
  for (const engine of engines) {
    if (engine !== 'pglite' && engine !== 'postgres') throw new Error(`unknown engine "${engine}": use pglite, postgres`);
    let server: TestServer | undefined;
    let sql: Sql;
    if (engine === 'pglite') sql = await openPglite();
    else {
      const url = env.BENCH_DATABASE_URL || (server = await startPostgres()).url;
      sql = openPostgres(url, { max: 4 });
    }
    try {
      const t0 = performance.now();
      await loadCatalog(sql, opts, (m) => progress(`${engine}: ${m}`));
      results.push(await measureCatalog(sql, engine, opts, (performance.now() - t0) / 1000, progress));
    } finally {
      await sql.close();
      await server?.stop();
    }
  }
  process.stdout.write(formatCatalogReport(results, opts, `npm run bench -- catalog${args.length ? ` ${args.join(' ')}` : ''}`));
  const dir = path.resolve('bench/results');
  await fs.mkdir(dir, { recursive: true });
  const file = path.join(dir, `catalog-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  await fs.writeFile(file, JSON.stringify({ options: opts, results }, null, 2));
  progress(`raw results: ${file}`);
}
