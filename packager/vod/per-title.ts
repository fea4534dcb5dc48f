/**
 * Per-title ladder: which rungs a source can fill and how many bits each needs, from a quick
 * constant-quality probe encode of a few sampled seconds. A cartoon compresses to a fraction of a
 * sports clip at the same CRF, so its rungs get a fraction of the bits; the cap never exceeds what the
 * configured ladder allows beyond its headroom, and nothing is upscaled.
 */
import { spawn } from 'node:child_process';
import type { Rung } from '../../platform/index.js';
import { fitLadder } from '../ladder/ffmpeg-ladder-args.js';
import type { VodSource } from './inspect.js';

/** Settings of {@link perTitleLadder}. */
export interface PerTitleOptions {
  ffmpegPath: string;
  /** The configured ladder: its rungs are the candidates and its bitrates the reference caps. */
  ladder: Rung[];
  /** Constant-quality target of the encodes (and of the probe). Default 23. */
  crf?: number;
  /** Seconds sampled for the probe (spread over the file). Default 3. */
  sampleSeconds?: number;
  /** Each rung's cap may reach this multiple of the configured bitrate on hard content. Default 1.5. */
  headroom?: number;
  /** Wall-time limit of the probe. Default 60 000 ms. */
  timeoutMs?: number;
}

/** The probe's measurement and the ladder chosen from it. */
export interface PerTitleLadder {
  rungs: Rung[];
  /** kb/s of the probe encode at min(PROBE_HEIGHT, source height) (the complexity measure). */
  probeKbps: number;
  crf: number;
}

/**
 * The probe encodes at this height (or the source's, if lower): downscaling smooths grain and noise
 * away, so a smaller probe underestimates what fine texture costs at the top rungs.
 */
export const PROBE_HEIGHT = 720;
/** Bits scale with pixels to this power at equal quality (encoders find more redundancy in more pixels). */
const PIXEL_EXPONENT = 0.75;
/** The cap sits above the probe's estimate so that harder scenes than the sampled ones keep their quality. */
const CAP_OVER_ESTIMATE = 1.6;
const MIN_RUNG_KBPS = 120;

/**
 * Encodes `sampleSeconds` taken from three places of the source at PROBE_HEIGHT with the VOD CRF and
 * returns the resulting bitrate in kb/s. Reads only the sampled seconds (input seeking).
 */
export async function probeComplexity(file: string, source: VodSource, opts: { ffmpegPath: string; crf: number; sampleSeconds: number; timeoutMs: number }): Promise<number> {
  const windows = 3;
  const each = Math.max(0.5, Math.min(opts.sampleSeconds / windows, source.durationSeconds / windows));
  const starts = [0.2, 0.5, 0.8].map((f) => Math.max(0, Math.min(source.durationSeconds - each, source.durationSeconds * f - each / 2)));
  const inputs = starts.flatMap((s) => ['-ss', s.toFixed(3), '-t', each.toFixed(3), '-protocol_whitelist', 'file', '-i', file]);
  const graph = `${starts.map((_, i) => `[${i}:v:0]`).join('')}concat=n=${windows}:v=1:a=0,scale=-2:${Math.min(PROBE_HEIGHT, source.height - (source.height % 2))},format=yuv420p[v]`;
  const args = [
    '-hide_banner', '-nostdin', '-v', 'error',
    ...inputs,
    '-filter_complex', graph,
    '-map', '[v]',
    '-c:v', 'libx264', '-preset', 'veryfast', '-crf', String(opts.crf),
    '-f', 'h264', 'pipe:1',
  ];
  const bytes = await new Promise<number>((resolve, reject) => {
    const child = spawn(opts.ffmpegPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let total = 0;
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (total += d.length));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr = (stderr + d).slice(-2000)));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code === 0 && total > 0) resolve(total);
      else reject(new Error(`complexity probe failed (${code}): ${stderr.trim().split('\n').at(-1) ?? ''}`));
    });
  });
  return (bytes * 8) / 1000 / (each * windows);
}

/** The rungs for this source with bitrates scaled from the probe. */
export function ladderFromProbe(source: VodSource, ladder: Rung[], probeKbps: number, headroom = 1.5): Rung[] {
  const probeHeight = Math.min(PROBE_HEIGHT, source.height);
  const aspect = source.width / source.height;
  const pixels = (h: number) => h * h * aspect;
  return fitLadder(ladder, source.height).map((rung) => {
    const estimate = probeKbps * (pixels(rung.height) / pixels(probeHeight)) ** PIXEL_EXPONENT;
    // Never above the configured rung's headroom, never below a floor that keeps a picture.
    const cap = Math.round(Math.max(MIN_RUNG_KBPS, Math.min(estimate * CAP_OVER_ESTIMATE, rung.videoBitrateKbps * headroom)));
    return { ...rung, videoBitrateKbps: cap };
  });
}

/** Probes the source and chooses its ladder. */
export async function perTitleLadder(file: string, source: VodSource, opts: PerTitleOptions): Promise<PerTitleLadder> {
  const crf = opts.crf ?? 23;
  const probeKbps = await probeComplexity(file, source, {
    ffmpegPath: opts.ffmpegPath,
    crf,
    sampleSeconds: opts.sampleSeconds ?? 3,
    timeoutMs: opts.timeoutMs ?? 60_000,
  });
  return { rungs: ladderFromProbe(source, opts.ladder, probeKbps, opts.headroom), probeKbps, crf };
}
