/**
 * The two data sets of the recommendation benchmark, each as train and test interactions plus item
 * tokens for the content model.
 *
 * **Synthetic** (reproducible from a seed): `tastes` latent tastes, each with two core genres of 18
 * and 20 tags of 240. An item has a main taste (and a second one with p = 0.3), its tastes' core
 * genres (p = 0.8 main, 0.5 second) plus a random genre (p = 0.2), four tags of its main taste and
 * one random tag, a log-normal appeal (σ = 1) and a release time in [0, 1). A user has a sparse
 * taste mixture (Dirichlet α = 0.2), a log-normal number of interactions (median 30, 5..400) and a
 * start time in [0, 0.7); each interaction, at times spread evenly from the start to 1, picks a
 * taste from the user's mixture (5% uniformly at random) and an item of that taste by appeal^0.8,
 * among items already released and not yet consumed. Split by time: interactions after the 80th
 * percentile of all timestamps are the test set.
 *
 * **MovieLens ml-latest-small** (../shared/data/ml-latest-small, research licence in its README):
 * every rating is a positive interaction; a seeded random 80/20 split per user; item tokens are the
 * movie's genres and the tags users applied in the training part only (so the content model sees
 * nothing of the test set).
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { toInteractions, type Interactions } from '../../control-api/index.js';
import { prng } from '../../platform/index.js';

/** One data set, split. */
export interface Dataset {
  name: string;
  train: Interactions;
  /** Per user, the held-out items. */
  test: Map<number, Set<number>>;
  itemTokens: string[][];
  /** Item names, for the report's sample recommendations. */
  itemNames: string[];
  interactions: number;
}

function gaussian(random: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
}

function gamma(random: () => number, shape: number): number {
  // Marsaglia-Tsang, with the shape < 1 boost.
  if (shape < 1) return gamma(random, shape + 1) * Math.pow(random(), 1 / shape);
  const d = shape - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    const x = gaussian(random);
    const v = (1 + c * x) ** 3;
    if (v > 0 && Math.log(random()) < 0.5 * x * x + d - d * v + d * Math.log(v)) return d * v;
  }
}

/** The synthetic data set described above. */
export function syntheticDataset(opts: { seed?: number; items?: number; users?: number; tastes?: number } = {}): Dataset {
  const random = prng(opts.seed ?? 42);
  const nItems = opts.items ?? 4000;
  const nUsers = opts.users ?? 3000;
  const T = opts.tastes ?? 12;
  const GENRES = 18;
  const TAGS_PER_TASTE = 20;
  const pick = (n: number) => Math.floor(random() * n);
  const itemTaste = new Int32Array(nItems);
  const itemTaste2 = new Int32Array(nItems).fill(-1);
  const appeal = new Float64Array(nItems);
  const release = new Float64Array(nItems);
  const itemTokens: string[][] = [];
  for (let i = 0; i < nItems; i++) {
    const z = pick(T);
    itemTaste[i] = z;
    if (random() < 0.3) itemTaste2[i] = pick(T);
    appeal[i] = Math.exp(gaussian(random));
    release[i] = random() * 0.9;
    const tokens = new Set<string>();
    for (const g of [(2 * z) % GENRES, (2 * z + 1) % GENRES]) if (random() < 0.8) tokens.add(`g:${g}`);
    if (itemTaste2[i] >= 0) for (const g of [(2 * itemTaste2[i]) % GENRES, (2 * itemTaste2[i] + 1) % GENRES]) if (random() < 0.5) tokens.add(`g:${g}`);
    if (random() < 0.2) tokens.add(`g:${pick(GENRES)}`);
    for (let k = 0; k < 4; k++) tokens.add(`t:${z * TAGS_PER_TASTE + pick(TAGS_PER_TASTE)}`);
    tokens.add(`t:${pick(T * TAGS_PER_TASTE)}`);
    itemTokens.push([...tokens]);
  }
  // Items of each taste (main or second) with cumulative appeal^0.8, for sampling.
  const byTaste = Array.from({ length: T }, () => [] as number[]);
  for (let i = 0; i < nItems; i++) {
    byTaste[itemTaste[i]].push(i);
    if (itemTaste2[i] >= 0 && itemTaste2[i] !== itemTaste[i]) byTaste[itemTaste2[i]].push(i);
  }
  const cumulative = byTaste.map((items) => {
    let sum = 0;
    return Float64Array.from(items, (i) => (sum += appeal[i] ** 0.8));
  });
  const sampleFrom = (taste: number) => {
    const c = cumulative[taste];
    const x = random() * c[c.length - 1];
    let lo = 0;
    let hi = c.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (c[mid] < x) lo = mid + 1;
      else hi = mid;
    }
    return byTaste[taste][lo];
  };
  const events: { u: number; i: number; t: number }[] = [];
  for (let u = 0; u < nUsers; u++) {
    const mix = Array.from({ length: T }, () => gamma(random, 0.2));
    const total = mix.reduce((a, b) => a + b, 0) || 1;
    const cdf: number[] = [];
    mix.reduce((acc, m, k) => (cdf[k] = acc + m / total), 0);
    const n = Math.min(400, Math.max(5, Math.round(Math.exp(Math.log(30) + 0.8 * gaussian(random)))));
    const start = random() * 0.7;
    const seen = new Set<number>();
    for (let k = 0; k < n; k++) {
      const t = start + ((k + random()) / n) * (1 - start);
      for (let attempt = 0; attempt < 30; attempt++) {
        const x = random();
        const taste = random() < 0.05 ? pick(T) : Math.max(0, cdf.findIndex((c) => c >= x));
        const item = sampleFrom(taste);
        if (release[item] <= t && !seen.has(item)) {
          seen.add(item);
          events.push({ u, i: item, t });
          break;
        }
      }
    }
  }
  const cutoff = [...events.map((e) => e.t)].sort((a, b) => a - b)[Math.floor(events.length * 0.8)];
  const trainEvents = events.filter((e) => e.t < cutoff);
  const test = new Map<number, Set<number>>();
  const trainedUsers = new Set(trainEvents.map((e) => e.u));
  for (const e of events) {
    if (e.t < cutoff || !trainedUsers.has(e.u)) continue;
    if (!test.has(e.u)) test.set(e.u, new Set());
    test.get(e.u)!.add(e.i);
  }
  return {
    name: `synthetic (seed ${opts.seed ?? 42}: ${nItems} items, ${nUsers} users, ${T} tastes)`,
    train: toInteractions(nUsers, nItems, trainEvents.map((e) => [e.u, e.i, 1] as [number, number, number])),
    test,
    itemTokens,
    itemNames: itemTokens.map((_, i) => `item ${i}`),
    interactions: events.length,
  };
}

/** Parses one CSV line (quoted fields may hold commas and doubled quotes). */
export function parseCsvLine(line: string): string[] {
  const out: string[] = [];
  let field = '';
  let quoted = false;
  for (let k = 0; k < line.length; k++) {
    const ch = line[k];
    if (quoted) {
      if (ch === '"' && line[k + 1] === '"') {
        field += '"';
        k++;
      } else if (ch === '"') quoted = false;
      else field += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') {
      out.push(field);
      field = '';
    } else field += ch;
  }
  out.push(field);
  return out;
}

async function csv(file: string): Promise<string[][]> {
  const text = await fs.readFile(file, 'utf8');
  return text.split(/\r?\n/).slice(1).filter(Boolean).map(parseCsvLine);
}

/** Where the MovieLens small data set is, from the project root. */
export const MOVIELENS_DIR = path.resolve(process.cwd(), '../shared/data/ml-latest-small');

/** MovieLens ml-latest-small as described above. */
export async function movieLensDataset(dir = MOVIELENS_DIR, seed = 7): Promise<Dataset & { movies: { movieId: string; title: string; genres: string[]; tags: string[] }[] }> {
  const [movies, ratings, tags] = await Promise.all([csv(path.join(dir, 'movies.csv')), csv(path.join(dir, 'ratings.csv')), csv(path.join(dir, 'tags.csv'))]);
  const itemIndex = new Map(movies.map((m, i) => [m[0], i]));
  const userIndex = new Map<string, number>();
  const perUser: number[][] = [];
  for (const [userId, movieId] of ratings) {
    const i = itemIndex.get(movieId);
    if (i === undefined) continue;
    let u = userIndex.get(userId);
    if (u === undefined) {
      u = userIndex.size;
      userIndex.set(userId, u);
      perUser.push([]);
    }
    perUser[u].push(i);
  }
  const random = prng(seed);
  const triples: [number, number, number][] = [];
  const test = new Map<number, Set<number>>();
  const inTrain = new Set<string>();
  perUser.forEach((items, u) => {
    const shuffled = [...items];
    for (let k = shuffled.length - 1; k > 0; k--) {
      const j = Math.floor(random() * (k + 1));
      [shuffled[k], shuffled[j]] = [shuffled[j], shuffled[k]];
    }
    const nTest = Math.round(shuffled.length * 0.2);
    test.set(u, new Set(shuffled.slice(0, nTest)));
    for (const i of shuffled.slice(nTest)) {
      triples.push([u, i, 1]);
      inTrain.add(`${u}:${i}`);
    }
  });
  const movieTags = movies.map(() => new Set<string>());
  for (const [userId, movieId, tag] of tags) {
    const u = userIndex.get(userId);
    const i = itemIndex.get(movieId);
    if (u === undefined || i === undefined || !inTrain.has(`${u}:${i}`)) continue;
    movieTags[i].add(tag.trim().toLowerCase());
  }
  const itemTokens = movies.map((m, i) => [
    ...m[2].split('|').filter((g) => g && g !== '(no genres listed)').map((g) => `g:${g}`),
    ...[...movieTags[i]].map((t) => `t:${t}`),
  ]);
  for (const [u, items] of test) if (items.size === 0) test.delete(u);
  return {
    name: `MovieLens ml-latest-small (${ratings.length} ratings, ${perUser.length} users, ${movies.length} movies)`,
    train: toInteractions(perUser.length, movies.length, triples),
    test,
    itemTokens,
    itemNames: movies.map((m) => m[1]),
    interactions: ratings.length,
    movies: movies.map((m, i) => ({ movieId: m[0], title: m[1], genres: m[2].split('|').filter((g) => g !== '(no genres listed)'), tags: [...movieTags[i]] })),
  };
}
