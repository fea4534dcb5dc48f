/**
 * Keeps a live ladder FFmpeg running while its source is live: a process that dies is restarted after a
 * bounded backoff, at most N times a minute, and each restart is announced so the caller can start new
 * init segments and mark an EXT-X-DISCONTINUITY (RFC 8216bis §4.4.4.3). Once told the source is gone,
 * it lets the current process drain and restarts nothing.
 */
import { EventEmitter } from 'node:events';
import type { Logger } from '../../platform/index.js';
import type { LadderArgs } from './ffmpeg-ladder-args.js';
import { LadderProcess, type LadderExit, type LadderProgress } from './ffmpeg-ladder-process.js';

/** Typed events of {@link LadderSupervisor}. */
export interface LadderSupervisorEvents {
  /** fMP4 bytes of one output of the current process. */
  data: [output: string, chunk: Buffer];
  progress: [progress: LadderProgress];
  /** A process (the first or a restart) was spawned with these outputs. */
  spawned: [info: { attempt: number; ladder: LadderArgs }];
  /** Every process exit, expected or not. */
  exit: [exit: LadderExit];
  /** A died process was replaced: the media timeline is discontinuous from here. */
  restarted: [info: { restarts: number; lastExit: LadderExit }];
  /** Too many restarts in a minute (or the builder failed): supervision stopped. */
  failed: [info: { reason: string; lastExit?: LadderExit }];
  /** The source is gone and the last process has exited. */
  ended: [];
}

/** Restart policy and what to run. */
export interface LadderSupervisorConfig {
  ffmpegPath: string;
  /** Builds the argv for each start, so a restart can re-probe the source. */
  build: () => LadderArgs | Promise<LadderArgs>;
  /** Default 5. */
  maxRestartsPerMinute?: number;
  /** First backoff; doubles per consecutive failure. Default 500. */
  backoffInitialMs?: number;
  /** Default 10 000. */
  backoffMaxMs?: number;
  /** A process that ran this long resets the backoff. Default 30 000. */
  stableAfterMs?: number;
  /** SIGKILL this long after SIGTERM. Default 3000. */
  stopTimeoutMs?: number;
}

/** Restarts a died ladder FFmpeg with bounded backoff until the source is gone. */
export class LadderSupervisor extends EventEmitter<LadderSupervisorEvents> {
  private current?: LadderProcess;
  private timer?: NodeJS.Timeout;
  private readonly restartTimes: number[] = [];
  private consecutiveFailures = 0;
  private attempt = 0;
  private restarts = 0;
  private gone = false;
  private closed = false;

  constructor(
    private readonly deps: { logger: Logger },
    private readonly config: LadderSupervisorConfig,
  ) {
    super();
  }

  /** The running process's pid, if any. */
  get pid(): number | undefined {
    return this.current?.pid;
  }

  /** Restarts so far. */
  get restartCount(): number {
    return this.restarts;
  }

  /** Spawns the first process. */
  async start(): Promise<void> {
    await this.spawnNext(undefined);
  }

  /** The source ended: no more restarts; the current process drains and `ended` follows. */
  sourceGone(): void {
    this.gone = true;
    clearTimeout(this.timer);
    if (!this.current) this.emit('ended');
  }

  /** Stops the current process and any pending restart. */
  async close(): Promise<void> {
    this.closed = true;
    this.gone = true;
    clearTimeout(this.timer);
    await this.current?.stop();
  }

  private async spawnNext(lastExit: LadderExit | undefined): Promise<void> {
    if (this.closed || this.gone) return;
    let ladder: LadderArgs;
    try {
      ladder = await this.config.build();
    } catch (err) {
      this.deps.logger.error({ err }, 'ladder build failed; not restarting');
      this.emit('failed', { reason: `build failed: ${(err as Error).message}`, lastExit });
      return;
    }
    if (this.closed || this.gone) return;
    const proc = new LadderProcess({ logger: this.deps.logger }, {
      ffmpegPath: this.config.ffmpegPath,
      args: ladder.args,
      outputs: ladder.outputs,
      stopTimeoutMs: this.config.stopTimeoutMs,
    });
    const startedAt = Date.now();
    proc.on('data', (output, chunk) => this.emit('data', output, chunk));
    proc.on('progress', (p) => this.emit('progress', p));
    proc.on('exit', (exit) => this.onExit(proc, exit, Date.now() - startedAt));
    this.current = proc;
    proc.start();
    this.attempt += 1;
    this.emit('spawned', { attempt: this.attempt, ladder });
    if (lastExit) {
      this.restarts += 1;
      this.emit('restarted', { restarts: this.restarts, lastExit });
    }
  }

  private onExit(proc: LadderProcess, exit: LadderExit, ranMs: number): void {
    if (this.current === proc) this.current = undefined;
    this.emit('exit', exit);
    if (this.closed || exit.stopped || this.gone) {
      if (this.gone && !this.current) this.emit('ended');
      return;
    }
    const now = Date.now();
    while (this.restartTimes.length && now - this.restartTimes[0] > 60_000) this.restartTimes.shift();
    const max = this.config.maxRestartsPerMinute ?? 5;
    if (this.restartTimes.length >= max) {
      this.deps.logger.error({ code: exit.code, signal: exit.signal, stderr: exit.stderrTail }, 'ladder ffmpeg keeps dying; giving up');
      this.emit('failed', { reason: `more than ${max} restarts in a minute`, lastExit: exit });
      return;
    }
    this.consecutiveFailures = ranMs >= (this.config.stableAfterMs ?? 30_000) ? 1 : this.consecutiveFailures + 1;
    const initial = this.config.backoffInitialMs ?? 500;
    const delay = Math.min(initial * 2 ** (this.consecutiveFailures - 1), this.config.backoffMaxMs ?? 10_000);
    this.restartTimes.push(now);
    this.deps.logger.warn({ code: exit.code, signal: exit.signal, delayMs: delay, stderr: exit.stderrTail }, 'ladder ffmpeg died; restarting');
    this.timer = setTimeout(() => void this.spawnNext(exit), delay);
  }
}
