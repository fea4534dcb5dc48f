/**
 * The live pipeline at scale (`npm run bench -- scale [catalog|render|blocking|packager]`):
 *  - catalog: Redis traffic per part and per stream with a one-hour DVR window, event log against the
 *    whole-state-per-part catalog it replaced (both measured here, on the same Redis);
 *  - render: origin CPU per playlist request (full and delta, one-hour window) for memoised hits, over
 *    HTTP with wrk, and the render cost after a new part with and without the segment-text memo;
 *  - blocking: one origin process on Redis, fed by a simulated packager (S streams × 4 renditions),
 *    with V viewers per rendition doing blocking delta reloads: requests/s and release latency;
 *  - packager: N streams of recorded ladder output replayed in real time through the packager's
 *    pipelines (FFmpeg excluded): CPU, memory and event-loop lag per stream.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import v8 from 'node:v8';
import vm from 'node:vm';
import { Worker } from 'node:worker_threads';
import { Redis } from 'ioredis';
import { FsBlobStore, RedisLiveState, createLogger, createMetricsRegistry, type Logger } from '../../platform/index.js';
import { startRedis, type TestServer } from '../../platform/test-support/servers.js';
import { Fmp4StreamParser, LiveCatalog, RenditionPipeline, createLiveMetrics, toRenditionPlaylist, type SegmentTextMemo } from '../../packager/index.js';
import { startNodeChild } from '../edge/children.js';
import { cpuSeconds, epochMs, round, summarize, type LatencySummary } from '../edge/stats.js';
import { ensureTool } from '../edge/tools.js';
import { runWrk } from '../edge/wrk.js';
import { SimStream } from './sim-stream.js';
import type { BlockingWorkerInput, BlockingWorkerOutput } from './blocking-worker.js';

/** Knobs of a scale run (defaults in parentheses are the targets). */
export interface ScaleOptions {
  partSeconds: number;
  partsPerSegment: number;
  dvrWindowSeconds: number;
  catalogSeconds: number;
  wrkSeconds: number;
  blockingStreams: number;
  viewersPerRendition: number;
  blockingSeconds: number;
  packagerStreams: number[];
  packagerSeconds: number;
  /** When set, the origin processes write V8 CPU profiles here (--cpu-prof). */
  originProfileDir?: string;
}

export const SCALE_SCENARIOS = ['catalog', 'render', 'blocking', 'packager'] as const;
export type ScaleScenario = (typeof SCALE_SCENARIOS)[number];

const RENDITIONS = ['720p', '480p', '360p', 'audio'] as const;

/** Redis traffic of one catalog design. */
export interface CatalogTraffic {
  design: string;
  parts: number;
  seconds: number;
  /** Bytes Redis received (commands) and sent (replies, pub/sub and reads of two origins) per part and rendition. */
  inPerPart: number;
  outPerPart: number;
  /** Per stream of 4 renditions, bytes/s into Redis. */
  inPerStreamPerSecond: number;
}

export interface RenderResult {
  segments: number;
  fullBytes: number;
  deltaBytes: number;
  /** In-process render after a new part, µs: without memo (every segment rendered), with the segment-text memo. */
  fullRenderUs: number;
  fullMemoRenderUs: number;
  deltaMemoRenderUs: number;
  /** HTTP hits of a memoised response, wrk -c64 on one origin process. */
  hits: { what: string; rps: number; cpuUsPerRequest: number; p99Ms: number }[];
}

export interface BlockingResult {
  streams: number;
  renditions: number;
  viewers: number;
  seconds: number;
  requestsPerSecond: number;
  responseBytes: number;
  latencyMs: LatencySummary;
  originCores: number;
  /** How late the simulated packager published against its schedule, ms (part of the latency). */
  publishLateMs: LatencySummary;
  errors: number;
  errorSamples: string[];
}

export interface PackagerStep {
  streams: number;
  cpuCores: number;
  /** Live JS heap + Buffers after a full GC, above what was live before the step's pipelines. */
  memoryMiB: number;
  /** The process's resident set at the end of the step. */
  rssMiB: number;
  loopDelayP99Ms: number;
  partDelayP99Ms: number;
}

export interface ScaleResult {
  startedAt: string;
  options: ScaleOptions;
  catalog?: CatalogTraffic[];
  render?: RenderResult;
  blocking?: BlockingResult;
  packager?: { steps: PackagerStep[]; perStream: { cpuCores: number; memoryMiB: number } };
}

/** Node flags that make a child write a CPU profile, when asked for. */
const profileArgs = (o: ScaleOptions) => (o.originProfileDir ? ['--cpu-prof', `--cpu-prof-dir=${o.originProfileDir}`] : []);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Bytes Redis received and sent so far (INFO stats). */
async function redisBytes(admin: Redis): Promise<{ in: number; out: number }> {
  const info = await admin.info('stats');
  const get = (k: string) => Number(new RegExp(`${k}:(\\d+)`).exec(info)?.[1] ?? 0);
  return { in: get('total_net_input_bytes'), out: get('total_net_output_bytes') };
}

/** A stream pre-filled with a full DVR window, published as fast as Redis takes it. */
async function prefilled(catalog: LiveCatalog, o: ScaleOptions, streamId: string, segments: number): Promise<SimStream> {
  const s = new SimStream(catalog, { streamId, renditions: RENDITIONS, partSeconds: o.partSeconds, partsPerSegment: o.partsPerSegment, dvrWindowSeconds: o.dvrWindowSeconds, epoch: 'e1' });
  await catalog.putStream(s.streamState());
  for (let k = 0; k < segments * o.partsPerSegment; k++) {
    s.advance();
    if (k % o.partsPerSegment === o.partsPerSegment - 1) await s.publish();
  }
  await s.publish();
  return s;
}

/** Catalog traffic: event log vs whole state per part, same cadence and window, two listening origins. */
async function catalogScenario(redisUrl: string, o: ScaleOptions, log: (l: string) => void): Promise<CatalogTraffic[]> {
  const logger = createLogger('silent');
  const admin = new Redis(redisUrl, { protocol: 2 });
  const states = [0, 1, 2].map(() => new RedisLiveState({ logger }, { url: redisUrl, keyPrefix: 'cat:' }));
  const [pub, ...listeners] = states;
  const catalog = new LiveCatalog(pub);
  try {
    const segments = Math.round(o.dvrWindowSeconds / (o.partSeconds * o.partsPerSegment));
    log(`scale catalog: pre-filling ${segments} segments × ${RENDITIONS.length} renditions`);
    const stream = await prefilled(catalog, o, 'cat1', segments);
    // Two origins following: with the event log they fold what the announcement carries; with the
    // whole-state design each re-read the state on every announcement (as the origin's view did).
    for (const l of listeners) {
      await new LiveCatalog(l).watch(() => {});
      await l.listen('live.updates', (m) => {
        const [streamId, rendition, ...rest] = m.split(' ');
        if (rest.length === 0 && rendition !== '*') void l.get(`live:${streamId}:r:${rendition}:whole`);
      });
    }
    const run = async (design: string, publish: () => Promise<void>): Promise<CatalogTraffic> => {
      const parts = Math.round(o.catalogSeconds / o.partSeconds);
      const before = await redisBytes(admin);
      const started = Date.now();
      for (let k = 0; k < parts; k++) {
        stream.advance();
        await publish();
        await sleep(Math.max(0, started + (k + 1) * o.partSeconds * 1000 - Date.now()));
      }
      const after = await redisBytes(admin);
      const seconds = (Date.now() - started) / 1000;
      const perPart = parts * RENDITIONS.length;
      log(`scale catalog: ${design}: ${Math.round((after.in - before.in) / perPart)} B in per part`);
      return { design, parts: perPart, seconds, inPerPart: (after.in - before.in) / perPart, outPerPart: (after.out - before.out) / perPart, inPerStreamPerSecond: (after.in - before.in) / seconds };
    };
    const events = await run('event log (now)', () => stream.publish());
    // The design it replaced: every change SETs the rendition's whole state and announces it.
    const whole = await run('whole state per part (before)', async () => {
      for (const t of stream.timelines) {
        t.acknowledge(Infinity);
        const s = t.state();
        await pub.set(`live:cat1:r:${s.rendition}:whole`, JSON.stringify(s), 6 * 3600_000);
        await pub.notify('live.updates', `cat1 ${s.rendition}`);
      }
    });
    return [events, whole];
  } finally {
    for (const s of states) await s.close();
    await admin.quit();
  }
}

/** Mean µs of fn over enough runs to last ~0.5 s. */
function timeUs(fn: () => void): number {
  fn();
  let n = 0;
  const started = performance.now();
  while (performance.now() - started < 500) {
    fn();
    n++;
  }
  return ((performance.now() - started) * 1000) / n;
}

/** Origin CPU per playlist request for a one-hour window, and the render cost behind a miss. */
async function renderScenario(redisUrl: string, o: ScaleOptions, log: (l: string) => void): Promise<RenderResult> {
  const logger = createLogger('silent');
  const pub = new RedisLiveState({ logger }, { url: redisUrl, keyPrefix: 'render:' });
  const catalog = new LiveCatalog(pub);
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'sf-scale-render-'));
  try {
    const segments = Math.round(o.dvrWindowSeconds / (o.partSeconds * o.partsPerSegment));
    const stream = await prefilled(catalog, o, 'r1', segments);
    const state = stream.timelines[0].state();
    const siblings = stream.timelines.slice(1).map((t) => t.state());
    const memo: SegmentTextMemo = new WeakMap();
    const full = toRenditionPlaylist(state, { siblings, memo });
    const delta = toRenditionPlaylist(state, { siblings, memo, skip: true });
    // A miss: a new part changes the playlist, the segments do not.
    const fullRenderUs = timeUs(() => toRenditionPlaylist(state, { siblings }));
    const fullMemoRenderUs = timeUs(() => toRenditionPlaylist(state, { siblings, memo }));
    const deltaMemoRenderUs = timeUs(() => toRenditionPlaylist(state, { siblings, memo, skip: true }));
    log(`scale render: full ${full.length} B, render ${fullRenderUs.toFixed(0)} µs, with memo ${fullMemoRenderUs.toFixed(0)} µs`);

    const wrk = ensureTool('wrk', 'wrk', log);
    const origin = await startNodeChild('../scale/origin-child.js', { redisUrl, keyPrefix: 'render:', dataDir }, profileArgs(o));
    const hits: RenderResult['hits'] = [];
    const measure = async (what: string, pid: number, url: string, headers: string[] = []) => {
      const cpu0 = cpuSeconds([pid]);
      const r = await runWrk({ binary: wrk, url, threads: 1, connections: 64, seconds: o.wrkSeconds, headers });
      const cpu = cpuSeconds([pid]) - cpu0;
      hits.push({ what, rps: r.rps, cpuUsPerRequest: (cpu * 1e6) / r.requests, p99Ms: r.latencyMs.p99 });
      log(`scale render: ${what}: ${Math.round(r.rps)} rps, ${((cpu * 1e6) / r.requests).toFixed(1)} µs CPU/request`);
    };
    try {
      const base = `http://127.0.0.1:${origin.port}/live/r1/720p/index.m3u8`;
      await fetch(base).then((r) => r.arrayBuffer());
      await measure('full playlist (1 h window)', origin.pid, base);
      await measure('full playlist, gzip', origin.pid, base, ['Accept-Encoding: gzip']);
      await measure('delta playlist (_HLS_skip=YES)', origin.pid, `${base}?_HLS_skip=YES`);
    } finally {
      await origin.stop();
    }
    // The reference: bare node:http answering the same delta bytes, measured the same way.
    const bare = await startNodeChild('../scale/bare-child.js', { body: Buffer.from(delta).toString('base64') });
    try {
      await measure('reference: bare node:http, same delta bytes', bare.pid, `http://127.0.0.1:${bare.port}/`);
    } finally {
      await bare.stop();
    }
    return { segments: state.segments.length, fullBytes: full.length, deltaBytes: delta.length, fullRenderUs, fullMemoRenderUs, deltaMemoRenderUs, hits };
  } finally {
    await pub.close();
    await fs.rm(dataDir, { recursive: true, force: true });
  }
}

/** One origin process, S streams × 4 renditions published on schedule, V blocking viewers per rendition. */
async function blockingScenario(redisUrl: string, o: ScaleOptions, log: (l: string) => void): Promise<BlockingResult> {
  const logger = createLogger('silent');
  const pub = new RedisLiveState({ logger }, { url: redisUrl, keyPrefix: 'block:' });
  const catalog = new LiveCatalog(pub);
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'sf-scale-block-'));
  const prefillSegments = 4;
  const streams: SimStream[] = [];
  for (let s = 0; s < o.blockingStreams; s++) streams.push(await prefilled(catalog, o, `b${s}`, prefillSegments));
  const origin = await startNodeChild('../scale/origin-child.js', { redisUrl, keyPrefix: 'block:', dataDir }, profileArgs(o));
  const partMs = o.partSeconds * 1000;
  const streamOffsetMs = partMs / o.blockingStreams;
  const t0 = epochMs() + 500;
  const warmMs = 3000;
  const measureFrom = t0 + warmMs;
  const measureTo = measureFrom + o.blockingSeconds * 1000;
  const firstIndex = prefillSegments * o.partsPerSegment;
  const late: number[] = [];
  let publishing = true;
  // The simulated packager: each stream publishes its next part on its own schedule.
  const packager = (async () => {
    let k = 0;
    while (publishing) {
      for (let s = 0; s < streams.length; s++) {
        const due = t0 + s * streamOffsetMs + k * partMs;
        const wait = due - epochMs();
        if (wait > 0) await sleep(wait);
        if (!publishing) return;
        const at = epochMs();
        await streams[s].publishPart();
        if (at >= measureFrom && at < measureTo) late.push(at - due);
      }
      k++;
    }
  })();
  const viewers: [string, string, number][] = [];
  for (let s = 0; s < streams.length; s++) for (const r of RENDITIONS) for (let v = 0; v < o.viewersPerRendition; v++) viewers.push([`b${s}`, r, s]);
  const workers = 2;
  log(`scale blocking: ${streams.length} streams × ${RENDITIONS.length} renditions, ${viewers.length} viewers on one origin process`);
  try {
    const cpu0 = { at: 0, cpu: 0 };
    const sampler = setTimeout(() => {
      cpu0.at = epochMs();
      cpu0.cpu = cpuSeconds([origin.pid]);
    }, measureFrom - epochMs());
    const cpuEnd = new Promise<number>((resolve) => setTimeout(() => resolve((cpuSeconds([origin.pid]) - cpu0.cpu) / ((epochMs() - cpu0.at) / 1000)), measureTo - epochMs()));
    const outs = await Promise.all(
      Array.from({ length: workers }, (_, w) => {
        const input: BlockingWorkerInput = {
          port: origin.port,
          viewers: viewers.filter((_, i) => i % workers === w),
          t0,
          streamOffsetMs,
          partMs,
          partsPerSegment: o.partsPerSegment,
          firstIndex,
          measureFrom,
          measureTo,
        };
        return new Promise<BlockingWorkerOutput>((resolve, reject) => {
          const worker = new Worker(new URL('./blocking-worker.js', import.meta.url), { workerData: input });
          worker.once('message', (m: BlockingWorkerOutput & { fatal?: string }) => (m.fatal ? reject(new Error(m.fatal)) : resolve(m)));
          worker.once('error', reject);
        });
      }),
    );
    const originCores = await cpuEnd;
    clearTimeout(sampler);
    const lag = outs.flatMap((x) => x.lagMs);
    const responses = outs.reduce((a, x) => a + x.responses, 0);
    return {
      streams: streams.length,
      renditions: streams.length * RENDITIONS.length,
      viewers: viewers.length,
      seconds: o.blockingSeconds,
      requestsPerSecond: responses / o.blockingSeconds,
      responseBytes: responses ? outs.reduce((a, x) => a + x.bytes, 0) / responses : 0,
      latencyMs: summarize(lag),
      originCores,
      publishLateMs: summarize(late),
      errors: outs.reduce((a, x) => a + x.errors, 0),
      errorSamples: outs.flatMap((x) => x.errorSamples).slice(0, 5),
    };
  } finally {
    publishing = false;
    await packager;
    await origin.stop();
    await pub.close();
    await fs.rm(dataDir, { recursive: true, force: true });
  }
}

/** Recorded ladder output: one fMP4 stream per rendition, as FFmpeg writes it live (one fragment per frame). */
function recordLadder(seconds: number): Map<string, Buffer> {
  const common = ['-hide_banner', '-loglevel', 'error', '-movflags', 'empty_moov+default_base_moof+frag_every_frame', '-f', 'mp4', 'pipe:1'];
  const video = (h: number, kbps: number) => [
    '-f', 'lavfi', '-t', String(seconds), '-i', `testsrc2=size=${Math.round((h * 16) / 9 / 2) * 2}x${h}:rate=30`,
    '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-b:v', `${kbps}k`, '-g', '60', '-keyint_min', '60', '-sc_threshold', '0',
    '-force_key_frames', 'expr:gte(t,n_forced*2)', '-pix_fmt', 'yuv420p',
  ];
  const out = new Map<string, Buffer>();
  const run = (args: string[]) => execFileSync('ffmpeg', [...args, ...common], { maxBuffer: 256 * 1024 * 1024 });
  out.set('720p', run(video(720, 2800)));
  out.set('480p', run(video(480, 1400)));
  out.set('360p', run(video(360, 800)));
  out.set('audio', run(['-f', 'lavfi', '-t', String(seconds), '-i', 'sine=frequency=440:sample_rate=48000', '-c:a', 'aac', '-b:a', '128k', '-ac', '2']));
  return out;
}

/** Splits a recorded output into its init bytes and its fragments with their media times (seconds). */
function fragmentsOf(bytes: Buffer): { init: Buffer; fragments: { at: number; bytes: Buffer }[] } {
  const parser = new Fmp4StreamParser();
  let init: Buffer = Buffer.alloc(0);
  let timescale = 1;
  const fragments: { at: number; bytes: Buffer }[] = [];
  parser.on('init', (i) => {
    init = i.bytes;
    timescale = i.track.timescale;
  });
  parser.on('fragment', (f) => fragments.push({ at: f.decodeTime / timescale, bytes: Buffer.from(f.bytes) }));
  parser.push(bytes);
  return { init, fragments };
}

/** N streams of recorded ladder output through the packager's pipelines, in real time. */
async function packagerScenario(redisUrl: string, o: ScaleOptions, log: (l: string) => void): Promise<ScaleResult['packager']> {
  const warm = 4;
  const media = warm + o.packagerSeconds + 2;
  log(`scale packager: recording ${media} s of ladder output`);
  const recorded = new Map([...recordLadder(media)].map(([name, bytes]) => [name, fragmentsOf(bytes)]));
  const steps: PackagerStep[] = [];
  const logger: Logger = createLogger('silent');
  for (const n of o.packagerStreams) {
    const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'sf-scale-pkg-'));
    const state = new RedisLiveState({ logger }, { url: redisUrl, keyPrefix: `pkg${n}:` });
    const catalog = new LiveCatalog(state);
    const blobs = new FsBlobStore(dataDir);
    const registry = createMetricsRegistry(false);
    const metrics = createLiveMetrics(registry);
    const baseMem = liveBytes();
    const t0 = Date.now() + 200;
    const pipelines: { pipeline: RenditionPipeline; frags: { at: number; bytes: Buffer }[]; next: number }[] = [];
    for (let s = 0; s < n; s++) {
      for (const [name, rec] of recorded) {
        const pipeline = new RenditionPipeline(
          { blobs, catalog, logger, metrics },
          {
            streamId: `p${s}`,
            sessionId: `p${s}-session`,
            output: name === 'audio' ? { name, kind: 'audio', fd: 6, audioBitrateKbps: 128 } : { name, kind: 'video', fd: 3, height: Number(name.slice(0, -1)), width: 0, videoBitrateKbps: 1000, fps: 30 },
            partTarget: o.partSeconds,
            segmentTarget: o.partSeconds * o.partsPerSegment,
            dvrWindowSeconds: o.dvrWindowSeconds,
            firstMsn: 1,
            clock: { runOffsetSeconds: () => 0, wallClockMs: (t) => t0 + t * 1000 },
          },
        );
        pipeline.push(rec.init);
        pipelines.push({ pipeline, frags: rec.fragments, next: 0 });
      }
    }
    // Replay: every 5 ms, hand each pipeline the fragments whose media time has come, as the pipes would.
    const pump = setInterval(() => {
      const now = (Date.now() - t0) / 1000;
      for (const p of pipelines) {
        while (p.next < p.frags.length && p.frags[p.next].at <= now) p.pipeline.push(p.frags[p.next++].bytes);
      }
    }, 5);
    await sleep(200 + warm * 1000);
    const loop = monitorEventLoopDelay({ resolution: 5 });
    loop.enable();
    metrics.partDelay.reset();
    const cpu0 = process.cpuUsage();
    const wall0 = Date.now();
    await sleep(o.packagerSeconds * 1000);
    const cpu = process.cpuUsage(cpu0);
    loop.disable();
    const wall = (Date.now() - wall0) / 1000;
    const mem = liveBytes();
    const delay = (await metrics.partDelay.get()).values.filter((v) => v.metricName === 'packager_part_publish_delay_seconds_bucket');
    clearInterval(pump);
    for (const p of pipelines) await p.pipeline.finish();
    const step: PackagerStep = {
      streams: n,
      cpuCores: (cpu.user + cpu.system) / 1e6 / wall,
      memoryMiB: (mem - baseMem) / 2 ** 20,
      rssMiB: process.memoryUsage().rss / 2 ** 20,
      loopDelayP99Ms: loop.percentile(99) / 1e6,
      partDelayP99Ms: bucketPercentile(delay, 0.99) * 1000,
    };
    steps.push(step);
    log(`scale packager: ${n} streams: ${(step.cpuCores * 100).toFixed(1)}% CPU, +${step.memoryMiB.toFixed(1)} MiB live memory, loop p99 ${step.loopDelayP99Ms.toFixed(1)} ms`);
    await state.close();
    await fs.rm(dataDir, { recursive: true, force: true });
  }
  const [first, last] = [steps[0], steps.at(-1)!];
  const span = last.streams - first.streams || 1;
  return { steps, perStream: { cpuCores: (last.cpuCores - first.cpuCores) / span, memoryMiB: (last.memoryMiB - first.memoryMiB) / span } };
}

/** JS heap + external memory (Buffers) still reachable after a full collection. */
function liveBytes(): number {
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as () => void;
  // Twice: the first collection frees Buffers whose memory the second one then returns.
  gc();
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.external;
}

/** Upper bound of the bucket holding quantile q, from cumulative Prometheus buckets. */
function bucketPercentile(buckets: { labels: Record<string, string | number>; value: number }[], q: number): number {
  const byLe = new Map<number, number>();
  for (const b of buckets) {
    const le = Number(b.labels.le === '+Inf' ? Infinity : b.labels.le);
    byLe.set(le, (byLe.get(le) ?? 0) + b.value);
  }
  const sorted = [...byLe].sort((a, b) => a[0] - b[0]);
  const total = sorted.at(-1)?.[1] ?? 0;
  if (!total) return NaN;
  return sorted.find(([, c]) => c >= q * total)?.[0] ?? Infinity;
}

/** Runs the named scenarios on a throwaway redis-server. */
export async function runScaleBench(o: ScaleOptions, scenarios: readonly ScaleScenario[], log: (l: string) => void): Promise<ScaleResult> {
  const result: ScaleResult = { startedAt: new Date().toISOString(), options: o };
  const redis: TestServer = await startRedis();
  try {
    if (scenarios.includes('catalog')) result.catalog = await catalogScenario(redis.url, o, log);
    if (scenarios.includes('render')) result.render = await renderScenario(redis.url, o, log);
    if (scenarios.includes('blocking')) result.blocking = await blockingScenario(redis.url, o, log);
    if (scenarios.includes('packager')) result.packager = await packagerScenario(redis.url, o, log);
  } finally {
    await redis.stop();
  }
  return result;
}

export { round };
