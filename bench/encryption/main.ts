/**
 * `npm run bench -- encryption [throughput|latency|license]`: what content protection costs.
 * - throughput: the packager's path from FFmpeg's fMP4 bytes to stored parts (parser → segmenter →
 *   storage) over one 720p ladder output and its audio, clear vs cbcs vs cenc, in one process; target
 *   cbcs ÷ clear ≥ 0.9.
 * - latency: the live benchmark's part-listed delay (RTMP publish → part listed at the edge) on a
 *   clear stream and then on a cbcs stream, on one platform each, in one run; target p95 ≤ clear + 20 ms.
 * - license: ClearKey licences per second from one control-api process (concurrent clients, one token
 *   each), against GET /healthz on the same server as the reference.
 * Progress on stderr, a Markdown report on stdout, raw results in bench/results/encryption-<timestamp>.json.
 * Knobs: BENCH_ENC_MEDIA (s of media, 20), BENCH_ENC_RUNS (5), BENCH_LIVE_WARMUP (6), BENCH_LIVE_FOLLOW (30),
 * BENCH_LICENSE_SECONDS (5), BENCH_LICENSE_CONCURRENCY (32).
 */
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { FsBlobStore, loadConfig, signPlaybackToken } from '../../platform/index.js';
import { CencTrackEncryptor, CmafSegmenter, Fmp4StreamParser, joinChunks, type TrackDefaults, type TrackInfo } from '../../packager/index.js';
import { runLiveBench } from '../live/live-bench.js';
import { num } from '../scale/main.js';
import { api, signUp, startTestPlatform } from '../live/harness.js';

type Scheme = 'clear' | 'cbcs' | 'cenc';

/** Throughput of one scheme: MB of media per second of packaging, median of the runs. */
interface ThroughputResult {
  scheme: Scheme;
  /** Parts and segments written to the filesystem store, as the packager does. */
  mbPerSecond: number;
  runsSeconds: number[];
  /** The same without storage: the packager's CPU alone. */
  cpuMbPerSecond: number;
}

const SCENARIOS = ['throughput', 'latency', 'license'] as const;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];

/** FFmpeg's ladder output as the packager receives it: 720p H.264 and AAC, one moof per frame. */
function makeMedia(dir: string, seconds: number): { video: string; audio: string } {
  const video = path.join(dir, 'video.mp4');
  const audio = path.join(dir, 'audio.mp4');
  const flags = ['-movflags', 'empty_moov+default_base_moof+frag_every_frame', '-f', 'mp4'];
  execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', `testsrc2=size=1280x720:rate=30:duration=${seconds}`, '-c:v', 'libx264', '-preset', 'veryfast',
    '-b:v', '3000k', '-g', '60', '-keyint_min', '60', '-sc_threshold', '0', '-pix_fmt', 'yuv420p', ...flags, video]);
  execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', `sine=frequency=440:sample_rate=48000:duration=${seconds}`, '-c:a', 'aac', '-b:a', '128k', ...flags, audio]);
  return { video, audio };
}

/** Packages one file's bytes into stored parts and segments as the live pipeline does; resolves when stored. */
async function packageOnce(bytes: Buffer, scheme: Scheme, blobs: FsBlobStore | undefined, prefix: string): Promise<void> {
  const parser = new Fmp4StreamParser();
  const key = { kid: crypto.randomBytes(16), key: crypto.randomBytes(16) };
  const encryptor = scheme === 'clear' ? undefined : new CencTrackEncryptor({ scheme, key, constantIv: crypto.randomBytes(16) });
  const writes: Promise<void>[] = [];
  const put = (key: string, body: Buffer) => {
    if (blobs) writes.push(blobs.put(key, body, { contentType: 'video/mp4' }));
  };
  let segmenter: CmafSegmenter | undefined;
  parser.on('init', (init: { bytes: Buffer; track: TrackInfo; defaults: TrackDefaults }) => {
    const out = encryptor ? encryptor.init(init.bytes, init.defaults) : init.bytes;
    put(`${prefix}/init.mp4`, out);
    segmenter = new CmafSegmenter({
      timescale: init.track.timescale, kind: init.track.kind, partTargetSeconds: 0.334, segmentTargetSeconds: 2,
      ...(init.track.kind === 'audio' ? { joinChunks: (chunks: Buffer[]) => joinChunks(chunks, init.defaults) } : {}),
      ...(encryptor ? { sealPart: (chunks: Buffer[]) => encryptor.fragment(chunks) } : {}),
    });
    segmenter.on('part', (p) => put(`${prefix}/part-${p.msn}.${p.partIndex}.m4s`, p.bytes));
    segmenter.on('segment', (s) => put(`${prefix}/seg-${s.msn}.m4s`, s.bytes));
  });
  parser.on('fragment', (f) => segmenter?.push(f));
  // FFmpeg writes to a pipe in 64 KiB reads.
  for (let i = 0; i < bytes.length; i += 65536) parser.push(bytes.subarray(i, i + 65536));
  segmenter?.flush();
  await Promise.all(writes);
}

async function throughput(runs: number, seconds: number, log: (l: string) => void): Promise<ThroughputResult[]> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'bench-enc-'));
  try {
    log(`bench: encoding ${seconds} s of 720p30 + AAC as the ladder writes it`);
    const media = makeMedia(dir, seconds);
    const files = [await fs.readFile(media.video), await fs.readFile(media.audio)];
    const mb = files.reduce((a, b) => a + b.length, 0) / 1e6;
    const out: ThroughputResult[] = [];
    const times = new Map<Scheme, number[]>([['clear', []], ['cbcs', []], ['cenc', []]]);
    const cpu = new Map<Scheme, number[]>([['clear', []], ['cbcs', []], ['cenc', []]]);
    // Interleaved, so drift in the machine's load touches every scheme alike.
    for (let r = 0; r < runs + 1; r++) {
      for (const scheme of ['clear', 'cbcs', 'cenc'] as const) {
        const blobs = new FsBlobStore(path.join(dir, `store-${scheme}-${r}`));
        const t0 = performance.now();
        await packageOnce(files[0], scheme, blobs, 'video');
        await packageOnce(files[1], scheme, blobs, 'audio');
        const s = (performance.now() - t0) / 1000;
        if (r > 0) times.get(scheme)!.push(s); // run 0 warms the JIT and the page cache
        await fs.rm(path.join(dir, `store-${scheme}-${r}`), { recursive: true, force: true });
        const c0 = performance.now();
        await packageOnce(files[0], scheme, undefined, 'video');
        await packageOnce(files[1], scheme, undefined, 'audio');
        if (r > 0) cpu.get(scheme)!.push((performance.now() - c0) / 1000);
      }
      log(`bench: throughput run ${r}/${runs} done`);
    }
    for (const [scheme, t] of times) out.push({ scheme, runsSeconds: t, mbPerSecond: mb / median(t), cpuMbPerSecond: mb / median(cpu.get(scheme)!) });
    return out;
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

interface LatencyResult {
  scheme: 'clear' | 'cbcs';
  rendition: string;
  p50: number;
  p95: number;
  observed: number;
}

async function latency(env: NodeJS.ProcessEnv, log: (l: string) => void): Promise<LatencyResult[]> {
  const live = loadConfig({ NODE_ENV: 'test' }).live;
  const out: LatencyResult[] = [];
  for (const scheme of ['clear', 'cbcs'] as const) {
    log(`bench: live part listing, ${scheme}`);
    const r = await runLiveBench({
      measure: { partListing: true, player: false },
      ladder: live.ladder, x264Preset: live.x264Preset, partTarget: live.partTargetSeconds, segmentSeconds: live.segmentSeconds,
      warmupSeconds: num(env, 'BENCH_LIVE_WARMUP', 6), followSeconds: num(env, 'BENCH_LIVE_FOLLOW', 30), playerSeconds: 0,
      publish: { width: 1280, height: 720, fps: 30, gopSeconds: 2 },
      ...(scheme === 'cbcs'
        ? { stream: { encryption: 'cbcs' }, platformEnv: { KEY_ENCRYPTION_KEY: crypto.randomBytes(32).toString('hex'), PLAYBACK_SIGNING_KEY: crypto.randomBytes(32).toString('hex') } }
        : {}),
      log,
    });
    for (const l of r.partListing ?? []) out.push({ scheme, rendition: l.rendition, p50: l.delay.p50, p95: l.delay.p95, observed: l.observed });
  }
  return out;
}

interface LicenseResult {
  licensesPerSecond: number;
  healthzPerSecond: number;
  p99Ms: number;
  errors: number;
}

async function license(env: NodeJS.ProcessEnv, log: (l: string) => void): Promise<LicenseResult> {
  const signing = crypto.randomBytes(32).toString('hex');
  const platform = await startTestPlatform({ KEY_ENCRYPTION_KEY: crypto.randomBytes(32).toString('hex'), PLAYBACK_SIGNING_KEY: signing, LICENSE_REQUESTS_PER_MINUTE: '1000000', LOG_LEVEL: 'error' });
  try {
    const token = await signUp(platform.api);
    const stream = (await api(platform.api, 'POST', '/v1/live-streams', { title: 'bench', encryption: 'cbcs' }, token)).body as { id: string };
    const keys = await Promise.all([0, 1, 2].map(async (p) => {
      const res = await fetch(`${platform.api}/internal/v1/content-keys`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-internal-token': platform.config.internalToken }, body: JSON.stringify({ mediaId: stream.id, period: `bench:${p}` }) });
      return ((await res.json()) as { kid: string }).kid;
    }));
    const seconds = num(env, 'BENCH_LICENSE_SECONDS', 5);
    const concurrency = num(env, 'BENCH_LICENSE_CONCURRENCY', 32);
    // One token per client, as players each hold their own (the rate limiter keys by token).
    const tokens = Array.from({ length: concurrency }, () => signPlaybackToken(signing, { sub: stream.id, ttlSeconds: 3600 }));
    const body = (i: number) => JSON.stringify({ kids: [Buffer.from(keys[i % keys.length], 'hex').toString('base64url')], type: 'temporary' });
    const load = async (request: (client: number, i: number) => Promise<Response>): Promise<{ rps: number; latencies: number[]; errors: number }> => {
      const until = performance.now() + seconds * 1000;
      const latencies: number[] = [];
      let errors = 0;
      await Promise.all(tokens.map(async (_t, c) => {
        for (let i = 0; performance.now() < until; i++) {
          const t0 = performance.now();
          const res = await request(c, i);
          await res.arrayBuffer();
          if (!res.ok) errors++;
          latencies.push(performance.now() - t0);
        }
      }));
      return { rps: latencies.length / seconds, latencies, errors };
    };
    log(`bench: GET /healthz for ${seconds} s, ${concurrency} clients`);
    const health = await load(() => fetch(`${platform.api}/healthz`));
    log(`bench: POST /v1/drm/clearkey for ${seconds} s, ${concurrency} clients`);
    const lic = await load((c, i) => fetch(`${platform.api}/v1/drm/clearkey?token=${tokens[c]}`, { method: 'POST', body: body(i) }));
    return { licensesPerSecond: lic.rps, healthzPerSecond: health.rps, p99Ms: pct(lic.latencies, 99), errors: lic.errors };
  } finally {
    await platform.close();
  }
}

/** Runs the named scenarios (all by default) and prints the report. */
export async function runEncryptionBenchCli(env: NodeJS.ProcessEnv, args: string[]): Promise<void> {
  const log = (l: string) => console.error(l);
  const chosen = args.filter((a) => (SCENARIOS as readonly string[]).includes(a));
  const scenarios = chosen.length ? chosen : [...SCENARIOS];
  const startedAt = new Date().toISOString();
  const results: { throughput?: ThroughputResult[]; latency?: LatencyResult[]; license?: LicenseResult } = {};
  // One scenario failing (a port taken between picking and binding it, say) does not hide the others' numbers.
  const attempt = async <T>(name: string, fn: () => Promise<T>): Promise<T | undefined> => {
    try {
      return await fn();
    } catch (err) {
      log(`bench: ${name} failed: ${(err as Error).stack ?? String(err)}`);
      return undefined;
    }
  };
  if (scenarios.includes('throughput')) results.throughput = await attempt('throughput', () => throughput(Math.max(1, num(env, 'BENCH_ENC_RUNS', 5)), num(env, 'BENCH_ENC_MEDIA', 20), log));
  if (scenarios.includes('latency')) results.latency = await attempt('latency', () => latency(env, log));
  if (scenarios.includes('license')) results.license = await attempt('license', () => license(env, log));

  const command = `${Object.keys(env).filter((k) => /^BENCH_/.test(k)).map((k) => `${k}=${env[k]} `).join('')}npm run bench -- encryption${args.length ? ` ${args.join(' ')}` : ''}`;
  const lines = [`### Encryption run ${startedAt}`, '', `Command: \`${command}\` · ${os.cpus().length} × ${os.cpus()[0]?.model.trim() ?? 'cpu'} · Node ${process.version}`, ''];
  const targets = ['| target | goal | measured | |', '|---|---|---|---|'];
  if (results.throughput) {
    const clear = results.throughput.find((t) => t.scheme === 'clear')!;
    lines.push('| packaging | parse → parts → storage, MB/s (median) | ÷ clear | CPU only (no storage), MB/s | ÷ clear |', '|---|---:|---:|---:|---:|');
    for (const t of results.throughput) lines.push(`| ${t.scheme} | ${t.mbPerSecond.toFixed(1)} | ${(t.mbPerSecond / clear.mbPerSecond).toFixed(2)} | ${t.cpuMbPerSecond.toFixed(0)} | ${(t.cpuMbPerSecond / clear.cpuMbPerSecond).toFixed(2)} |`);
    lines.push('');
    const cbcs = results.throughput.find((t) => t.scheme === 'cbcs')!;
    const ratio = cbcs.mbPerSecond / clear.mbPerSecond;
    targets.push(`| packaging throughput cbcs ÷ clear | ≥ 0.9 | ${ratio.toFixed(2)} | ${ratio >= 0.9 ? 'PASS' : 'MISS'} |`);
  }
  if (results.latency) {
    lines.push('| part listed after its last frame was pushed | rendition | p50 s | p95 s | parts |', '|---|---|---:|---:|---:|');
    for (const l of results.latency) lines.push(`| ${l.scheme} | ${l.rendition} | ${l.p50.toFixed(3)} | ${l.p95.toFixed(3)} | ${l.observed} |`);
    lines.push('');
    for (const rendition of new Set(results.latency.map((l) => l.rendition))) {
      const c = results.latency.find((l) => l.scheme === 'clear' && l.rendition === rendition);
      const e = results.latency.find((l) => l.scheme === 'cbcs' && l.rendition === rendition);
      if (!c || !e) continue;
      const diff = (e.p95 - c.p95) * 1000;
      targets.push(`| part-listed delay p95, cbcs − clear (${rendition}) | ≤ +20 ms | ${diff >= 0 ? '+' : ''}${diff.toFixed(0)} ms | ${diff <= 20 ? 'PASS' : 'MISS'} |`);
    }
  }
  if (results.license) {
    const l = results.license;
    lines.push(`ClearKey licences: ${l.licensesPerSecond.toFixed(0)} req/s (p99 ${l.p99Ms.toFixed(1)} ms, ${l.errors} errors); GET /healthz on the same server: ${l.healthzPerSecond.toFixed(0)} req/s (licences ÷ healthz ${(l.licensesPerSecond / l.healthzPerSecond).toFixed(2)}).`, '');
    targets.push(`| licence endpoint | measured (no goal set) | ${l.licensesPerSecond.toFixed(0)} req/s | — |`);
  }
  lines.push('#### Targets', '', ...targets, '');
  console.log(lines.join('\n'));
  const dir = path.resolve('bench', 'results');
  await fs.mkdir(dir, { recursive: true });
  const file = path.join(dir, `encryption-${startedAt.replace(/[:.]/g, '-')}.json`);
  await fs.writeFile(file, JSON.stringify({ startedAt, command, results }, null, 2) + '\n');
  log(`bench: wrote ${path.relative(process.cwd(), file)}`);
}
