/**
 * Parent side of the RTMP worker process: forks it, relays IPC, watches a heartbeat, and replaces it
 * at once when it dies or hangs (second line of containment behind the per-connection guards). Ports
 * chosen by the OS on the first start are kept for restarts, so publishers reconnect to the same one.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { childModuleCommand, type Logger } from '../platform/index.js';
import type { ParentMessage, RtmpWorkerConfig, WorkerMessage } from './worker-protocol.js';

/** Typed events of {@link WorkerHost}. */
export interface WorkerHostEvents {
  message: [msg: WorkerMessage];
  ready: [info: { pid: number; rtmpPort: number; flvPort: number; generation: number }];
  /** A worker ended; `expected` when close() asked for it. */
  exit: [info: { pid: number; code: number | null; signal: NodeJS.Signals | null; expected: boolean; generation: number }];
}

/** Process supervision settings. */
export interface WorkerHostConfig {
  worker: RtmpWorkerConfig;
  heartbeatIntervalMs: number;
  heartbeatTimeoutMs: number;
  /** Module to fork instead of the bundled rtmp-worker-main. */
  entry?: string;
}

/**
 * How to start the worker: the compiled rtmp-worker-main.js beside this file, or, when running from
 * TypeScript sources (tests, `vite-node`), the .ts entry through vite-node.
 */
export function workerCommand(entry?: string): { modulePath: string; args: string[] } {
  if (entry) return { modulePath: entry, args: [] };
  return childModuleCommand(import.meta.url, 'rtmp-worker-main');
}

/** Runs and supervises the RTMP worker process. */
export class WorkerHost extends EventEmitter<WorkerHostEvents> {
  private child?: ChildProcess;
  private generation = 0;
  private closing = false;
  private heartbeat?: NodeJS.Timeout;
  private restartTimer?: NodeJS.Timeout;
  private lastPong = 0;
  private seq = 0;
  private recentStarts: number[] = [];

  constructor(
    private readonly deps: { logger: Logger },
    private readonly config: WorkerHostConfig,
  ) {
    super();
  }

  /** The current worker's pid. */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** The RTMP port: as configured, or the OS's choice once the first worker listens. */
  get rtmpPort(): number {
    return this.config.worker.rtmpPort;
  }

  /** Starts the first worker; resolves when it listens. */
  start(): Promise<void> {
    return new Promise((resolve, reject) => {
      const onReady = () => {
        this.off('exit', onExit);
        resolve();
      };
      const onExit = (info: { code: number | null; signal: NodeJS.Signals | null }) => {
        this.off('ready', onReady);
        this.closing = true; // a worker that cannot start once will not start on retry either
        clearTimeout(this.restartTimer);
        reject(new Error(`rtmp worker exited during start (code ${info.code}, signal ${info.signal})`));
      };
      this.once('ready', onReady);
      this.once('exit', onExit);
      this.spawn();
    });
  }

  /** Sends a message to the current worker (dropped while none is connected). */
  send(msg: ParentMessage): void {
    const child = this.child;
    if (child?.connected) child.send(msg, (err) => err && this.deps.logger.debug({ err }, 'ipc send failed'));
  }

  /** Asks the worker to close its connections, then kills it if it lingers. */
  async close(): Promise<void> {
    this.closing = true;
    clearTimeout(this.restartTimer);
    clearInterval(this.heartbeat);
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    this.send({ type: 'shutdown' });
    const term = setTimeout(() => child.kill('SIGTERM'), 2000);
    const kill = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(term);
    clearTimeout(kill);
  }

  private spawn(): void {
    const generation = ++this.generation;
    const { modulePath, args } = workerCommand(this.config.entry);
    const child = fork(modulePath, args, { stdio: ['ignore', 'pipe', 'pipe', 'ipc'], execArgv: [] });
    this.child = child;
    this.recentStarts.push(Date.now());
    const log = this.deps.logger.child({ workerPid: child.pid });
    const relay = (stream: NodeJS.ReadableStream | null) => {
      stream?.setEncoding('utf8');
      stream?.on('data', (text: string) => {
        for (const line of text.split('\n')) if (line.trim()) log.debug({ line: line.slice(0, 500) }, 'rtmp worker output');
      });
    };
    relay(child.stdout);
    relay(child.stderr);
    child.on('message', (msg: WorkerMessage) => {
      if (generation !== this.generation) return;
      if (msg.type === 'pong') {
        this.lastPong = Date.now();
      } else if (msg.type === 'ready') {
        // Keep OS-chosen ports for the next worker: publishers and readers find it where they left it.
        this.config.worker.rtmpPort = msg.rtmpPort;
        this.config.worker.flvPort = msg.flvPort;
        this.startHeartbeat(child);
        log.info({ rtmpPort: msg.rtmpPort, generation }, 'rtmp worker ready');
        this.emit('ready', { pid: child.pid ?? 0, rtmpPort: msg.rtmpPort, flvPort: msg.flvPort, generation });
      } else {
        this.emit('message', msg);
      }
    });
    child.on('error', (err) => log.error({ err }, 'rtmp worker process error'));
    child.on('exit', (code, signal) => {
      if (this.child === child) this.child = undefined;
      clearInterval(this.heartbeat);
      const expected = this.closing;
      if (!expected) log.error({ code, signal }, 'rtmp worker died; restarting');
      this.emit('exit', { pid: child.pid ?? 0, code, signal, expected, generation });
      if (!this.closing) this.scheduleRestart();
    });
    child.send({ type: 'init', config: this.config.worker } satisfies ParentMessage);
  }

  /** Restarts at once; a crash loop (several starts in 10 s) backs off up to 5 s. */
  private scheduleRestart(): void {
    const now = Date.now();
    this.recentStarts = this.recentStarts.filter((t) => now - t < 10_000);
    const delay = this.recentStarts.length < 3 ? 0 : Math.min(5000, 250 * 2 ** (this.recentStarts.length - 3));
    this.restartTimer = setTimeout(() => {
      if (!this.closing) this.spawn();
    }, delay);
  }

  /** A worker that stops answering pings (an endless loop in a parser) is killed and replaced. */
  private startHeartbeat(child: ChildProcess): void {
    clearInterval(this.heartbeat);
    this.lastPong = Date.now();
    this.heartbeat = setInterval(() => {
      if (Date.now() - this.lastPong > this.config.heartbeatTimeoutMs) {
        this.deps.logger.error({ workerPid: child.pid }, 'rtmp worker unresponsive; killing it');
        clearInterval(this.heartbeat);
        child.kill('SIGKILL');
        return;
      }
      this.send({ type: 'ping', seq: ++this.seq });
    }, this.config.heartbeatIntervalMs);
    this.heartbeat.unref();
  }
}
