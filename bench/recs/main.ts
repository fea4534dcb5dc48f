/**
 * CLI of the recommendation benchmark: `npm run bench -- recs [synthetic|movielens]`. Progress on
 * stderr, a Markdown report on stdout, raw results in bench/results/recs-<timestamp>.json. Knob:
 * BENCH_RECS_SEED (42, the synthetic generator's seed).
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { num } from '../scale/main.js';
import { movieLensDataset, syntheticDataset } from './datasets.js';
import { evaluate, type DatasetResult } from './recs-bench.js';

const f = (v: number, d = 4) => v.toFixed(d);
const verdict = (ok: boolean) => (ok ? 'PASS' : 'MISS');

/** The Markdown report with the catalog issue's targets. */
export function formatRecsReport(results: DatasetResult[], command: string): string {
  const out = [`### Recommendations run ${new Date().toISOString()}`, '', `Command: \`${command}\` · ${os.cpus()[0]?.model ?? 'cpu'} (one core: training runs on the main thread) · Node ${process.version}`, ''];
  const targets = ['| target | goal | measured | |', '|---|---|---|---|'];
  for (const r of results) {
    const pop = r.methods.find((m) => m.method === 'popularity')!;
    out.push(`#### ${r.dataset}`, '', `${r.evaluatedUsers} users evaluated. Chosen on the validation split of the training data: item-kNN ${r.knn.neighbours} neighbours, shrink ${r.knn.shrink}; hybrid blend content × ${r.blend.content}, popularity × ${r.blend.popularity}.`, '');
    out.push('| method | precision@10 | recall@10 | NDCG@10 | NDCG ÷ popularity | training s | already-seen items recommended |', '|---|---:|---:|---:|---:|---:|---:|');
    for (const m of r.methods) out.push(`| ${m.method} | ${f(m.precision)} | ${f(m.recall)} | ${f(m.ndcg)} | ${f(m.ndcg / pop.ndcg, 2)}× | ${f(m.trainSeconds, 2)} | ${m.leaks} |`);
    out.push('');
    const knn = r.methods.find((m) => m.method === 'item-knn')!;
    const hybrid = r.methods.find((m) => m.method === 'hybrid')!;
    const bestSingle = Math.max(...r.methods.filter((m) => m.method !== 'hybrid').map((m) => m.ndcg));
    const synthetic = r.dataset.startsWith('synthetic');
    const hybridGoal = synthetic ? 1.3 : 1.7;
    targets.push(`| ${synthetic ? 'synthetic' : 'MovieLens'}: item-kNN NDCG ÷ popularity | ≥ 1.7× | ${f(knn.ndcg / pop.ndcg, 2)}× | ${verdict(knn.ndcg / pop.ndcg >= 1.7)} |`);
    targets.push(`| ${synthetic ? 'synthetic' : 'MovieLens'}: hybrid NDCG ÷ popularity | ≥ ${hybridGoal}× | ${f(hybrid.ndcg / pop.ndcg, 2)}× | ${verdict(hybrid.ndcg / pop.ndcg >= hybridGoal)} |`);
    targets.push(`| ${synthetic ? 'synthetic' : 'MovieLens'}: hybrid ≥ best single method | ≥ ${f(bestSingle)} | ${f(hybrid.ndcg)} | ${verdict(hybrid.ndcg >= bestSingle - 1e-9)} |`);
    targets.push(`| ${synthetic ? 'synthetic' : 'MovieLens'}: hybrid training (with its blend tuning), one core | ≤ 30 s | ${f(hybrid.trainSeconds, 2)} s | ${verdict(hybrid.trainSeconds <= 30)} |`);
    targets.push(`| ${synthetic ? 'synthetic' : 'MovieLens'}: already-seen items recommended | 0 | ${r.methods.reduce((a, m) => a + m.leaks, 0)} | ${verdict(r.methods.every((m) => m.leaks === 0))} |`);
  }
  out.push('#### Targets', '', ...targets, '');
  return out.join('\n');
}

/** Runs the benchmark from the CLI's arguments and environment. */
export async function runRecsBenchCli(env: NodeJS.ProcessEnv, args: string[]): Promise<void> {
  const which = args.length ? args : ['synthetic', 'movielens'];
  const progress = (msg: string) => process.stderr.write(`[recs bench] ${msg}\n`);
  const results: DatasetResult[] = [];
  for (const w of which) {
    if (w !== 'synthetic' && w !== 'movielens') throw new Error(`unknown data set "${w}": use synthetic, movielens`);
    progress(`loading ${w}`);
    const data = w === 'synthetic' ? syntheticDataset({ seed: num(env, 'BENCH_RECS_SEED', 42) }) : await movieLensDataset();
    results.push(evaluate(data, {}, progress));
  }
  process.stdout.write(formatRecsReport(results, `npm run bench -- recs${args.length ? ` ${args.join(' ')}` : ''}`));
  const dir = path.resolve('bench/results');
  await fs.mkdir(dir, { recursive: true });
  const file = path.join(dir, `recs-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  await fs.writeFile(file, JSON.stringify({ results }, null, 2));
  progress(`raw results: ${file}`);
}
