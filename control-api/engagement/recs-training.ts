import { fork } from 'node:child_process';
import { childModuleCommand } from '../../platform/index.js';
import { recommendHybrid, toInteractions, trainHybrid, type Blend, type RecommenderOptions } from './recommender.js';

/** What the training child gets: interactions as flat (user, item, weight) triples and item tokens. */
export interface TrainingInput {
  nUsers: number;
  nItems: number;
  /** u0, i0, w0, u1, i1, w1, ... */
  triples: number[];
  itemTokens: string[][];
  /** Per user, items never to recommend besides their own (disliked ones). */
  exclude: number[][];
  perUser: number;
}

/** What it answers: per user the recommended item indices, best first, and the settings it chose. */
export interface TrainingOutput {
  recommendations: number[][];
  knnOptions: RecommenderOptions;
  blend: Blend;
  seconds: number;
}

/** Trains the hybrid and ranks every user's items (the child's work; pure). */
export function trainAndRank(input: TrainingInput): TrainingOutput {
  const t0 = performance.now();
  const triples: [number, number, number][] = [];
  for (let k = 0; k < input.triples.length; k += 3) triples.push([input.triples[k], input.triples[k + 1], input.triples[k + 2]]);
  const data = toInteractions(input.nUsers, input.nItems, triples);
  const model = trainHybrid(data, input.itemTokens);
  const recommendations = data.userItems.map((items, u) =>
    items.length === 0 ? [] : recommendHybrid(model, items, data.userWeights[u], input.perUser, input.exclude[u] ?? []),
  );
  return { recommendations, knnOptions: model.knnOptions, blend: model.blend, seconds: (performance.now() - t0) / 1000 };
}

/**
 * Runs trainAndRank in a child process, so seconds of training never stall the API's event loop;
 * the child is killed when `signal` aborts (the job's timeout).
 */
export function trainInChild(input: TrainingInput, signal?: AbortSignal): Promise<TrainingOutput> {
  const { modulePath, args } = childModuleCommand(import.meta.url, 'recs-train-main');
  return new Promise((resolve, reject) => {
    const child = fork(modulePath, args, { stdio: ['ignore', 'ignore', 'pipe', 'ipc'], execArgv: [], signal });
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-2000)));
    let answer: TrainingOutput | undefined;
    child.on('message', (msg: TrainingOutput) => (answer = msg));
    child.on('error', reject);
    child.on('exit', (code) => (answer ? resolve(answer) : reject(new Error(`recommendation training exited with ${code}: ${stderr}`))));
    child.send(input);
  });
}
