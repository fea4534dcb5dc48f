/**
 * One step of the LL-HLS viewer simulation: N viewers spread over worker threads (viewer-worker.ts)
 * follow the simulated live rendition through one cache for a fixed window.
 */
import { Worker } from 'node:worker_threads';
import type { Target } from './scenarios.js';
import { cpuSeconds, epochMs, summarize, type LatencySummary } from './stats.js';
import type { ViewerWorkerInput, ViewerWorkerOutput } from './viewer-worker.js';

/** Shape of a viewer step. */
export interface ViewerStepOptions {
  viewers: number;
  workers: number;
  /** Viewers join over this long, then run `warmMs` before the measured window. */
  spreadMs: number;
  warmMs: number;
  measureMs: number;
  partMs: number;
  partsPerSegment: number;
  simPartBytes: number;
}

/** What one step measured. */
export interface ViewerStepResult {
  server: Target['name'];
  viewers: number;
  /** Viewers that got going (first playlist answered). */
  started: number;
  measureSeconds: number;
  /** Parts fetched in the window, and the share of the parts published in it (1 = everyone kept up). */
  parts: number;
  keepUp: number;
  partMs: LatencySummary;
  /** Part published at the origin → the viewer has it (blocking wait + playlist + part). */
  lagMs: LatencySummary;
  errors: number;
  errorSamples: string[];
  /** CPU used in the window, in cores: the cache, and the load generator (this process). */
  serverCores: number;
  loadgenCores: number;
}

/** Runs one step and aggregates the workers' samples. */
export async function runViewerStep(t: Target, o: ViewerStepOptions): Promise<ViewerStepResult> {
  const startAt = epochMs() + 300;
  const measureFrom = startAt + o.spreadMs + o.warmMs;
  const measureTo = measureFrom + o.measureMs;
  const per = Math.ceil(o.viewers / o.workers);
  const inputs: ViewerWorkerInput[] = [];
  for (let left = o.viewers; left > 0; left -= per) {
    inputs.push({
      host: '127.0.0.1',
      port: t.port,
      viewers: Math.min(per, left),
      partsPerSegment: o.partsPerSegment,
      simPartBytes: o.simPartBytes,
      startAt,
      spreadMs: o.spreadMs,
      measureFrom,
      measureTo,
    });
  }
  let server0 = 0;
  let load0 = process.cpuUsage();
  // CPU is sampled at the window's edges, on timers of the (otherwise idle) main thread.
  const sampled = new Promise<{ server: number; load: number }>((resolve) => {
    setTimeout(() => {
      server0 = cpuSeconds(t.pids());
      load0 = process.cpuUsage();
      setTimeout(() => {
        const d = process.cpuUsage(load0);
        resolve({ server: cpuSeconds(t.pids()) - server0, load: (d.user + d.system) / 1e6 });
      }, measureTo - epochMs());
    }, measureFrom - epochMs());
  });
  const outputs = await Promise.all(inputs.map((input) => runWorker(input)));
  const cpu = await sampled;
  const seconds = o.measureMs / 1000;
  const all = <K extends 'partMs' | 'lagMs'>(k: K) => outputs.flatMap((w) => w[k]);
  const parts = outputs.reduce((n, w) => n + w.parts, 0);
  return {
    server: t.name,
    viewers: o.viewers,
    started: outputs.reduce((n, w) => n + w.started, 0),
    measureSeconds: seconds,
    parts,
    keepUp: parts / ((o.viewers * o.measureMs) / o.partMs),
    partMs: summarize(all('partMs')),
    lagMs: summarize(all('lagMs')),
    errors: outputs.reduce((n, w) => n + w.errors, 0),
    errorSamples: outputs.flatMap((w) => w.errorSamples).slice(0, 5),
    serverCores: cpu.server / seconds,
    loadgenCores: cpu.load / seconds,
  };
}

function runWorker(input: ViewerWorkerInput): Promise<ViewerWorkerOutput> {
  return new Promise((resolve, reject) => {
    const w = new Worker(new URL('./viewer-worker.js', import.meta.url), { workerData: input });
    w.once('message', (m: ViewerWorkerOutput | { fatal: string }) => {
      void w.terminate();
      if ('fatal' in m) reject(new Error(`viewer worker failed: ${m.fatal}`));
      else resolve(m);
    });
    w.once('error', reject);
  });
}
