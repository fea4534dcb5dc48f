/**
 * One running ladder FFmpeg: spawns it with an extra readable pipe per output (fd 3, 4, …), relays the
 * fragmented-MP4 bytes as they arrive, turns `-progress` blocks on stderr into progress events and
 * reports how it ended. Restarting is the supervisor's job (ladder-supervisor.ts).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import type { Readable, Writable } from 'node:stream';
import type { Logger } from '../../platform/index.js';
import { redactLadderArgs, type LadderOutput } from './ffmpeg-ladder-args.js';

/** FFmpeg's own counters, once per `-stats_period`. */
export interface LadderProgress {
  /** Frames encoded so far (first video output). */
  frames: number;
  /** Encoding frame rate. */
  fps: number;
  /** Encoding speed relative to real time (1 = keeping up). */
  speed: number;
  /** Frames dropped by the frame-rate conversion (`drop_frames`). */
  dropped: number;
  /** Frames duplicated by the frame-rate conversion (`dup_frames`). */
  duplicated: number;
  /** Output media time reached, seconds. */
  outTimeSeconds: number;
}

/** How the process ended. */
export interface LadderExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** The last stderr lines that were not progress output (FFmpeg's warnings and errors). */
  stderrTail: string;
  /** True when stop() asked for it. */
  stopped: boolean;
}

/** Typed events of {@link LadderProcess}. */
export interface LadderProcessEvents {
  data: [output: string, chunk: Buffer];
  end: [output: string];
  progress: [progress: LadderProgress];
  exit: [exit: LadderExit];
}

/** What to run. */
export interface LadderProcessConfig {
  ffmpegPath: string;
  args: string[];
  outputs: LadderOutput[];
  /** Open stdin as a writable pipe (for a `pipe:0` input). */
  stdin?: boolean;
  /** SIGKILL this long after SIGTERM. Default 3000. */
  stopTimeoutMs?: number;
}

const TAIL_LINES = 30;

/** Parses FFmpeg `-progress` key=value lines; returns a progress record when a block completes. */
export class ProgressParser {
  private block: Record<string, string> = {};

  /** Feeds one stderr line; returns true when it was progress output (not a log line). */
  line(text: string, onProgress: (p: LadderProgress) => void): boolean {
    const m = /^([a-z_0-9]+)=\s*(.*)$/.exec(text.trim());
    if (!m) return false;
    const [, key, value] = m;
    this.block[key] = value;
    if (key === 'progress') {
      const b = this.block;
      this.block = {};
      const num = (v: string | undefined) => {
        const n = Number.parseFloat(v ?? '');
        return Number.isFinite(n) ? n : 0;
      };
      onProgress({
        frames: num(b.frame),
        fps: num(b.fps),
        speed: num(b.speed?.replace(/x$/, '')),
        dropped: num(b.drop_frames),
        duplicated: num(b.dup_frames),
        outTimeSeconds: num(b.out_time_us) / 1e6,
      });
    }
    return true;
  }
}

/** A ladder FFmpeg process with one readable pipe per output. */
export class LadderProcess extends EventEmitter<LadderProcessEvents> {
  private child?: ChildProcess;
  private readonly tail: string[] = [];
  private stopping = false;
  private resolveExit!: (exit: LadderExit) => void;
  /** Resolves once, when the process has exited and every pipe has closed. */
  readonly exited: Promise<LadderExit>;

  constructor(
    private readonly deps: { logger: Logger },
    private readonly config: LadderProcessConfig,
  ) {
    super();
    this.exited = new Promise((resolve) => (this.resolveExit = resolve));
  }

  /** The process id while running. */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** The input pipe when `stdin: true`. */
  get stdin(): Writable | null {
    return this.child?.stdin ?? null;
  }

  /** Spawns FFmpeg; output bytes arrive as `data` events. */
  start(): void {
    if (this.child) throw new Error('LadderProcess already started');
    const { ffmpegPath, args, outputs } = this.config;
    const maxFd = Math.max(2, ...outputs.map((o) => o.fd));
    const stdio: ('pipe' | 'ignore')[] = [this.config.stdin ? 'pipe' : 'ignore', 'ignore', 'pipe'];
    for (let fd = 3; fd <= maxFd; fd++) stdio.push(outputs.some((o) => o.fd === fd) ? 'pipe' : 'ignore');
    this.deps.logger.debug({ args: redactLadderArgs(args) }, 'starting ladder ffmpeg');
    const child = spawn(ffmpegPath, args, { stdio });
    this.child = child;

    let spawnError: Error | undefined;
    child.on('error', (err) => {
      spawnError = err; // ENOENT and friends: reported through the exit event
      this.pushTail(err.message);
    });
    for (const output of outputs) {
      const pipe = child.stdio[output.fd] as Readable | null;
      if (!pipe) continue;
      pipe.on('data', (chunk: Buffer) => this.emit('data', output.name, chunk));
      pipe.on('end', () => this.emit('end', output.name));
      pipe.on('error', (err) => this.pushTail(`pipe ${output.name}: ${err.message}`));
    }
    const parser = new ProgressParser();
    let partial = '';
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (text: string) => {
      const lines = (partial + text).split(/\r\n|\r|\n/);
      partial = lines.pop() ?? '';
      for (const line of lines) {
        if (!line.trim()) continue;
        if (!parser.line(line, (p) => this.emit('progress', p))) {
          this.pushTail(line);
          this.deps.logger.debug({ line }, 'ffmpeg');
        }
      }
    });
    child.on('close', (code, signal) => {
      if (partial.trim()) this.pushTail(partial);
      const exit: LadderExit = {
        code: spawnError ? (code ?? -1) : code,
        signal,
        stderrTail: this.tail.join('\n'),
        stopped: this.stopping,
      };
      this.deps.logger.debug({ code: exit.code, signal, stopped: exit.stopped }, 'ladder ffmpeg exited');
      this.resolveExit(exit);
      this.emit('exit', exit);
    });
  }

  /** SIGTERM (FFmpeg finishes its outputs), then SIGKILL after the stop timeout. */
  async stop(): Promise<LadderExit> {
    const child = this.child;
    if (!child) {
      this.stopping = true;
      const exit: LadderExit = { code: null, signal: null, stderrTail: '', stopped: true };
      this.resolveExit(exit);
      return exit;
    }
    if (child.exitCode === null && child.signalCode === null && !this.stopping) {
      this.stopping = true;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), this.config.stopTimeoutMs ?? 3000);
      timer.unref();
      void this.exited.then(() => clearTimeout(timer));
    }
    return this.exited;
  }

  /** Same as stop(), for Lifecycle. */
  async close(): Promise<void> {
    await this.stop();
  }

  private pushTail(line: string): void {
    this.tail.push(line);
    if (this.tail.length > TAIL_LINES) this.tail.shift();
  }
}
