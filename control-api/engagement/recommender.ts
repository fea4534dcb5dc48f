/**
 * The recommender, as pure functions over dense indices (no I/O): the product's scheduled job and
 * `npm run bench -- recs` run the same code.
 *
 * - **Popularity**: interactions per item.
 * - **Item-kNN collaborative filtering** on implicit feedback: cosine similarity between items' user
 *   vectors, shrunk towards 0 for items few users share (c_ij / (‖i‖‖j‖ + shrink)), the top
 *   `neighbours` kept per item; a user's score for j is Σ over their items i of w_ui·sim(i, j).
 * - **Content-based**: TF-IDF vectors of item tokens (genres, tags, cast, description words), a user's
 *   profile is the weighted sum of the vectors of their items, scored by dot product.
 * - **Hybrid**: per user, each method's scores divided by their maximum, blended as
 *   cf + b·content + c·popularity, with (b, c) chosen on a validation split carved from the
 *   training data (so the blend can fall back to any single method where that is better).
 */

import { prng } from '../../platform/index.js';

/** Who interacted with what: per user, distinct item indices and a weight for each. */
export interface Interactions {
  nUsers: number;
  nItems: number;
  userItems: Int32Array[];
  userWeights: Float32Array[];
}

/** A trained item-kNN model: per item, its neighbours and their similarities. */
export interface ItemKnnModel {
  neighbours: Int32Array[];
  similarities: Float32Array[];
}

/** A trained content model: per item, a sparse L2-normalised TF-IDF vector, and its inverted index. */
export interface ContentModel {
  itemTokens: Int32Array[];
  itemValues: Float32Array[];
  /** Per token, the items holding it and the item's value for it. */
  postings: { items: Int32Array; values: Float32Array }[];
}

/** Knobs of item-kNN. */
export interface RecommenderOptions {
  /** Neighbours kept per item. */
  neighbours: number;
  /** Similarity shrinkage (in co-occurrence counts). */
  shrink: number;
}

/** Used when there is too little data to tune (trainHybrid picks from KNN_GRID otherwise). */
export const DEFAULT_OPTIONS: RecommenderOptions = { neighbours: 20, shrink: 20 };

/** The item-kNN settings trainHybrid tries on its validation split. */
export const KNN_GRID: RecommenderOptions[] = [10, 20, 50, 100].flatMap((neighbours) => [5, 20, 50].map((shrink) => ({ neighbours, shrink })));

/** Interactions from (user, item, weight) triples; duplicates add up. */
export function toInteractions(nUsers: number, nItems: number, triples: Iterable<[number, number, number]>): Interactions {
  const maps = Array.from({ length: nUsers }, () => new Map<number, number>());
  for (const [u, i, w] of triples) maps[u].set(i, (maps[u].get(i) ?? 0) + w);
  return {
    nUsers,
    nItems,
    userItems: maps.map((m) => Int32Array.from(m.keys())),
    userWeights: maps.map((m) => Float32Array.from(m.values())),
  };
}

/** Largest value of an array (0 for an empty one); no spread, so 100k items do not overflow the stack. */
export function maxOf(values: Float32Array): number {
  let m = 0;
  for (let i = 0; i < values.length; i++) if (values[i] > m) m = values[i];
  return m;
}

/** Sum of weights per item. */
export function popularity(data: Interactions): Float32Array {
  const pop = new Float32Array(data.nItems);
  for (let u = 0; u < data.nUsers; u++) {
    const items = data.userItems[u];
    const w = data.userWeights[u];
    for (let k = 0; k < items.length; k++) pop[items[k]] += w[k];
  }
  return pop;
}

/** The value a quickselect leaves at rank k (0 = largest) of values (which it reorders). */
function kthLargest(values: Float64Array, k: number): number {
  let lo = 0;
  let hi = values.length - 1;
  while (lo < hi) {
    const pivot = values[(lo + hi) >>> 1];
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (values[i] > pivot) i++;
      while (values[j] < pivot) j--;
      if (i <= j) {
        const t = values[i];
        values[i] = values[j];
        values[j] = t;
        i++;
        j--;
      }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else break;
  }
  return values[k];
}

/**
 * Trains item-kNN: O(Σ_u |I_u|²) co-occurrence accumulation, one item at a time; keeps the top
 * `neighbours` per item, scaled so the strongest is 1.
 */
export function trainItemKnn(data: Interactions, opts: RecommenderOptions = DEFAULT_OPTIONS): ItemKnnModel {
  const { nItems } = data;
  const itemUsers: number[][] = Array.from({ length: nItems }, () => []);
  const itemUserWeights: number[][] = Array.from({ length: nItems }, () => []);
  const norms = new Float64Array(nItems);
  for (let u = 0; u < data.nUsers; u++) {
    const items = data.userItems[u];
    const w = data.userWeights[u];
    for (let k = 0; k < items.length; k++) {
      itemUsers[items[k]].push(u);
      itemUserWeights[items[k]].push(w[k]);
      norms[items[k]] += w[k] * w[k];
    }
  }
  for (let i = 0; i < nItems; i++) norms[i] = Math.sqrt(norms[i]);
  const acc = new Float64Array(nItems);
  const touched = new Int32Array(nItems);
  const neighbours: Int32Array[] = new Array(nItems);
  const similarities: Float32Array[] = new Array(nItems);
  const scratch = new Float64Array(nItems);
  for (let i = 0; i < nItems; i++) {
    let nTouched = 0;
    const users = itemUsers[i];
    const uw = itemUserWeights[i];
    for (let a = 0; a < users.length; a++) {
      const items = data.userItems[users[a]];
      const w = data.userWeights[users[a]];
      const wi = uw[a];
      for (let k = 0; k < items.length; k++) {
        const j = items[k];
        if (j === i) continue;
        if (acc[j] === 0) touched[nTouched++] = j;
        acc[j] += wi * w[k];
      }
    }
    for (let t = 0; t < nTouched; t++) {
      const j = touched[t];
      acc[j] = acc[j] / (norms[i] * norms[j] + opts.shrink);
      scratch[t] = acc[j];
    }
    let threshold = -Infinity;
    if (nTouched > opts.neighbours) threshold = kthLargest(scratch.subarray(0, nTouched), opts.neighbours - 1);
    const keepIdx: number[] = [];
    const keepSim: number[] = [];
    for (let t = 0; t < nTouched && keepIdx.length < opts.neighbours; t++) {
      const j = touched[t];
      if (acc[j] >= threshold) {
        keepIdx.push(j);
        keepSim.push(acc[j]);
      }
    }
    for (let t = 0; t < nTouched; t++) acc[touched[t]] = 0;
    // Each item's neighbourhood is scaled to a strongest similarity of 1, so an item whose
    // neighbours are all weakly similar still votes as much as one with strong neighbours.
    const strongest = keepSim.reduce((m, x) => Math.max(m, x), 0);
    neighbours[i] = Int32Array.from(keepIdx);
    similarities[i] = Float32Array.from(keepSim, (x) => (strongest > 0 ? x / strongest : 0));
  }
  return { neighbours, similarities };
}

/** Item-kNN scores of every item for one user's items. */
export function scoreItemKnn(model: ItemKnnModel, items: Int32Array, weights: Float32Array, out: Float32Array): Float32Array {
  out.fill(0);
  for (let k = 0; k < items.length; k++) {
    const n = model.neighbours[items[k]];
    const s = model.similarities[items[k]];
    const w = weights[k];
    for (let m = 0; m < n.length; m++) out[n[m]] += w * s[m];
  }
  return out;
}

/** Trains the content model from each item's tokens (any strings: "g:drama", "t:space", "c:jane doe"). */
export function trainContent(itemTokens: readonly (readonly string[])[]): ContentModel {
  const vocab = new Map<string, number>();
  const df: number[] = [];
  const ids = itemTokens.map((tokens) => {
    const unique = [...new Set(tokens)];
    return unique.map((t) => {
      let id = vocab.get(t);
      if (id === undefined) {
        id = vocab.size;
        vocab.set(t, id);
        df.push(0);
      }
      df[id]++;
      return id;
    });
  });
  const n = itemTokens.length;
  const idf = df.map((d) => Math.log((n + 1) / (d + 1)) + 1);
  const itemValues = ids.map((tokens) => {
    const v = tokens.map((t) => idf[t]);
    const norm = Math.hypot(...v) || 1;
    return Float32Array.from(v.map((x) => x / norm));
  });
  const postingItems: number[][] = Array.from({ length: vocab.size }, () => []);
  const postingValues: number[][] = Array.from({ length: vocab.size }, () => []);
  ids.forEach((tokens, item) =>
    tokens.forEach((t, k) => {
      postingItems[t].push(item);
      postingValues[t].push(itemValues[item][k]);
    }),
  );
  return {
    itemTokens: ids.map((t) => Int32Array.from(t)),
    itemValues,
    postings: postingItems.map((items, t) => ({ items: Int32Array.from(items), values: Float32Array.from(postingValues[t]) })),
  };
}

/** Content scores of every item for one user's items. */
export function scoreContent(model: ContentModel, items: Int32Array, weights: Float32Array, out: Float32Array): Float32Array {
  out.fill(0);
  const profile = new Map<number, number>();
  for (let k = 0; k < items.length; k++) {
    const tokens = model.itemTokens[items[k]];
    const values = model.itemValues[items[k]];
    for (let m = 0; m < tokens.length; m++) profile.set(tokens[m], (profile.get(tokens[m]) ?? 0) + weights[k] * values[m]);
  }
  for (const [t, pv] of profile) {
    const p = model.postings[t];
    for (let m = 0; m < p.items.length; m++) out[p.items[m]] += pv * p.values[m];
  }
  return out;
}

/** The n highest-scoring items not in `exclude` (ties to the lower index); scores ≤ 0 only if nothing else remains. */
export function topN(scores: Float32Array, n: number, exclude: Int32Array | Set<number>): number[] {
  const excluded = exclude instanceof Set ? exclude : new Set(exclude);
  const best: number[] = [];
  for (let i = 0; i < scores.length; i++) {
    if (excluded.has(i)) continue;
    if (best.length < n) {
      best.push(i);
      best.sort((a, b) => scores[b] - scores[a] || a - b);
    } else if (scores[i] > scores[best[n - 1]]) {
      best[n - 1] = i;
      best.sort((a, b) => scores[b] - scores[a] || a - b);
    }
  }
  return best;
}

/** Blend weights of the hybrid: cf + content·b + popularity·c, each normalised by its maximum per user. */
export interface Blend {
  content: number;
  popularity: number;
}

/** out = cf/max(cf) + b·content/max(content) + c·pop/max(pop). */
export function blend(cf: Float32Array, content: Float32Array, pop: Float32Array, popMax: number, w: Blend, out: Float32Array): Float32Array {
  let cfMax = 0;
  let contentMax = 0;
  for (let i = 0; i < cf.length; i++) {
    if (cf[i] > cfMax) cfMax = cf[i];
    if (content[i] > contentMax) contentMax = content[i];
  }
  const a = cfMax > 0 ? 1 / cfMax : 0;
  const b = contentMax > 0 ? w.content / contentMax : 0;
  // Popularity always counts a little, so a user with no signal still gets the popular items.
  const c = popMax > 0 ? Math.max(w.popularity, 1e-6) / popMax : 0;
  for (let i = 0; i < cf.length; i++) out[i] = a * cf[i] + b * content[i] + c * pop[i];
  return out;
}

/** NDCG@k, precision@k and recall@k of one ranked list against the relevant set. */
export function rankMetrics(ranked: readonly number[], relevant: ReadonlySet<number>, k: number): { ndcg: number; precision: number; recall: number } {
  let dcg = 0;
  let hits = 0;
  for (let r = 0; r < Math.min(k, ranked.length); r++) {
    if (relevant.has(ranked[r])) {
      dcg += 1 / Math.log2(r + 2);
      hits++;
    }
  }
  let idcg = 0;
  for (let r = 0; r < Math.min(k, relevant.size); r++) idcg += 1 / Math.log2(r + 2);
  return { ndcg: idcg ? dcg / idcg : 0, precision: hits / k, recall: relevant.size ? hits / relevant.size : 0 };
}

/** A trained hybrid recommender. */
export interface HybridModel {
  knn: ItemKnnModel;
  /** The item-kNN settings chosen on the validation split. */
  knnOptions: RecommenderOptions;
  content: ContentModel;
  popularity: Float32Array;
  popMax: number;
  blend: Blend;
}

const CONTENT_GRID = [0, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 3, 1000];
const POPULARITY_GRID = [0, 0.02, 0.05, 0.1, 0.3, 1000];

/**
 * Trains every model and picks its settings on data it holds out: 15% of the items of each user with
 * ≥ 5 are set aside, item-kNN is trained on the rest with each of KNN_GRID and the best NDCG@10 on up
 * to `tuneUsers` of those users wins; with it, so does the best (content, popularity) blend. Then
 * the models are trained again on everything with the chosen settings.
 */
export function trainHybrid(data: Interactions, itemTokens: readonly (readonly string[])[], opts: { seed?: number; tuneUsers?: number; knnGrid?: RecommenderOptions[] } = {}): HybridModel {
  const random = prng(opts.seed ?? 1);
  const trainTriples: [number, number, number][] = [];
  const validation = new Map<number, Set<number>>();
  for (let u = 0; u < data.nUsers; u++) {
    const items = data.userItems[u];
    const held = items.length >= 5 ? new Set<number>() : undefined;
    for (let k = 0; k < items.length; k++) {
      if (held && random() < 0.15) held.add(items[k]);
      else trainTriples.push([u, items[k], data.userWeights[u][k]]);
    }
    if (held?.size) validation.set(u, held);
  }
  let chosen: Blend = { content: 0, popularity: 0 };
  let knnOptions = DEFAULT_OPTIONS;
  if (validation.size > 0) {
    const inner = toInteractions(data.nUsers, data.nItems, trainTriples);
    const users = [...validation.keys()].slice(0, opts.tuneUsers ?? 600);
    const cf = new Float32Array(data.nItems);
    const cb = new Float32Array(data.nItems);
    const mixed = new Float32Array(data.nItems);
    let knn: ItemKnnModel | undefined;
    let bestKnn = -1;
    for (const candidate of opts.knnGrid ?? KNN_GRID) {
      const model = trainItemKnn(inner, candidate);
      let total = 0;
      for (const u of users) total += rankMetrics(topN(scoreItemKnn(model, inner.userItems[u], inner.userWeights[u], cf), 10, new Set(inner.userItems[u])), validation.get(u)!, 10).ndcg;
      if (total > bestKnn + 1e-12) {
        bestKnn = total;
        knn = model;
        knnOptions = candidate;
      }
    }
    const content = trainContent(itemTokens);
    const pop = popularity(inner);
    const popMax = maxOf(pop);
    const grid = CONTENT_GRID.flatMap((c) => POPULARITY_GRID.map((p) => ({ content: c, popularity: p })));
    const totals = new Float64Array(grid.length);
    for (const u of users) {
      scoreItemKnn(knn!, inner.userItems[u], inner.userWeights[u], cf);
      scoreContent(content, inner.userItems[u], inner.userWeights[u], cb);
      const exclude = new Set(inner.userItems[u]);
      grid.forEach((w, g) => {
        blend(cf, cb, pop, popMax, w, mixed);
        totals[g] += rankMetrics(topN(mixed, 10, exclude), validation.get(u)!, 10).ndcg;
      });
    }
    let best = 0;
    for (let g = 1; g < grid.length; g++) if (totals[g] > totals[best] + 1e-12) best = g;
    chosen = grid[best];
  }
  const pop = popularity(data);
  return { knn: trainItemKnn(data, knnOptions), knnOptions, content: trainContent(itemTokens), popularity: pop, popMax: maxOf(pop), blend: chosen };
}

/** The hybrid's top n for one user's items (never one of them, nor one in `exclude`). */
export function recommendHybrid(model: HybridModel, items: Int32Array, weights: Float32Array, n: number, exclude: Iterable<number> = []): number[] {
  const size = model.popularity.length;
  const cf = scoreItemKnn(model.knn, items, weights, new Float32Array(size));
  const cb = scoreContent(model.content, items, weights, new Float32Array(size));
  const mixed = blend(cf, cb, model.popularity, model.popMax, model.blend, new Float32Array(size));
  return topN(mixed, n, new Set([...items, ...exclude]));
}
