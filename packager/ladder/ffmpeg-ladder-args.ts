/**
 * Pure builder of the one FFmpeg command that decodes a live source once and encodes every ladder
 * rendition (plus AAC audio) as fragmented MP4, each on its own pipe (fd 3, 4, …) for the CMAF
 * segmenter. GOPs are fixed and aligned across renditions on the segment grid (DESIGN "Live media
 * rules"; RFC 8216bis §6.2.4 wants independent segments that start with a keyframe in every rendition).
 */
import type { Rung } from '../../platform/index.js';

/** Where the ladder reads from: a live URL (RTMP, HTTP-FLV, `pipe:0`) or a lavfi test pattern (tests, benches). */
export type LadderInput =
  | { kind: 'url'; url: string }
  | {
      kind: 'lavfi';
      /** lavfi video graph, e.g. `testsrc2=size=320x180:rate=30`. */
      video: string;
      /** lavfi audio graph, e.g. `sine=frequency=1000:sample_rate=48000`; omitted = no audio. */
      audio?: string;
      /** Stops the pattern after this many seconds. */
      durationSeconds: number;
    };

/** What a probe said about the source. */
export interface LadderSourceInfo {
  width: number;
  height: number;
  fps: number;
  /** False when the source has no audio stream: the ladder then has no audio output. */
  hasAudio: boolean;
  /** Source audio codec name as ffprobe spells it (`aac`, `mp3`, …); passthrough copies only AAC. */
  audioCodec?: string;
}

/** Options of {@link ffmpegLadderArgs}. */
export interface LadderArgsOptions {
  input: LadderInput;
  source: LadderSourceInfo;
  /** Ladder rungs (platform `Rung`); rungs above the source height are dropped. */
  rungs: Rung[];
  /** Segment duration: the GOP and forced-keyframe grid. Default 2. */
  segmentSeconds?: number;
  /** x264 preset. Default `veryfast`. */
  x264Preset?: string;
  /** Copy the source video (and AAC audio) instead of transcoding. */
  passthrough?: boolean;
  /** AAC bitrate. Default 128. */
  audioBitrateKbps?: number;
  /** Highest output frame rate; faster sources are halved when that fits, else clamped. Default 30. */
  maxFps?: number;
  /** Log level passed to FFmpeg. Default `warning`. */
  logLevel?: string;
  /**
   * On-demand encoding instead of live: the input is a stored file read as fast as the CPU allows,
   * x264 keeps its look-ahead (no zerolatency), and each rung is capped-CRF: constant quality `crf`
   * with the rung's bitrate as the VBV peak, so easy content takes fewer bits than the cap. Without
   * `crf`, each rung is encoded at its fixed bitrate (a fixed ladder, for comparison).
   */
  vod?: { crf?: number; audioTracks?: { index: number; name: string }[] };
}

/** One FFmpeg output: a fragmented MP4 stream on file descriptor `fd`. */
export interface LadderOutput {
  name: string;
  kind: 'video' | 'audio';
  fd: number;
  height?: number;
  width?: number;
  videoBitrateKbps?: number;
  /** Output frame rate (video). */
  fps?: number;
  /** AAC bitrate (audio), or undefined when copied. */
  audioBitrateKbps?: number;
  /** Video copied from the source: its keyframes are where the publisher put them, not on the segment grid. */
  sourceGops?: boolean;
}

/** The argv (without the ffmpeg binary) and what arrives on each extra pipe. */
export interface LadderArgs {
  args: string[];
  outputs: LadderOutput[];
}

/** First extra stdio fd; 0–2 are stdin/stdout/stderr. */
export const FIRST_OUTPUT_FD = 3;

/**
 * Fragmented MP4 for live: an empty moov up front, one moof per frame so the segmenter can cut parts
 * at any frame, base offsets relative to the moof (CMAF, ISO/IEC 23000-19 §7.3.2.3), flushed at once.
 */
const FMP4_OUTPUT = [
  '-f', 'mp4',
  '-movflags', 'empty_moov+default_base_moof+frag_every_frame',
  '-flush_packets', '1',
  '-muxdelay', '0',
  '-max_muxing_queue_size', '1024',
];

/** `-2:H` scaling as FFmpeg evaluates it (ff_scale_eval_dimensions): nearest width divisible by 2. */
export function scaledWidth(sourceWidth: number, sourceHeight: number, height: number): number {
  return Math.max(2, Math.round((height * sourceWidth) / (sourceHeight * 2)) * 2);
}

/** Rounds down to an even number (x264 4:2:0 needs even dimensions). */
function even(n: number): number {
  return Math.max(2, Math.floor(n / 2) * 2);
}

/**
 * The output frame rate: the source's, or half of it when that fits under `maxFps` (60 → 30,
 * 50 → 25, 59.94 → 29.97, so frames are dropped evenly), else `maxFps` itself.
 */
export function outputFps(sourceFps: number, maxFps = 30): number {
  const fps = Number.isFinite(sourceFps) && sourceFps > 0 ? sourceFps : maxFps;
  // Within 2% of the cap is the cap (30.3 from millisecond timestamps is 30, not a candidate for halving).
  if (fps <= maxFps * 1.02) return Math.min(fps, maxFps);
  if (fps / 2 <= maxFps * 1.02) return Math.min(fps / 2, maxFps);
  return maxFps;
}

/** A frame rate as FFmpeg rational text; NTSC rates become exact n*1000/1001 fractions. */
export function fpsRational(fps: number): string {
  for (const base of [24, 30, 48, 60, 120]) {
    const ntsc = (base * 1000) / 1001;
    if (Math.abs(fps - ntsc) < 0.005) return `${base * 1000}/1001`;
  }
  if (Math.abs(fps - Math.round(fps)) < 0.005) return String(Math.round(fps));
  return `${Math.round(fps * 1000)}/1000`;
}

/**
 * Rungs that fit under the source, tallest first, de-duplicated by height. A source below every rung
 * gets one rung at its own (even) height, its bitrate scaled from the lowest rung by pixel count.
 */
export function fitLadder(rungs: Rung[], sourceHeight: number): Rung[] {
  const seen = new Set<number>();
  const fit = [...rungs]
    .sort((a, b) => b.height - a.height)
    .filter((r) => r.height <= sourceHeight && !seen.has(r.height) && seen.add(r.height));
  if (fit.length > 0) return fit;
  const lowest = [...rungs].sort((a, b) => a.height - b.height)[0];
  const height = even(sourceHeight);
  const kbps = lowest ? Math.max(100, Math.round(lowest.videoBitrateKbps * (height / lowest.height) ** 2)) : 400;
  return [{ name: `${height}p`, height, videoBitrateKbps: kbps }];
}

/**
 * FFmpeg's `-protocol_whitelist` for an input URL: the URL's own protocol and what it rides on, and
 * nothing else, so a source (or anything it names, such as a playlist's entries) cannot make FFmpeg
 * open local files or other protocols. A path without a scheme is a local file.
 */
export function protocolWhitelist(url: string): string {
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(url)?.[1]?.toLowerCase();
  switch (scheme) {
    case undefined:
    case 'file':
      return 'file';
    case 'https':
      return 'https,tls,tcp';
    case 'rtmps':
      return 'rtmps,tls,tcp';
    case 'srt':
      return 'srt,udp';
    default:
      return `${scheme},tcp`;
  }
}

/**
 * Fragmented MP4 for on-demand work: a new fragment at each keyframe and at least every second, which
 * the segmenter joins into whole segments: few boxes, small buffers, and a segment is complete one
 * second after its media is encoded (a fragment per GOP would hold it back a whole GOP).
 */
function vodFmp4Output(): string[] {
  return ['-f', 'mp4', '-movflags', 'empty_moov+default_base_moof+frag_keyframe', '-frag_duration', '1000000', '-max_muxing_queue_size', '4096'];
}

/** Input side: quick start on live sources without dropping the GOP the ingest replays first. */
function inputArgs(input: LadderInput, vod: boolean): { args: string[]; video: string; audio: string } {
  if (input.kind === 'lavfi') {
    // `-t` before each `-i` is an input option (after it, it would cut only the first output).
    const t = String(input.durationSeconds);
    const args = ['-re', '-f', 'lavfi', '-t', t, '-i', input.video];
    if (input.audio) args.push('-re', '-f', 'lavfi', '-t', t, '-i', input.audio);
    return { args, video: '0:v:0', audio: '1:a:0' };
  }
  if (vod) {
    // A stored upload: the file and nothing it might name (no playlists, no concat lists, no network).
    return { args: ['-protocol_whitelist', protocolWhitelist(input.url), '-i', input.url], video: '0:v:0', audio: '0:a:0' };
  }
  const network = /^(rtmps?|https?|srt|tcp):/i.test(input.url);
  return {
    args: [
      // No `-fflags nobuffer`: it discards the packets read while probing, i.e. the start of the
      // cached GOP the ingest sends first, and the first segment would not start on a keyframe.
      '-fflags', '+discardcorrupt',
      '-analyzeduration', '500000',
      '-probesize', '4000000',
      // A stalled source ends FFmpeg (10 s) so the supervisor sees it, instead of hanging forever.
      ...(network ? ['-rw_timeout', '10000000'] : []),
      '-protocol_whitelist', protocolWhitelist(input.url),
      '-i', input.url,
    ],
    video: '0:v:0',
    audio: '0:a:0',
  };
}

/** The x264 settings for one rendition: fixed GOP on the segment grid, no scene-cut keyframes. */
function x264Args(rung: Rung, gop: number, segmentSeconds: number, preset: string, fps: number, vod?: { crf?: number }): string[] {
  const maxrate = Math.round(rung.videoBitrateKbps * 1.1);
  const rate = vod?.crf !== undefined
    ? // Capped CRF: constant quality up to the rung's bitrate, a two-second VBV (VOD has time to smooth).
      ['-crf', String(vod.crf), '-maxrate', `${rung.videoBitrateKbps}k`, '-bufsize', `${rung.videoBitrateKbps * 2}k`]
    : // Peak within 110% of the average (Apple HLS authoring spec 2.x); a one-second VBV for low latency, two on demand.
      ['-b:v', `${rung.videoBitrateKbps}k`, '-maxrate', `${maxrate}k`, '-bufsize', `${vod ? maxrate * 2 : maxrate}k`];
  return [
    '-c:v', 'libx264',
    '-preset', preset,
    ...(vod ? [] : ['-tune', 'zerolatency']),
    '-profile:v', rung.height > 480 ? 'high' : 'main',
    '-pix_fmt', 'yuv420p',
    ...rate,
    '-g', String(gop),
    '-keyint_min', String(gop),
    '-sc_threshold', '0',
    '-force_key_frames', `expr:gte(t,n_forced*${segmentSeconds})`,
    // Closed GOPs on the grid either way; live also gives up the look-ahead's latency.
    '-x264-params', vod ? 'scenecut=0:open-gop=0' : 'scenecut=0:open-gop=0:rc-lookahead=0',
    '-r', fpsRational(fps),
    '-video_track_timescale', '90000',
  ];
}

/** Builds the single-process ladder command. Pure: the same options always give the same argv. */
export function ffmpegLadderArgs(opts: LadderArgsOptions): LadderArgs {
  const segmentSeconds = opts.segmentSeconds ?? 2;
  const preset = opts.x264Preset ?? 'veryfast';
  const audioKbps = opts.audioBitrateKbps ?? 128;
  const { source } = opts;
  const vod = opts.vod;
  const input = inputArgs(opts.input, Boolean(vod));
  const fmp4 = vod ? vodFmp4Output() : FMP4_OUTPUT;
  const args = [
    '-hide_banner', '-nostdin', '-loglevel', opts.logLevel ?? 'warning',
    // Machine-readable progress (frame=, fps=, drop_frames=, speed=, progress=) once a second on stderr.
    '-nostats', '-progress', 'pipe:2', '-stats_period', '1',
    ...input.args,
  ];
  const outputs: LadderOutput[] = [];
  let fd = FIRST_OUTPUT_FD;

  if (opts.passthrough) {
    args.push('-map', input.video, '-c:v', 'copy', ...FMP4_OUTPUT, `pipe:${fd}`);
    outputs.push({ name: 'source', kind: 'video', fd: fd++, width: source.width, height: source.height, fps: source.fps, sourceGops: true });
    if (source.hasAudio) {
      const copy = source.audioCodec === 'aac';
      const codec = copy ? ['-c:a', 'copy'] : ['-c:a', 'aac', '-b:a', `${audioKbps}k`, '-ac', '2', '-ar', '48000'];
      args.push('-map', input.audio, ...codec, ...FMP4_OUTPUT, `pipe:${fd}`);
      outputs.push({ name: 'audio', kind: 'audio', fd: fd++, audioBitrateKbps: copy ? undefined : audioKbps });
    }
    return { args, outputs };
  }

  const rungs = fitLadder(opts.rungs, source.height);
  const fps = outputFps(source.fps, opts.maxFps ?? 30);
  // A keyframe every segment: GOP = frames per segment (rounded for NTSC rates, where the forced
  // keyframe expression keeps the grid exact in time).
  const gop = Math.max(1, Math.round(fps * segmentSeconds));
  // Decode once, convert the frame rate once, then split into one scaler per rendition.
  const labels = rungs.map((_, i) => `v${i}`);
  const graph = [
    `[${input.video}]fps=${fpsRational(fps)},split=${rungs.length}${labels.map((l) => `[${l}]`).join('')}`,
    // Square pixels: display size = coded size, so RESOLUTION and the decoded frames agree.
    ...rungs.map((r, i) => `[${labels[i]}]scale=-2:${r.height},setsar=1[out${i}]`),
  ].join(';');
  args.push('-filter_complex', graph);
  rungs.forEach((rung, i) => {
    args.push('-map', `[out${i}]`, ...x264Args(rung, gop, segmentSeconds, preset, fps, vod), ...fmp4, `pipe:${fd}`);
    outputs.push({
      name: rung.name,
      kind: 'video',
      fd: fd++,
      height: rung.height,
      width: scaledWidth(source.width, source.height, rung.height),
      videoBitrateKbps: rung.videoBitrateKbps,
      fps,
    });
  });
  // A source without audio gets no audio output (no generated silence): the manifest writers handle a
  // video-only ladder, and a silent track would only cost bandwidth and hide the fact from the creator.
  // On demand, every audio track of the source the caller names (languages) is an output of its own.
  const audioTracks = vod?.audioTracks ?? (source.hasAudio ? [{ index: 0, name: 'audio' }] : []);
  for (const track of source.hasAudio ? audioTracks : []) {
    args.push('-map', vod ? `0:a:${track.index}` : input.audio, '-c:a', 'aac', '-b:a', `${audioKbps}k`, '-ac', '2', '-ar', '48000', ...fmp4, `pipe:${fd}`);
    outputs.push({ name: track.name, kind: 'audio', fd: fd++, audioBitrateKbps: audioKbps });
  }
  return { args, outputs };
}

/** The argv with the input URL hidden, for log lines (the URL carries an internal session token). */
export function redactLadderArgs(args: string[]): string[] {
  return args.map((a, i) => (args[i - 1] === '-i' && /^[a-z]+:\/\//i.test(a) ? a.replace(/\/[^/]*$/, '/[redacted]') : a));
}
