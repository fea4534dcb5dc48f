/**
 * The VOD benchmark: for a complex and a low-complexity 1080p clip, the real platform's upload →
 * first playable → ready times; our ladder (FFmpeg + CMAF segmenter + storage) against the same FFmpeg
 * command run by hand into files; and the per-title ladder's bits and SSIM against a fixed ladder
 * (1080p 5000k / 720p 2800k / 480p 1400k / 360p 800k) encoded the same way at fixed bitrates.
 */
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import * as tus from 'tus-js-client';
import { FsBlobStore, createLogger, loadConfig, type Rung } from '../../platform/index.js';
import { startPlatform } from '../../main.js';
import { ffmpegLadderArgs, inspectSource, packageVod, perTitleLadder, type VodSource } from '../../packager/index.js';

const execFileP = promisify(execFile);

/** The fixed ladder per-title is measured against. */
export const FIXED_LADDER: Rung[] = [
  { name: '1080p', height: 1080, videoBitrateKbps: 5000 },
  { name: '720p', height: 720, videoBitrateKbps: 2800 },
  { name: '480p', height: 480, videoBitrateKbps: 1400 },
  { name: '360p', height: 360, videoBitrateKbps: 800 },
];

/** The two sources: lavfi graphs, rendered once to a high-quality file. */
export const CLIPS = {
  // Temporal noise over a moving pattern: every frame differs everywhere (sports-like texture).
  complex: 'testsrc2=size=1920x1080:rate=30,noise=alls=10:allf=t',
  // Flat colour bars with one moving box: what a cartoon or a slide deck costs.
  simple: "smptehdbars=size=1920x1080:rate=30,drawbox=x='mod(t*240,1700)':y=480:w=160:h=120:color=white:t=fill",
} as const;
export type ClipName = keyof typeof CLIPS;

/** Knobs of a run. */
export interface VodBenchOptions {
  seconds: number;
  preset: string;
  segmentSeconds: number;
  clips: ClipName[];
}

/** One rung's measurement. */
export interface RungResult {
  name: string;
  height: number;
  kbps: number;
  ssim: number;
}

/** Everything measured for one clip. */
export interface ClipResult {
  clip: ClipName;
  durationSeconds: number;
  uploadToPlayableSeconds: number;
  uploadToReadySeconds: number;
  oursWallSeconds: number;
  handWallSeconds: number;
  perTitle: RungResult[];
  fixed: RungResult[];
  probeKbps: number;
}

const progress = (msg: string) => process.stderr.write(`[vod bench] ${msg}\n`);

async function makeSource(dir: string, clip: ClipName, seconds: number): Promise<string> {
  const file = path.join(dir, `${clip}.mp4`);
  if (fs.existsSync(file)) return file;
  progress(`rendering the ${clip} source (${seconds} s of 1080p)`);
  await execFileP('ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-y',
    '-f', 'lavfi', '-i', CLIPS[clip], '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
    '-t', String(seconds), '-c:v', 'libx264', '-preset', 'veryfast', '-crf', '14', '-pix_fmt', 'yuv420p', '-c:a', 'aac', file,
  ], { maxBuffer: 1 << 24 });
  return file;
}

/** Every SSIM_STEP-th frame is compared (the same frame numbers on both sides): a third of the decode work's comparisons. */
const SSIM_STEP = 3;

/** Mean SSIM (All) of a rendition's HLS playlist against the source scaled to its size. */
export async function ssimOf(playlist: string, source: string, width: number, height: number): Promise<number> {
  const pick = `select='not(mod(n\\,${SSIM_STEP}))',setpts=N/TB`;
  const { stderr } = await execFileP('ffmpeg', [
    '-hide_banner', '-nostats', '-protocol_whitelist', 'file', '-i', playlist, '-i', source,
    '-lavfi', `[1:v]${pick},scale=${width}:${height}:flags=bicubic,format=yuv420p[ref];[0:v]${pick},format=yuv420p[dist];[dist][ref]ssim`,
    '-f', 'null', '-',
  ], { maxBuffer: 1 << 26 });
  const m = /SSIM .*All:([0-9.]+)/.exec(stderr);
  if (!m) throw new Error(`no SSIM in ffmpeg output: ${stderr.slice(-400)}`);
  return Number(m[1]);
}

/** Upload over tus to a running one-process platform; seconds from upload complete to playable and ready. */
async function platformTimes(file: string, dataDir: string, opts: VodBenchOptions): Promise<{ playable: number; ready: number }> {
  const ports = await Promise.all(Array.from({ length: 5 }, () => freePort()));
  const config = loadConfig({
    NODE_ENV: 'test', DATA_DIR: dataDir, BIND_HOST: '127.0.0.1', LOG_LEVEL: 'warn', SIGNUP_MAX_PER_IP: '100',
    API_PORT: String(ports[0]), RTMP_PORT: String(ports[1]), INGEST_HTTP_PORT: String(ports[2]), ORIGIN_PORT: String(ports[3]), EDGE_PORT: String(ports[4]),
    VOD_X264_PRESET: opts.preset, VOD_SEGMENT_SECONDS: String(opts.segmentSeconds),
  });
  const platform = await startPlatform(config, undefined, createLogger('warn'));
  const api = `http://127.0.0.1:${ports[0]}`;
  try {
    const json = async (method: string, p: string, body?: unknown, token?: string) => {
      const res = await fetch(api + p, { method, headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) }, body: body ? JSON.stringify(body) : undefined });
      return (await res.json()) as Record<string, any>;
    };
    const email = `bench-${Date.now()}@example.com`;
    await json('POST', '/v1/accounts', { email, password: 'bench-password-1' });
    const { accessToken } = await json('POST', '/v1/auth/login', { email, password: 'bench-password-1' });
    const upload = await json('POST', '/v1/uploads', { asset: { title: path.basename(file) } }, accessToken);
    await new Promise<void>((resolve, reject) => new tus.Upload(fs.createReadStream(file), { endpoint: upload.url, uploadSize: fs.statSync(file).size, chunkSize: 64 * 1024 * 1024, onSuccess: () => resolve(), onError: reject }).start());
    const uploadedAt = Date.now();
    for (;;) {
      const up = await json('GET', `/v1/uploads/${upload.id}`, undefined, accessToken);
      if (up.assetId) {
        const asset = await json('GET', `/v1/assets/${up.assetId}`, undefined, accessToken);
        if (asset.status === 'errored') throw new Error(`asset errored: ${JSON.stringify(asset.errors)}`);
        if (asset.status === 'ready') return { playable: (Date.parse(asset.playableFrom) - uploadedAt) / 1000, ready: (Date.parse(asset.readyAt) - uploadedAt) / 1000 };
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  } finally {
    await platform.close();
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/** The same FFmpeg command as the VOD ladder, writing each output to a file instead of a pipe. */
async function handRun(file: string, source: VodSource, rungs: Rung[], crf: number, opts: VodBenchOptions, dir: string): Promise<number> {
  const ladder = ffmpegLadderArgs({
    input: { kind: 'url', url: file },
    source: { width: source.width, height: source.height, fps: source.fps, hasAudio: source.audio.length > 0 },
    rungs, segmentSeconds: opts.segmentSeconds, x264Preset: opts.preset,
    vod: { crf, audioTracks: source.audio.map((_, index) => ({ index, name: index ? `audio-${index}` : 'audio' })) },
  });
  const args = ladder.args.map((a) => (/^pipe:\d+$/.test(a) && a !== 'pipe:2' ? path.join(dir, `hand-${a.slice(5)}.mp4`) : a));
  const started = Date.now();
  await new Promise<void>((resolve, reject) => {
    const child = spawn('ffmpeg', ['-y', ...args], { stdio: ['ignore', 'ignore', 'ignore'] });
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`hand-run ffmpeg exited ${code}`))));
  });
  return (Date.now() - started) / 1000;
}

/** Packages with our pipeline into a store; wall seconds and per-rung bits and SSIM. */
async function ours(file: string, source: VodSource, rungs: Rung[], crf: number | undefined, opts: VodBenchOptions, dir: string, label: string): Promise<{ wall: number; rungs: RungResult[] }> {
  const root = path.join(dir, `store-${label}`);
  const blobs = new FsBlobStore(root);
  const started = Date.now();
  const result = await packageVod({ blobs, logger: createLogger('warn') }, {
    assetId: label, file, source, rungs, crf, segmentSeconds: opts.segmentSeconds, x264Preset: opts.preset, ffmpegPath: 'ffmpeg',
  });
  const wall = (Date.now() - started) / 1000;
  const out: RungResult[] = [];
  for (const r of result.renditions.filter((x) => x.kind === 'video')) {
    progress(`SSIM of ${label} ${r.name}`);
    const playlist = path.join(root, 'objects', 'vod', label, r.name, 'index.m3u8');
    out.push({ name: r.name, height: r.height ?? 0, kbps: (r.averageBandwidth ?? r.bandwidth) / 1000, ssim: await ssimOf(playlist, file, r.width ?? 0, r.height ?? 0) });
  }
  return { wall, rungs: out };
}

/** Runs every clip. */
export async function runVodBench(opts: VodBenchOptions): Promise<ClipResult[]> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vod-bench-'));
  const results: ClipResult[] = [];
  try {
    for (const clip of opts.clips) {
      const file = await makeSource(dir, clip, opts.seconds);
      const source = await inspectSource(file, { ffmpegPath: 'ffmpeg', ffprobePath: 'ffprobe' });
      progress(`${clip}: upload → playable → ready on the platform`);
      const times = await platformTimes(file, path.join(dir, `platform-${clip}`), opts);
      const plan = await perTitleLadder(file, source, { ffmpegPath: 'ffmpeg', ladder: FIXED_LADDER });
      progress(`${clip}: per-title ladder ${plan.rungs.map((r) => `${r.name}@${r.videoBitrateKbps}k`).join(' ')}`);
      const perTitle = await ours(file, source, plan.rungs, plan.crf, opts, dir, `${clip}-per-title`);
      progress(`${clip}: the same FFmpeg ladder by hand`);
      const hand = await handRun(file, source, plan.rungs, plan.crf, opts, dir);
      progress(`${clip}: fixed ladder`);
      const fixed = await ours(file, source, FIXED_LADDER, undefined, opts, dir, `${clip}-fixed`);
      results.push({
        clip, durationSeconds: source.durationSeconds,
        uploadToPlayableSeconds: times.playable, uploadToReadySeconds: times.ready,
        oursWallSeconds: perTitle.wall, handWallSeconds: hand,
        perTitle: perTitle.rungs, fixed: fixed.rungs, probeKbps: plan.probeKbps,
      });
      fs.rmSync(path.join(dir, `platform-${clip}`), { recursive: true, force: true });
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return results;
}
