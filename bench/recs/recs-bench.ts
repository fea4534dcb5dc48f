/**
 * Offline evaluation of the recommender: popularity, content-only, item-kNN and the hybrid on one
 * data set, each ranking every item the user has not interacted with in training, scored against
 * the held-out items at k = 10. Training runs on this thread (one core) and is timed.
 */
import { performance } from 'node:perf_hooks';
import {
  popularity, rankMetrics, recommendHybrid, scoreContent, scoreItemKnn, topN, trainContent, trainHybrid, trainItemKnn,
  type RecommenderOptions,
} from '../../control-api/index.js';
import type { Dataset } from './datasets.js';

/** Mean metrics of one method. */
export interface MethodResult {
  method: 'popularity' | 'content' | 'item-knn' | 'hybrid';
  precision: number;
  recall: number;
  ndcg: number;
  trainSeconds: number;
  /** Recommended items the user already had in training (must be 0). */
  leaks: number;
}

/** One data set's results. */
export interface DatasetResult {
  dataset: string;
  interactions: number;
  users: number;
  items: number;
  evaluatedUsers: number;
  methods: MethodResult[];
  blend: { content: number; popularity: number };
  knn: RecommenderOptions;
}

const K = 10;

/** Evaluates every method on the data set. */
export function evaluate(data: Dataset, opts: { knnGrid?: RecommenderOptions[] } = {}, progress: (msg: string) => void = () => {}): DatasetResult {
  const { train, test } = data;
  const users = [...test.keys()].filter((u) => train.userItems[u].length > 0);
  const results: MethodResult[] = [];
  const run = (method: MethodResult['method'], trainSeconds: number, rank: (u: number) => number[]) => {
    let p = 0;
    let r = 0;
    let n = 0;
    let leaks = 0;
    for (const u of users) {
      const ranked = rank(u);
      const own = new Set(train.userItems[u]);
      leaks += ranked.filter((i) => own.has(i)).length;
      const m = rankMetrics(ranked, test.get(u)!, K);
      p += m.precision;
      r += m.recall;
      n += m.ndcg;
    }
    results.push({ method, precision: p / users.length, recall: r / users.length, ndcg: n / users.length, trainSeconds, leaks });
    progress(`${data.name}: ${method} NDCG@10 ${(n / users.length).toFixed(4)}`);
  };
  const timed = <T>(fn: () => T): [T, number] => {
    const t0 = performance.now();
    const out = fn();
    return [out, (performance.now() - t0) / 1000];
  };

  const [pop, popSeconds] = timed(() => popularity(train));
  const byPopularity = [...pop.keys()].sort((a, b) => pop[b] - pop[a] || a - b);
  run('popularity', popSeconds, (u) => {
    const own = new Set(train.userItems[u]);
    const out: number[] = [];
    for (const i of byPopularity) {
      if (!own.has(i)) out.push(i);
      if (out.length === K) break;
    }
    return out;
  });

  const scores = new Float32Array(train.nItems);
  const [content, contentSeconds] = timed(() => trainContent(data.itemTokens));
  run('content', contentSeconds, (u) => topN(scoreContent(content, train.userItems[u], train.userWeights[u], scores), K, new Set(train.userItems[u])));

  // The hybrid's training chooses item-kNN's settings on its validation split; item-kNN alone is
  // then trained with them (never with settings picked on the test set).
  const [hybrid, hybridSeconds] = timed(() => trainHybrid(train, data.itemTokens, { knnGrid: opts.knnGrid }));
  const [knn, knnSeconds] = timed(() => trainItemKnn(train, hybrid.knnOptions));
  run('item-knn', knnSeconds, (u) => topN(scoreItemKnn(knn, train.userItems[u], train.userWeights[u], scores), K, new Set(train.userItems[u])));
  run('hybrid', hybridSeconds, (u) => recommendHybrid(hybrid, train.userItems[u], train.userWeights[u], K));

  return {
    dataset: data.name,
    interactions: data.interactions,
    users: train.nUsers,
    items: train.nItems,
    evaluatedUsers: users.length,
    methods: results,
    blend: hybrid.blend,
    knn: hybrid.knnOptions,
  };
}
