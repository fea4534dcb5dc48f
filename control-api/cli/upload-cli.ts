/**
 * `streamforge upload FILE --title T`: logs in (or takes a token), uploads over tus with a progress
 * bar, resumes an interrupted upload of the same file (Ctrl-C, a dropped network) from where the
 * server has it, waits for the asset with a second progress bar, and prints the playback URLs.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline/promises';
import * as tus from 'tus-js-client';

/** Where the CLI writes and what it reads. */
export interface CliIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  env: Record<string, string | undefined>;
  /** Aborting stops the upload (as Ctrl-C does); the next run resumes it. */
  signal?: AbortSignal;
  /** Where resumable uploads are remembered. Default ~/.config/streamforge/uploads.json. */
  stateFile?: string;
}

interface Options {
  file: string;
  title: string;
  description?: string;
  api: string;
  token?: string;
  email?: string;
  password?: string;
  wait: boolean;
  resume: boolean;
  chunkBytes: number;
}

const USAGE = `Usage: streamforge upload FILE --title TITLE [options]

Options:
  --title TITLE        asset title (default: the file name)
  --description TEXT   asset description
  --api URL            control API (default $STREAMFORGE_API or http://127.0.0.1:8080)
  --token TOKEN        access token (default $STREAMFORGE_TOKEN)
  --email EMAIL        log in with this account ($STREAMFORGE_EMAIL); the password comes from
                       $STREAMFORGE_PASSWORD or a prompt
  --no-wait            exit once uploaded instead of waiting for the asset to be ready
  --no-resume          start over even if an earlier upload of this file was interrupted
  --chunk-mib N        bytes per PATCH request, MiB (default 16)
`;

class UsageError extends Error {}

function parseArgs(argv: string[], env: CliIo['env']): Options {
  const [command, ...rest] = argv;
  if (command === '--help' || command === '-h' || command === 'help') throw new UsageError('');
  if (command !== 'upload') throw new UsageError(command ? `unknown command "${command}"` : 'no command given');
  const o: Partial<Options> & { wait: boolean; resume: boolean } = { wait: true, resume: true };
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i];
    const value = () => {
      const v = rest[++i];
      if (v === undefined) throw new UsageError(`${a} needs a value`);
      return v;
    };
    if (a === '--title') o.title = value();
    else if (a === '--description') o.description = value();
    else if (a === '--api') o.api = value();
    else if (a === '--token') o.token = value();
    else if (a === '--email') o.email = value();
    else if (a === '--no-wait') o.wait = false;
    else if (a === '--no-resume') o.resume = false;
    else if (a === '--chunk-mib') o.chunkBytes = Number(value()) * 1024 * 1024;
    else if (a === '--help' || a === '-h') throw new UsageError('');
    else if (a.startsWith('-')) throw new UsageError(`unknown option ${a}`);
    else if (!o.file) o.file = a;
    else throw new UsageError(`unexpected argument ${a}`);
  }
  if (!o.file) throw new UsageError('no FILE given');
  if (!(o.chunkBytes === undefined || (o.chunkBytes > 0 && Number.isFinite(o.chunkBytes)))) throw new UsageError('--chunk-mib must be a positive number');
  return {
    file: o.file,
    title: o.title ?? path.basename(o.file).replace(/\.[^.]+$/, ''),
    description: o.description,
    api: (o.api ?? env.STREAMFORGE_API ?? 'http://127.0.0.1:8080').replace(/\/$/, ''),
    token: o.token ?? env.STREAMFORGE_TOKEN,
    email: o.email ?? env.STREAMFORGE_EMAIL,
    password: env.STREAMFORGE_PASSWORD,
    wait: o.wait,
    resume: o.resume,
    chunkBytes: o.chunkBytes ?? 16 * 1024 * 1024,
  };
}

/** A one-line progress bar on stderr, redrawn in place on a terminal and every 10% otherwise. */
class ProgressBar {
  private lastDrawn = -1;
  private readonly started = Date.now();

  constructor(
    private readonly out: CliIo['stderr'],
    private readonly label: string,
  ) {}

  draw(done: number, total: number, unit: 'bytes' | 'percent', startedAt = 0): void {
    const fraction = total > 0 ? Math.min(1, done / total) : 0;
    const pct = Math.floor(fraction * 100);
    if (!this.out.isTTY && (pct < 100 ? Math.floor(pct / 10) === Math.floor(this.lastDrawn / 10) : this.lastDrawn === 100)) return;
    this.lastDrawn = pct;
    const width = 30;
    const bar = '#'.repeat(Math.round(fraction * width)).padEnd(width, '-');
    let detail = `${pct}%`;
    if (unit === 'bytes') {
      const seconds = Math.max(0.001, (Date.now() - this.started) / 1000);
      const speed = (done - startedAt) / seconds;
      const eta = speed > 0 ? Math.ceil((total - done) / speed) : undefined;
      detail += ` ${mib(done)}/${mib(total)} MiB ${mib(speed)} MiB/s${eta !== undefined ? ` ETA ${duration(eta)}` : ''}`;
    }
    this.out.write(`${this.out.isTTY ? '\r' : ''}${this.label} [${bar}] ${detail}${this.out.isTTY ? '\x1b[K' : '\n'}`);
  }

  end(): void {
    if (this.out.isTTY) this.out.write('\n');
  }
}

const mib = (n: number) => (n / 1024 / 1024).toFixed(1);
const duration = (s: number) => (s >= 3600 ? `${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60)}m` : s >= 60 ? `${Math.floor(s / 60)}m${s % 60}s` : `${s}s`);

async function call<T>(o: Options, method: string, p: string, body?: unknown, token?: string): Promise<T> {
  const res = await fetch(`${o.api}${p}`, {
    method,
    headers: { ...(body ? { 'content-type': 'application/json' } : {}), ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  const json = text ? (JSON.parse(text) as Record<string, unknown>) : {};
  if (!res.ok) throw new Error(`${method} ${p}: ${res.status} ${String(json.code ?? '')} ${String(json.detail ?? text)}`.trim());
  return json as T;
}

async function accessToken(o: Options, io: CliIo): Promise<string> {
  if (o.token) return o.token;
  let { email, password } = o;
  if (!email || !password) {
    if (!(process.stdin as { isTTY?: boolean }).isTTY) throw new UsageError('give --token, or --email with STREAMFORGE_PASSWORD (no terminal to prompt on)');
    const rl = createInterface({ input: process.stdin, output: io.stderr });
    try {
      email ??= await rl.question('Email: ');
      password ??= await rl.question('Password: ');
    } finally {
      rl.close();
    }
  }
  const pair = await call<{ accessToken: string }>(o, 'POST', '/v1/auth/login', { email, password });
  return pair.accessToken;
}

/** Remembered uploads by file fingerprint, so a second run resumes instead of starting over. */
function loadState(file: string): Record<string, { uploadId: string; url: string; api: string }> {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, { uploadId: string; url: string; api: string }>;
  } catch {
    return {};
  }
}

function saveState(file: string, state: Record<string, unknown>): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, JSON.stringify(state, null, 2), { mode: 0o600 });
}

/** Runs the CLI; resolves with the process exit code. */
export async function runCli(argv: string[], io: CliIo): Promise<number> {
  let o: Options;
  try {
    o = parseArgs(argv, io.env);
  } catch (err) {
    if (err instanceof UsageError) {
      if (err.message) io.stderr.write(`streamforge: ${err.message}\n\n`);
      io.stderr.write(USAGE);
      return err.message ? 2 : 0;
    }
    throw err;
  }
  let stat: fs.Stats;
  try {
    stat = fs.statSync(o.file);
  } catch {
    io.stderr.write(`streamforge: cannot read ${o.file}\n`);
    return 1;
  }
  try {
    const token = await accessToken(o, io);
    const stateFile = io.stateFile ?? path.join(os.homedir(), '.config', 'streamforge', 'uploads.json');
    const fingerprint = `${path.resolve(o.file)}:${stat.size}:${stat.mtimeMs}`;
    const state = loadState(stateFile);
    let previous = o.resume ? state[fingerprint] : undefined;
    if (previous && previous.api === o.api) {
      const up = await call<{ status: string; offset: number }>(o, 'GET', `/v1/uploads/${previous.uploadId}`, undefined, token).catch(() => undefined);
      if (!up || (up.status !== 'waiting' && up.status !== 'uploading')) previous = undefined;
      else io.stderr.write(`Resuming the earlier upload of ${path.basename(o.file)} at ${mib(up.offset)} MiB\n`);
    } else previous = undefined;

    let uploadId: string;
    let url: string;
    if (previous) ({ uploadId, url } = previous);
    else {
      const created = await call<{ id: string; url: string }>(o, 'POST', '/v1/uploads', { asset: { title: o.title, ...(o.description ? { description: o.description } : {}) } }, token);
      uploadId = created.id;
      url = created.url;
    }
    state[fingerprint] = { uploadId, url, api: o.api };
    saveState(stateFile, state);

    const bar = new ProgressBar(io.stderr, 'Uploading');
    let firstOffset = -1;
    const outcome = await new Promise<'done' | 'aborted'>((resolve, reject) => {
      const upload = new tus.Upload(fs.createReadStream(o.file), {
        ...(previous ? { uploadUrl: url } : { endpoint: url }),
        uploadSize: stat.size,
        chunkSize: o.chunkBytes,
        // A dropped network is retried for about two minutes, each retry resuming from the server's offset.
        retryDelays: [500, 1000, 3000, 5000, 10_000, 20_000, 30_000, 60_000],
        metadata: { filename: path.basename(o.file) },
        onProgress: (sent, total) => {
          if (firstOffset < 0) firstOffset = sent;
          bar.draw(sent, total, 'bytes', firstOffset);
        },
        onSuccess: () => resolve('done'),
        onError: (err) => reject(err),
      });
      const onAbort = () => void upload.abort().then(() => resolve('aborted'));
      if (io.signal?.aborted) return onAbort();
      io.signal?.addEventListener('abort', onAbort, { once: true });
      upload.start();
    });
    bar.end();
    if (outcome === 'aborted') {
      io.stderr.write('Interrupted: run the same command again to resume where it stopped.\n');
      return 130;
    }
    delete state[fingerprint];
    saveState(stateFile, state);

    const up = await call<{ assetId: string | null }>(o, 'GET', `/v1/uploads/${uploadId}`, undefined, token);
    io.stdout.write(`upload ${uploadId} complete; asset ${up.assetId}\n`);
    if (!o.wait || !up.assetId) return 0;

    const processing = new ProgressBar(io.stderr, 'Processing');
    let announcedPlayable = false;
    for (;;) {
      if (io.signal?.aborted) {
        processing.end();
        io.stderr.write(`Stopped waiting; the asset keeps processing: GET ${o.api}/v1/assets/${up.assetId}\n`);
        return 130;
      }
      const asset = await call<{ status: string; progress: { percent: number }; playableFrom: string | null; playback: { hls: string; dash: string }; errors: { code: string; message: string } | null }>(o, 'GET', `/v1/assets/${up.assetId}`, undefined, token);
      processing.draw(asset.progress.percent, 100, 'percent');
      if (asset.playableFrom && !announcedPlayable && asset.status === 'preparing') {
        announcedPlayable = true;
        processing.end();
        io.stderr.write(`Playable already (while the rest transcodes): ${asset.playback.hls}\n`);
      }
      if (asset.status === 'ready') {
        processing.end();
        io.stdout.write(`ready\nHLS:  ${asset.playback.hls}\nDASH: ${asset.playback.dash}\n`);
        return 0;
      }
      if (asset.status === 'errored') {
        processing.end();
        io.stderr.write(`The asset could not be made: ${asset.errors?.code}: ${asset.errors?.message}\n`);
        return 1;
      }
      await new Promise((r) => setTimeout(r, 1000));
    }
  } catch (err) {
    io.stderr.write(`streamforge: ${(err as Error).message}\n`);
    return 1;
  }
}
