/**
 * Validation of an uploaded file before any work is spent on it: ffprobe reads the container, a
 * stream copy of the last seconds finds a truncated file, and every refusal carries a stable code and
 * a sentence a creator understands. FFmpeg and ffprobe may open the one stored file and nothing else
 * (`-protocol_whitelist file`, and playlists or concat lists are refused before they are read as media).
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import { parseRate, sourceFps } from '../ladder/ffprobe.js';

/** Stable reasons an upload is refused; each is shown on the asset as `errors.code`. */
export type VodErrorCode =
  | 'MEDIA_EMPTY'
  | 'MEDIA_PLAYLIST'
  | 'MEDIA_UNREADABLE'
  | 'MEDIA_TRUNCATED'
  | 'MEDIA_NO_STREAMS'
  | 'MEDIA_NO_VIDEO'
  | 'MEDIA_DIMENSIONS'
  | 'MEDIA_DURATION'
  | 'MEDIA_PROBE_TIMEOUT'
  | 'TRANSCODE_FAILED'
  | 'ENCRYPTION_UNAVAILABLE';

/** A refusal of an upload or a failed transcode, with a message meant for the creator. */
export class VodError extends Error {
  constructor(
    readonly code: VodErrorCode,
    message: string,
    /** Retrying cannot help (the file itself is wrong). */
    readonly permanent = true,
  ) {
    super(message);
    this.name = 'VodError';
  }
}

/** One audio stream of the source. */
export interface SourceAudioTrack {
  /** Index among the source's audio streams (`0:a:N`). */
  index: number;
  codec: string;
  /** ISO 639 language from the stream's tags, `und` when absent. */
  language: string;
  title?: string;
  channels?: number;
}

/** What validation learned about a good file. */
export interface VodSource {
  width: number;
  height: number;
  fps: number;
  durationSeconds: number;
  videoCodec: string;
  /** Overall bitrate of the file, kb/s (0 when the container does not say). */
  bitrateKbps: number;
  audio: SourceAudioTrack[];
  formatName: string;
}

/** Limits of {@link inspectSource}. */
export interface InspectOptions {
  ffprobePath: string;
  ffmpegPath: string;
  /** Largest width or height accepted. Default 8192. */
  maxDimension?: number;
  /** Longest media accepted, seconds. Default 12 h. */
  maxDurationSeconds?: number;
  /** Wall-time limit of each probe process. Default 30 000. */
  timeoutMs?: number;
}

interface ProbeStream {
  index: number;
  codec_type?: string;
  codec_name?: string;
  width?: number;
  height?: number;
  avg_frame_rate?: string;
  r_frame_rate?: string;
  channels?: number;
  duration?: string;
  tags?: Record<string, string>;
  disposition?: Record<string, number>;
}

/** Text formats FFmpeg would follow to other files: refused by their first bytes, whatever the name. */
const PLAYLIST_SIGNATURES = [/^#EXTM3U/, /^ffconcat/i, /^\s*file\s+['"]?[\w/.:-]+/m, /^\[playlist\]/i, /^<\?xml[^>]*>\s*<(MPD|smil|playlist)/i];

/** Runs a probe process with a wall-time limit; resolves with its exit code and output. */
function run(bin: string, args: string[], timeoutMs: number): Promise<{ code: number | null; stdout: string; stderr: string; timedOut: boolean }> {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      if (stderr.length < 64 * 1024) stderr += d;
    });
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, timedOut });
    });
  });
}

/** Validates a stored upload and describes it; throws a VodError naming what is wrong. */
export async function inspectSource(file: string, opts: InspectOptions): Promise<VodSource> {
  const maxDimension = opts.maxDimension ?? 8192;
  const maxDuration = opts.maxDurationSeconds ?? 12 * 3600;
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const stat = await fs.stat(file);
  if (stat.size === 0) throw new VodError('MEDIA_EMPTY', 'The uploaded file is empty (0 bytes).');

  const head = await fs.open(file, 'r').then(async (fh) => {
    try {
      const buf = Buffer.alloc(Math.min(4096, stat.size));
      await fh.read(buf, 0, buf.length, 0);
      return buf.toString('latin1');
    } finally {
      await fh.close();
    }
  });
  if (PLAYLIST_SIGNATURES.some((re) => re.test(head))) {
    throw new VodError('MEDIA_PLAYLIST', 'The file is a playlist or list of other files (HLS, DASH or concat), not media: upload the video file itself.');
  }

  const probe = await run(
    opts.ffprobePath,
    ['-v', 'error', '-protocol_whitelist', 'file', '-show_format', '-show_streams', '-of', 'json', file],
    timeoutMs,
  );
  if (probe.timedOut) throw new VodError('MEDIA_PROBE_TIMEOUT', 'Reading the file took too long; it may be damaged.');
  if (probe.code !== 0) {
    // An MP4 that starts right (ftyp) but has no index: the upload stopped before the moov at its end.
    const mp4 = head.slice(4, 8) === 'ftyp';
    if (mp4 && /moov atom not found|partial file|end of file/i.test(probe.stderr)) {
      throw new VodError('MEDIA_TRUNCATED', 'The file is incomplete (it ends before its media does): upload it again in full.');
    }
    throw new VodError('MEDIA_UNREADABLE', 'The file is not a video or audio format we can read.');
  }
  let parsed: { streams?: ProbeStream[]; format?: { format_name?: string; duration?: string; bit_rate?: string } };
  try {
    parsed = JSON.parse(probe.stdout) as typeof parsed;
  } catch {
    throw new VodError('MEDIA_UNREADABLE', 'The file is not a video or audio format we can read.');
  }
  const formatName = parsed.format?.format_name ?? '';
  if (/^(hls|dash|concat|applehttp|ffmetadata|tty|srt|webvtt|ass|lrc|image2)/.test(formatName)) {
    throw new VodError('MEDIA_PLAYLIST', `The file is a ${formatName} document, not media: upload the video file itself.`);
  }
  const streams = parsed.streams ?? [];
  // Cover art (attached_pic) is a picture, not video.
  const video = streams.filter((s) => s.codec_type === 'video' && !s.disposition?.attached_pic);
  const audio = streams.filter((s) => s.codec_type === 'audio');
  if (video.length === 0 && audio.length === 0) throw new VodError('MEDIA_NO_STREAMS', 'The file contains no video or audio.');
  if (video.length === 0) throw new VodError('MEDIA_NO_VIDEO', 'The file has audio but no video; audio-only assets are not supported yet.');
  const v = video[0];
  const width = v.width ?? 0;
  const height = v.height ?? 0;
  if (!(width > 0 && height > 0)) throw new VodError('MEDIA_UNREADABLE', 'The video stream has no picture size.');
  if (width > maxDimension || height > maxDimension) {
    throw new VodError('MEDIA_DIMENSIONS', `The video is ${width}×${height}; the largest accepted is ${maxDimension}×${maxDimension}.`);
  }
  const duration = Number.parseFloat(parsed.format?.duration ?? v.duration ?? '');
  if (!(duration > 0)) throw new VodError('MEDIA_DURATION', 'The file reports no duration; it may be damaged.');
  if (duration > maxDuration) {
    throw new VodError('MEDIA_DURATION', `The video is ${Math.round(duration)} s long; the longest accepted is ${maxDuration} s.`);
  }

  // A file cut short still has a complete index at the front (faststart): copying its last seconds
  // reads past the end of the data.
  const tail = await run(
    opts.ffmpegPath,
    ['-hide_banner', '-nostdin', '-v', 'error', '-protocol_whitelist', 'file', '-sseof', '-3', '-i', file, '-map', '0', '-c', 'copy', '-f', 'null', '-'],
    timeoutMs,
  );
  if (tail.timedOut) throw new VodError('MEDIA_PROBE_TIMEOUT', 'Reading the file took too long; it may be damaged.');
  if (/partial file|truncat|end of file|invalid data/i.test(tail.stderr) || tail.code !== 0) {
    throw new VodError('MEDIA_TRUNCATED', 'The file is incomplete (it ends before its media does): upload it again in full.');
  }

  return {
    width,
    height,
    fps: sourceFps(parseRate(v.r_frame_rate), parseRate(v.avg_frame_rate)),
    durationSeconds: duration,
    videoCodec: v.codec_name ?? 'unknown',
    bitrateKbps: Math.round(Number(parsed.format?.bit_rate ?? 0) / 1000) || 0,
    audio: audio.map((a, index) => ({
      index,
      codec: a.codec_name ?? 'unknown',
      language: normaliseLanguage(a.tags?.language),
      title: a.tags?.title,
      channels: a.channels,
    })),
    formatName,
  };
}

/** ISO 639-2 codes containers carry, as the two-letter BCP 47 tags HLS LANGUAGE and DASH @lang prefer. */
const TWO_LETTER: Record<string, string> = {
  eng: 'en', fre: 'fr', fra: 'fr', ger: 'de', deu: 'de', spa: 'es', ita: 'it', jpn: 'ja', por: 'pt', hin: 'hi',
  chi: 'zh', zho: 'zh', rus: 'ru', kor: 'ko', ara: 'ar', dut: 'nl', nld: 'nl', swe: 'sv', pol: 'pl', tur: 'tr',
};

/** The stream's language tag as BCP 47 (two letters where ISO 639-1 has one); `und` when missing or malformed. */
function normaliseLanguage(tag: string | undefined): string {
  const t = tag?.trim().toLowerCase();
  if (!t || !/^[a-z]{2,3}(-[a-z0-9]{2,8})*$/.test(t)) return 'und';
  return TWO_LETTER[t] ?? t;
}
