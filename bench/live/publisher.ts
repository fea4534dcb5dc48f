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
    '-hide_banner', '-nostdin', '-loglevel', 'error', '-re',
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

/** A running publisher: the process, when it was spawned (epoch ms) and its recent stderr. */
export interface Publisher {
  child: ChildProcess;
  spawnedAtMs: number;
  stderr: () => string;
}

/** Spawns the publisher. */
export function startPublisher(o: PublishOptions): Publisher {
  const spawnedAtMs = Date.now();
  const child = spawn('ffmpeg', publisherArgs(o), { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (d: string) => (err = (err + d).slice(-4000)));
  return { child, spawnedAtMs, stderr: () => err };
}
