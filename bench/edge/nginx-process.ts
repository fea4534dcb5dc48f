/** Debian's nginx as a child process with a generated config in a temp directory (the reference cache). */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { stopChild } from './children.js';
import { nginxConfig } from './nginx-config.js';
import { childPids } from './stats.js';
import { freePort, waitForPort } from './tools.js';

/** How to run the reference nginx. */
export interface NginxProcessOptions {
  binary: string;
  originPort: number;
  workers: number | 'auto';
  cacheMaxMiB: number;
}

/** A running nginx (master plus workers) listening on a loopback port. */
export class NginxProcess {
  port = 0;
  private child?: ChildProcess;
  private prefix = '';

  constructor(private readonly options: NginxProcessOptions) {}

  /** Writes the config into a fresh temp dir, starts nginx in the foreground and waits until it listens. */
  async start(): Promise<void> {
    this.prefix = await fs.mkdtemp(path.join(os.tmpdir(), 'sf-bench-nginx-'));
    // Workers drop to the `nobody` user when the master runs as root; they must reach the cache dir.
    await fs.chmod(this.prefix, 0o755);
    this.port = await freePort();
    const conf = path.join(this.prefix, 'nginx.conf');
    await fs.writeFile(conf, nginxConfig({ prefix: this.prefix, listenPort: this.port, ...this.options }));
    const child = spawn(this.options.binary, ['-p', this.prefix, '-c', conf, '-e', path.join(this.prefix, 'error.log')], {
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    this.child = child;
    const exited = new Promise<never>((_, reject) =>
      child.once('exit', (code) => reject(new Error(`nginx exited at start (code ${code}); see ${this.prefix}/error.log`))),
    );
    await Promise.race([waitForPort(this.port), exited]);
    child.removeAllListeners('exit');
  }

  /** The master and worker pids (for CPU accounting). */
  pids(): number[] {
    const master = this.child?.pid;
    return master ? [master, ...childPids(master)] : [];
  }

  /** The error log's text (for diagnostics in the report). */
  async errorLog(): Promise<string> {
    return fs.readFile(path.join(this.prefix, 'error.log'), 'utf8').catch(() => '');
  }

  /** Stops nginx (SIGTERM is its fast shutdown) and removes the temp dir with its cache. */
  async close(): Promise<void> {
    if (this.child) await stopChild(this.child);
    if (this.prefix) await fs.rm(this.prefix, { recursive: true, force: true });
  }
}
