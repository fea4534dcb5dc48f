import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';

/** A server started for the test run; stop() ends it and removes its files. */
export interface TestServer {
  url: string;
  stop(): Promise<void>;
}

/** Where Debian installs the Postgres 15 server binaries. */
export const POSTGRES_BIN = '/usr/lib/postgresql/15/bin';

/** Asks the kernel for a free loopback TCP port. */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Keeps the last few KB of a child's output for error messages. */
function captureOutput(child: ChildProcess): () => string {
  let out = '';
  const keep = (chunk: Buffer) => {
    out = (out + chunk.toString()).slice(-4000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  return () => out;
}

/** Polls check() until it resolves true; fails early when the child exits. */
async function waitReady(name: string, child: ChildProcess, output: () => string, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`${name} exited (${child.exitCode ?? child.signalCode}) before it was ready:\n${output()}`);
    }
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGKILL');
  throw new Error(`${name} not ready after 30 s:\n${output()}`);
}

/** Sends signal and waits for the child to exit, escalating to SIGKILL after 10 s. */
async function stopChild(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

/** Runs a command to completion, rejecting with its output on failure. */
async function run(cmd: string, args: string[], opts: { uid?: number; gid?: number; cwd: string }): Promise<void> {
  const child = spawn(cmd, args, { ...opts, stdio: ['ignore', 'pipe', 'pipe'] });
  const output = captureOutput(child);
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', resolve);
  });
  if (code !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${code}):\n${output()}`);
}

/**
 * The uid/gid Postgres must run as. Postgres refuses to start as root, so as root we switch to the
 * `postgres` user. Node's spawn({uid, gid}) does what `runuser -u postgres --` would, but signals
 * reach postgres itself (runuser answers SIGTERM with SIGKILL after 2 s, leaving shared memory behind).
 */
function postgresIdentity(): { uid?: number; gid?: number } {
  if (process.getuid?.() !== 0) return {};
  try {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
    return { uid, gid };
  } catch {
    throw new Error(
      'TEST_DATABASE_URL is not set and the tests run as root, but there is no `postgres` user to run a ' +
        'throwaway Postgres as (postgres refuses to run as root). Create one (useradd -r postgres) or set TEST_DATABASE_URL.',
    );
  }
}

/** initdb + postgres on a free loopback port in a temp dir; trust auth, durability off (tests only). */
export async function startPostgres(): Promise<TestServer> {
  const id = postgresIdentity();
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'streamforge-pg-'));
  try {
    if (id.uid !== undefined) await fs.chown(dir, id.uid, id.gid!);
    const dataDir = path.join(dir, 'data');
    await run(
      path.join(POSTGRES_BIN, 'initdb'),
      ['-D', dataDir, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C', '--no-sync'],
      { ...id, cwd: dir },
    );
    const port = await freePort();
    const settings = [
      'listen_addresses=127.0.0.1',
      `port=${port}`,
      `unix_socket_directories=${dir}`,
      'max_connections=200',
      'fsync=off',
      'synchronous_commit=off',
      'full_page_writes=off',
    ];
    const child = spawn(path.join(POSTGRES_BIN, 'postgres'), ['-D', dataDir, ...settings.flatMap((s) => ['-c', s])], {
      ...id,
      cwd: dir,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const output = captureOutput(child);
    const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
    await waitReady('postgres', child, output, async () => {
      const client = new pg.Client({ connectionString: url });
      client.on('error', () => {});
      try {
        await client.connect();
        await client.query('SELECT 1');
        return true;
      } finally {
        await client.end().catch(() => {});
      }
    });
    return {
      url,
      async stop() {
        await stopChild(child, 'SIGINT'); // SIGINT = fast shutdown: disconnects clients, no checkpoint wait
        await fs.rm(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await fs.rm(dir, { recursive: true, force: true });
    throw err;
  }
}

/** Sends one inline command over a raw socket; enough to see that redis answers PING. */
function redisPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.setTimeout(1000);
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (data) => {
      socket.destroy();
      resolve(data.toString().startsWith('+PONG'));
    });
    socket.once('error', () => resolve(false));
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
  });
}

/** redis-server on a free loopback port, no persistence. */
export async function startRedis(): Promise<TestServer> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'streamforge-redis-'));
  const port = await freePort();
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir],
    { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const output = captureOutput(child);
  try {
    await waitReady('redis-server', child, output, () => redisPing(port));
  } catch (err) {
    await fs.rm(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    url: `redis://127.0.0.1:${port}`,
    async stop() {
      await stopChild(child, 'SIGTERM');
      await fs.rm(dir, { recursive: true, force: true });
    },
  };
}

/** s3rver (a local S3 emulator) in its own process, on a free port, storing into a temp dir. */
export async function startS3rver(): Promise<TestServer> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'streamforge-s3-'));
  const port = await freePort();
  const bin = path.join(path.dirname(createRequire(import.meta.url).resolve('s3rver/package.json')), 'bin', 's3rver.js');
  const child = spawn(process.execPath, [bin, '--directory', dir, '--address', '127.0.0.1', '--port', String(port), '--silent'], {
    cwd: dir,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output = captureOutput(child);
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitReady('s3rver', child, output, async () => (await fetch(url)).status < 500);
  } catch (err) {
    await fs.rm(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    url,
    async stop() {
      await stopChild(child, 'SIGTERM');
      await fs.rm(dir, { recursive: true, force: true });
    },
  };
}
