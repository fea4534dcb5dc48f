/**
 * The benchmark's broadcaster: FFmpeg pushing a test pattern over RTMP in real time (`-re`), encoded
 * the way OBS does by default (x264, zerolatency, a keyframe every 2 s), with audio.
 */
import { spawn, type ChildProcess } from 'node:child_process';

/** What to publish. */
export interface PublishOptions {
  /** `rtmp://host:port/live/<streamKey>`. */
  url: string;
  seconds: number;
  width?: number;
  height?: number;
  fps?: number;
  /** Keyframe interval, seconds (OBS default 2). */
  gopSeconds?: number;
  /** x264 preset of the publisher (the broadcaster's machine, not the platform). Default ultrafast. */
  preset?: string;
  videoKbps?: number;
}

/** FFmpeg argv (without the binary) of the publisher. Pure. */
export function publisherArgs(o: PublishOptions): string[] {
  const { width = 1280, height = 720, fps = 30, gopSeconds = 2, preset = 'ultrafast', videoKbps = 4000 } = o;
  const gop = Math.round(fps * gopSeconds);
  return [
    '-hide_banner', '-nostdin', '-loglevel', 'error',
    // Progress on stdout ten times a second: the publisher's own push clock (see pushClockOffsetMs).
    '-nostats', '-progress', 'pipe:1', '-stats_period', '0.1',
    '-re',
    '-f', 'lavfi', '-i', `testsrc2=size=${width}x${height}:rate=${fps}`,
    '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
    '-t', String(o.seconds),
    '-c:v', 'libx264', '-preset', preset, '-tune', 'zerolatency', '-pix_fmt', 'yuv420p',
    '-g', String(gop), '-keyint_min', String(gop), '-sc_threshold', '0',
    '-b:v', `${videoKbps}k`, '-maxrate', `${videoKbps}k`, '-bufsize', `${videoKbps * 2}k`,
    '-c:a', 'aac', '-b:a', '128k', '-ar', '48000', '-ac', '2',
    '-f', 'flv', o.url,
  ];
}

/** When the publisher had pushed how much media: one `-progress` block, read as it arrived. */
export interface PushSample {
  /** Epoch ms the progress block arrived. */
  wallMs: number;
  /** Output media time pushed so far (`out_time_us`), ms. */
  mediaMs: number;
}

/**
 * Epoch ms at which media time 0 was pushed on the publisher's steady real-time schedule: the least
 * `wall − media` over samples past `skipMs` of media. Each block is written after its packets, so every
 * sample is an upper bound and the least is the tightest; the start-up is skipped because a first frame
 * that left late (encoder start) would bias an anchor taken from it. Null without samples.
 */
export function pushClockOffsetMs(samples: readonly PushSample[], skipMs = 3000): number | null {
  let best: number | null = null;
  for (const s of samples) {
    if (s.mediaMs < skipMs) continue;
    const offset = s.wallMs - s.mediaMs;
    if (best === null || offset < best) best = offset;
  }
  return best;
}

/** Feeds `-progress` text; calls `onSample` for each block that carries an `out_time_us`. */
export function progressSampler(onSample: (mediaMs: number) => void): (text: string) => void {
  let partial = '';
  let outUs: number | null = null;
  return (text) => {
    const lines = (partial + text).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      const [key, value] = line.trim().split('=');
      if (key === 'out_time_us' && /^\d+$/.test(value ?? '')) outUs = Number(value);
      if (key === 'progress' && outUs !== null) {
        onSample(outUs / 1000);
        outUs = null;
      }
    }
  };
}

/** A running publisher: the process, when it was spawned (epoch ms), its push clock and recent stderr. */
export interface Publisher {
  child: ChildProcess;
  spawnedAtMs: number;
  samples: PushSample[];
  stderr: () => string;
}

/** Spawns the publisher. */
export function startPublisher(o: PublishOptions): Publisher {
  const spawnedAtMs = Date.now();
  const child = spawn('ffmpeg', publisherArgs(o), { stdio: ['ignore', 'pipe', 'pipe'] });
  const samples: PushSample[] = [];
  const feed = progressSampler((mediaMs) => samples.push({ wallMs: Date.now(), mediaMs }));
  child.stdout?.setEncoding('utf8');
  child.stdout?.on('data', feed);
  let err = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (d: string) => (err = (err + d).slice(-4000)));
  return { child, spawnedAtMs, samples, stderr: () => err };
}
