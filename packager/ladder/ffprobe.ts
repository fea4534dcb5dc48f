/**
 * Source probing. fluent-ffmpeg is archived upstream, so it is used here and nowhere else: swapping it
 * for a direct ffprobe spawn touches only this file.
 */
import ffmpeg from 'fluent-ffmpeg';
import { protocolWhitelist } from './ffmpeg-ladder-args.js';

/** What the ladder needs to know about a source. */
export interface SourceProbe {
  width: number;
  height: number;
  /** Average frame rate; falls back to the stream's base rate, then 30 when the container has neither. */
  fps: number;
  videoCodec: string;
  audioCodec?: string;
  audioSampleRate?: number;
  audioChannels?: number;
  /** Absent for live sources. */
  durationSeconds?: number;
}

/** Probe options. */
export interface ProbeOptions {
  ffprobePath: string;
  /** Whole-probe deadline. Default 10 000. */
  timeoutMs?: number;
  /** Video codecs the ladder accepts (ffprobe names). Default h264, hevc, av1, vp9, vp8, mpeg4, flv1. */
  videoCodecs?: string[];
}

/** Why a probe failed: `PROBE_NO_VIDEO`, `PROBE_UNSUPPORTED_CODEC`, `PROBE_TIMEOUT` or `PROBE_FAILED`. */
export class ProbeError extends Error {
  constructor(
    readonly code: 'PROBE_NO_VIDEO' | 'PROBE_UNSUPPORTED_CODEC' | 'PROBE_TIMEOUT' | 'PROBE_FAILED',
    message: string,
  ) {
    super(message);
    this.name = 'ProbeError';
  }
}

const DEFAULT_VIDEO_CODECS = ['h264', 'hevc', 'av1', 'vp9', 'vp8', 'mpeg4', 'flv1'];

/** Parses "30000/1001" or "25" into a number; 0 for unknown ("0/0"). */
export function parseRate(rate: string | undefined): number {
  if (!rate) return 0;
  const [num, den] = rate.split('/').map(Number);
  const v = den === undefined ? num : den ? num / den : 0;
  return Number.isFinite(v) && v > 0 ? v : 0;
}

const STANDARD_RATES = [24000 / 1001, 24, 25, 30000 / 1001, 30, 48, 50, 60000 / 1001, 60, 120];

/**
 * The source frame rate from ffprobe's two guesses. Live FLV has millisecond timestamps, so its
 * average comes out as 1000/33 for 30 fps: prefer the base rate (r_frame_rate) when it is plausible,
 * fall back to the average, and snap anything within 1% of a standard rate to it.
 */
export function sourceFps(base: number, avg: number): number {
  const raw = base > 0 && base <= 120 ? base : avg > 0 && avg <= 240 ? avg : 30;
  const nearest = STANDARD_RATES.reduce((a, b) => (Math.abs(raw - b) < Math.abs(raw - a) ? b : a));
  return Math.abs(raw - nearest) / nearest < 0.01 ? nearest : raw;
}

/** Hides the path of a URL (a stream key or session token may sit there) for error messages. */
function printable(url: string): string {
  return url.replace(/^([a-z]+:\/\/[^/]+).*$/i, '$1/…');
}

/** Probes a file or live URL with ffprobe and checks it has a usable video stream. */
export function probeSource(url: string, opts: ProbeOptions): Promise<SourceProbe> {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const accepted = opts.videoCodecs ?? DEFAULT_VIDEO_CODECS;
  const network = /^(rtmps?|https?|srt|tcp):/i.test(url);
  const options = [
    '-v', 'error',
    // Bounds the probe itself, so the process does not outlive the deadline by much: I/O stall
    // timeout (microseconds) on network inputs, and how much media to analyse.
    ...(network ? ['-rw_timeout', String(timeoutMs * 1000)] : []),
    // Only the source's own protocol (ffprobe follows what a source names, such as playlist entries).
    '-protocol_whitelist', protocolWhitelist(url),
    // Live sources: 1 s of media is plenty for FLV (codec parameters travel in sequence headers).
    '-analyzeduration', network ? '1000000' : '3000000',
    '-probesize', '5000000',
  ];
  return new Promise<SourceProbe>((resolve, reject) => {
    let done = false;
    const timer = setTimeout(() => {
      done = true;
      reject(new ProbeError('PROBE_TIMEOUT', `probe of ${printable(url)} timed out after ${timeoutMs} ms`));
    }, timeoutMs);
    // setFfprobePath writes fluent-ffmpeg's module-wide cache; ffprobe() reads it synchronously right
    // after, so concurrent probes with different paths cannot interleave.
    const command = ffmpeg(url).setFfprobePath(opts.ffprobePath);
    command.ffprobe(options, (err, data) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (err) {
        const detail = String(err.message).split('\n').slice(0, 3).join(' ').replaceAll(url, printable(url));
        reject(new ProbeError('PROBE_FAILED', `probe of ${printable(url)} failed: ${detail}`));
        return;
      }
      const video = data.streams.find((s) => s.codec_type === 'video' && s.disposition?.attached_pic !== 1);
      const audio = data.streams.find((s) => s.codec_type === 'audio');
      if (!video || !video.width || !video.height) {
        reject(new ProbeError('PROBE_NO_VIDEO', `${printable(url)} has no video stream`));
        return;
      }
      const videoCodec = String(video.codec_name ?? 'unknown');
      if (!accepted.includes(videoCodec)) {
        reject(new ProbeError('PROBE_UNSUPPORTED_CODEC', `video codec ${videoCodec} is not supported (accepted: ${accepted.join(', ')})`));
        return;
      }
      const fps = sourceFps(parseRate(video.r_frame_rate), parseRate(video.avg_frame_rate));
      const duration = Number(data.format?.duration);
      resolve({
        width: video.width,
        height: video.height,
        fps,
        videoCodec,
        audioCodec: audio?.codec_name ? String(audio.codec_name) : undefined,
        audioSampleRate: audio?.sample_rate ? Number(audio.sample_rate) : undefined,
        audioChannels: audio?.channels ? Number(audio.channels) : undefined,
        durationSeconds: Number.isFinite(duration) && duration > 0 ? duration : undefined,
      });
    });
  });
}
