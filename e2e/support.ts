/** Helpers for end-to-end tests: free ports, a platform on temp dirs, an FFmpeg RTMP publisher, polling. */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import * as tus from 'tus-js-client';
import { loadConfig, createLogger } from '../platform/index.js';
import { startPlatform, type RunningPlatform } from '../main.js';

const execFileP = promisify(execFile);

/** A free TCP port on loopback. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/** A platform running every service on free ports and a temp DATA_DIR. */
export interface TestPlatform extends RunningPlatform {
  api: string;
  edge: string;
  origin: string;
  rtmpBase: string;
  dataDir: string;
}

/** Starts the whole platform in this process; env overrides go through the real config loader. */
export async function startTestPlatform(env: Record<string, string> = {}): Promise<TestPlatform> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sf-e2e-'));
  const [api, rtmp, ingestHttp, origin, edge] = await Promise.all([freePort(), freePort(), freePort(), freePort(), freePort()]);
  const config = loadConfig({
    NODE_ENV: 'test',
    DATA_DIR: dataDir,
    BIND_HOST: '127.0.0.1',
    API_PORT: String(api),
    RTMP_PORT: String(rtmp),
    INGEST_HTTP_PORT: String(ingestHttp),
    ORIGIN_PORT: String(origin),
    EDGE_PORT: String(edge),
    LOG_LEVEL: process.env.E2E_LOG_LEVEL ?? 'warn',
    LIVE_LADDER: '360p:360:700,240p:240:350',
    LIVE_RECONNECT_GRACE: '3',
    // Every test account signs up from 127.0.0.1.
    SIGNUP_MAX_PER_IP: '1000',
    ...env,
  });
  const running = await startPlatform(config, undefined, createLogger(config.logLevel));
  return {
    ...running,
    api: `http://127.0.0.1:${api}`,
    edge: `http://127.0.0.1:${edge}`,
    origin: `http://127.0.0.1:${origin}`,
    rtmpBase: `rtmp://127.0.0.1:${rtmp}/live`,
    dataDir,
    close: async () => {
      await running.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** JSON over HTTP with an optional bearer token; returns status and parsed body. */
export async function api<T = any>(base: string, method: string, p: string, body?: unknown, token?: string): Promise<{ status: number; body: T }> {
  const res = await fetch(base + p, {
    method,
    headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: body !== undefined ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

/** Creates a creator account and returns an access token. */
export async function signUp(base: string, email = `e2e-${Date.now()}-${Math.random().toString(36).slice(2)}@example.com`): Promise<string> {
  const password = 'e2e-password-123';
  const created = await api(base, 'POST', '/v1/accounts', { email, password });
  if (created.status !== 201) throw new Error(`sign-up failed: ${created.status} ${JSON.stringify(created.body)}`);
  const login = await api(base, 'POST', '/v1/auth/login', { email, password });
  if (login.status !== 200) throw new Error(`login failed: ${login.status}`);
  return login.body.accessToken;
}

/** Publishes an FFmpeg test pattern over RTMP, like OBS would (H.264 + AAC in FLV). */
export function publishTestPattern(rtmpUrl: string, opts: { seconds?: number; size?: string; fps?: number } = {}): ChildProcess {
  const { seconds = 60, size = '640x360', fps = 30 } = opts;
  const child = spawn(
    'ffmpeg',
    [
      '-hide_banner', '-loglevel', 'error', '-re',
      '-f', 'lavfi', '-i', `testsrc2=size=${size}:rate=${fps}`,
      '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
      '-t', String(seconds),
      '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-g', String(fps), '-pix_fmt', 'yuv420p',
      '-c:a', 'aac', '-b:a', '96k',
      '-f', 'flv', rtmpUrl,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  child.stderr?.setEncoding('utf8');
  let err = '';
  child.stderr?.on('data', (d) => (err = (err + d).slice(-4000)));
  child.on('exit', (code) => {
    if (code && code !== 255) process.stderr.write(`publisher exited ${code}: ${err}\n`);
  });
  return child;
}

/** Stops a child process and waits for it. */
export async function stop(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const done = new Promise((r) => child.once('exit', r));
  child.kill('SIGINT');
  const t = setTimeout(() => child.kill('SIGKILL'), 3000);
  await done;
  clearTimeout(t);
}

/** Polls fn until it returns a truthy value or the deadline passes. */
export async function waitUntil<T>(what: string, fn: () => Promise<T | undefined | null | false>, timeoutMs = 20_000, everyMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastErr: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      lastErr = err;
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`timed out waiting for ${what}${lastErr ? `: ${(lastErr as Error).message}` : ''}`);
}

/** GET as text; throws on non-2xx. */
export async function getText(url: string): Promise<string> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`${url} → ${res.status}`);
  return res.text();
}

/** ffprobe's first video stream codec name for a URL (HLS, DASH or file). */
export async function probeVideoCodec(url: string): Promise<string> {
  const { stdout } = await execFileP('ffprobe', ['-v', 'error', '-rw_timeout', '15000000', '-select_streams', 'v:0', '-show_entries', 'stream=codec_name', '-of', 'csv=p=0', url], { timeout: 60_000 });
  return stdout.trim().split('\n')[0];
}

/** Decodes up to `seconds` × 30 video frames from a URL and returns how many decoded. */
export async function decodeFrames(url: string, seconds = 2): Promise<number> {
  const { stdout } = await execFileP(
    'ffmpeg',
    // Counted in frames, not output seconds: a timeline gap (reconnect) must not end the read early.
    ['-hide_banner', '-nostats', '-loglevel', 'error', '-i', url, '-frames:v', String(Math.round(seconds * 30)), '-map', '0:v:0', '-f', 'null', '-progress', 'pipe:1', '-'],
    { timeout: 90_000 },
  );
  const m = [...stdout.matchAll(/^frame=(\d+)/gm)].pop();
  return m ? Number(m[1]) : 0;
}

/** Uploads a file over tus as a new asset (`asset`: the upload's asset fields) and waits until it is ready; returns the asset. */
export async function uploadAsset(base: string, token: string, file: string, asset: Record<string, unknown>, timeoutMs = 150_000): Promise<any> {
  const created = await api(base, 'POST', '/v1/uploads', { asset }, token);
  if (created.status !== 201) throw new Error(`upload refused: ${created.status} ${JSON.stringify(created.body)}`);
  await new Promise<void>((resolve, reject) => new tus.Upload(fs.readFileSync(file), { endpoint: created.body.url, onSuccess: () => resolve(), onError: reject }).start());
  const id = await waitUntil('asset created', async () => (await api(base, 'GET', `/v1/uploads/${created.body.id}`, undefined, token)).body.assetId as string | null, 10_000, 50);
  return waitUntil('asset ready', async () => {
    const a = (await api(base, 'GET', `/v1/assets/${id}`, undefined, token)).body;
    if (a.status === 'errored') throw new Error(JSON.stringify(a.errors));
    return a.status === 'ready' ? a : undefined;
  }, timeoutMs, 250);
}
