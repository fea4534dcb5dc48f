/**
 * On-demand packaging: one FFmpeg ladder over a stored upload (the live argument builder in its VOD
 * mode), each output cut into CMAF segments by the live segmenter, stored under `vod/{assetId}/`, and
 * listed as it goes: a growing `EXT-X-PLAYLIST-TYPE:EVENT` playlist per rendition as soon as every
 * rendition has its first segment, replaced by the VOD playlists, the multivariant playlist with
 * measured bandwidths and a static MPD when the ladder ends. A playlist never lists a segment before
 * it is stored, and a retried job does not shorten what an earlier attempt already listed.
 */
import crypto from 'node:crypto';
import type { BlobStore, Logger, Rung } from '../../platform/index.js';
import { captionFolder, type CaptionTrack, type RenditionInfo } from '../contract.js';
import { Fmp4StreamParser, type Fmp4Fragment, type TrackDefaults, type TrackInfo } from '../cmaf/fmp4-stream-parser.js';
import { joinChunks } from '../cmaf/join-chunks.js';
import { readFragmentSamples } from '../cmaf/moof.js';
import { CmafSegmenter, type CmafSegment } from '../cmaf/segmenter.js';
import { ffmpegLadderArgs, type LadderOutput } from '../ladder/ffmpeg-ladder-args.js';
import { LadderProcess, type LadderProgress } from '../ladder/ffmpeg-ladder-process.js';
import { hlsKeyTag } from '../manifest/encryption-info.js';
import { toMediaPlaylist, toMultivariantPlaylist, type HlsAudioRendition, type HlsVideoVariant } from '../manifest/hls.js';
import { toMpd, type DashAdaptationSet } from '../manifest/dash.js';
import { segmentName } from '../manifest/paths.js';
import { VodError, type VodSource } from './inspect.js';
import { CencTrackEncryptor } from '../crypto/cenc-boxes.js';
import type { ContentKeyGrant } from '../crypto/key-provider.js';
import type { EncryptionInfo } from '../manifest/encryption-info.js';

const IMMUTABLE = 'public, max-age=31536000, immutable';
/** A growing playlist: edges and players re-read it at least every segment. */
const GROWING = 'public, max-age=1';
/**
 * Final manifests: they replaced growing ones at the same URL, and the multivariant playlist and MPD
 * change again when captions are added, so caches keep them only seconds (edges coalesce the refetches).
 */
const FINAL = 'public, max-age=10';
const HLS = 'application/vnd.apple.mpegurl';

/** Progress of a packaging run. */
export interface VodProgress {
  /** 0–100, from FFmpeg's output time against the source duration. */
  percent: number;
  /** Transcoding speed as a multiple of real time. */
  speed: number;
  /** Every rendition has segments listed in its growing playlist: the asset plays now. */
  playable: boolean;
}

/** One audio rendition of the asset. */
export interface VodAudioTrack {
  name: string;
  language: string;
  label: string;
}

/** What packaging produced. */
export interface VodPackaged {
  durationSeconds: number;
  renditions: RenditionInfo[];
  audio: VodAudioTrack[];
  segmentSeconds: number;
}

/** Inputs of {@link packageVod}. */
export interface VodPackageOptions {
  assetId: string;
  /** The stored upload (a local file). */
  file: string;
  source: VodSource;
  rungs: Rung[];
  /** Capped-CRF target; undefined encodes each rung at its fixed bitrate. */
  crf?: number;
  segmentSeconds: number;
  x264Preset: string;
  ffmpegPath: string;
  audioBitrateKbps?: number;
  /** Wall-time limit of the ladder; beyond it FFmpeg is killed and the run fails (retryable). */
  timeoutMs?: number;
  onProgress?: (p: VodProgress) => void;
  /** Sample encryption of every rendition under one key, and what the manifests say about it. */
  encryption?: VodEncryption;
  /** Aborting stops FFmpeg; the run then fails (retryable). */
  signal?: AbortSignal;
}

/**
 * How an asset is encrypted: Common Encryption of samples (`cbcs`, `cenc`) or whole segments
 * (`aes-128`, HLS only: the init stays clear, each segment is AES-128-CBC with its own IV); only
 * ciphertext is stored.
 */
export interface VodEncryption {
  scheme: 'cbcs' | 'cenc' | 'aes-128';
  key: ContentKeyGrant;
  info: EncryptionInfo;
}

/** Storage prefix of an asset's media. */
export function vodRoot(assetId: string): string {
  return `vod/${assetId}`;
}

/** Rendition names of the source's audio tracks: `audio` for one, `audio-{language}` for several. */
export function audioTrackNames(source: VodSource): VodAudioTrack[] {
  const seen = new Map<string, number>();
  return source.audio.map((a) => {
    if (source.audio.length === 1) return { name: 'audio', language: a.language, label: a.title ?? languageLabel(a.language) };
    const base = `audio-${a.language.replace(/[^a-z0-9]/g, '')}`.slice(0, 28);
    const n = (seen.get(base) ?? 0) + 1;
    seen.set(base, n);
    return { name: n === 1 ? base : `${base}-${n}`, language: a.language, label: a.title ?? languageLabel(a.language) };
  });
}

const LANGUAGE_NAMES: Record<string, string> = { en: 'English', fr: 'Français', de: 'Deutsch', es: 'Español', it: 'Italiano', ja: '日本語', hi: 'हिन्दी', pt: 'Português', zh: '中文', ru: 'Русский', ko: '한국어', ar: 'العربية', nl: 'Nederlands', und: 'Original' };

function languageLabel(language: string): string {
  return LANGUAGE_NAMES[language] ?? language;
}

/** One FFmpeg output becoming stored segments. */
class VodTrack {
  private parser = new Fmp4StreamParser();
  private segmenter?: CmafSegmenter;
  track?: TrackInfo;
  /** Stored segments: number, seconds, and decode time of the first sample (track ticks). */
  readonly segments: { msn: number; duration: number; startTime: number }[] = [];
  private chain: Promise<void> = Promise.resolve();
  private failure?: Error;
  private bits = 0;
  private seconds = 0;
  private peak = 0;
  /** Segments an earlier attempt listed: the growing playlist is not rewritten shorter than this. */
  listedBefore = 0;
  /** Video: bytes of each segment up to the end of its first (key)frame, for the I-frame playlist. */
  readonly iframes: { msn: number; length: number; duration: number }[] = [];
  private defaults?: TrackDefaults;

  constructor(
    readonly output: LadderOutput,
    private readonly blobs: BlobStore,
    private readonly prefix: string,
    private readonly segmentSeconds: number,
    private readonly onStored: () => void,
    private readonly encryption?: VodEncryption,
  ) {
    this.parser.on('init', (init) => this.onInit(init.bytes, init.track, init.defaults));
    this.parser.on('fragment', (f) => this.onFragment(f));
  }

  push(chunk: Buffer): void {
    if (this.failure) return;
    try {
      this.parser.push(chunk);
    } catch (err) {
      this.failure = err as Error;
    }
  }

  /** Closes the last segment and waits for every write. */
  async finish(): Promise<void> {
    if (!this.failure) this.segmenter?.flush();
    await this.chain;
    if (this.failure) throw this.failure;
  }

  private onInit(bytes: Buffer, track: TrackInfo, defaults: TrackDefaults): void {
    if (this.track) {
      this.failure = new Error(`${this.output.name}: the transcoder changed its init segment mid-file`);
      return;
    }
    this.track = track;
    this.defaults = defaults;
    // Encrypted: the init carries encv/enca + tenc + pssh, and every part is sealed before it is stored.
    const e = this.encryption;
    const encryptor = e && e.scheme !== 'aes-128' ? new CencTrackEncryptor({ scheme: e.scheme, key: { kid: Buffer.from(e.key.kid, 'hex'), key: e.key.key }, constantIv: e.key.iv }) : undefined;
    const init = encryptor ? encryptor.init(bytes, defaults) : bytes;
    this.enqueue(() => this.blobs.put(`${this.prefix}/init.mp4`, init, { contentType: 'video/mp4', cacheControl: IMMUTABLE }));
    this.segmenter = new CmafSegmenter({
      timescale: track.timescale,
      kind: track.kind,
      // On demand, parts are not listed: one "part" per segment.
      partTargetSeconds: this.segmentSeconds,
      segmentTargetSeconds: this.segmentSeconds,
      ...(track.kind === 'audio' ? { joinChunks: (chunks: Buffer[]) => joinChunks(chunks, defaults) } : {}),
      maxSegmentSeconds: Math.round(this.segmentSeconds) + 0.49,
      ...(encryptor ? { sealPart: (chunks: Buffer[]) => encryptor.fragment(chunks) } : {}),
    });
    this.segmenter.on('segment', (s) => this.onSegment(s));
  }

  private onFragment(f: Fmp4Fragment): void {
    this.segmenter?.push(f);
  }

  private onSegment(s: CmafSegment): void {
    const entry = { msn: s.msn, duration: s.duration, startTime: s.startDecodeTime };
    const e = this.encryption;
    const wholeSegment = e?.scheme === 'aes-128';
    const bytes = wholeSegment ? encryptSegmentAes128(s.bytes, e.key, segmentIv(e.key.kid, this.output.name, s.msn)) : s.bytes;
    // An AES-128 segment decrypts only whole: no byte ranges into it (no I-frame playlist).
    if (this.track!.kind === 'video' && this.defaults && !wholeSegment) {
      // The segment starts with its keyframe: moof, mdat header and that first sample are the I-frame.
      const first = readFragmentSamples(bytes, new Map([[this.defaults.trackId, this.defaults]])).trafs[0]?.samples[0];
      if (first?.sync) this.iframes.push({ msn: s.msn, length: first.offset + first.size, duration: s.duration });
    }
    this.enqueue(async () => {
      await this.blobs.put(`${this.prefix}/${segmentName(s.msn)}`, bytes, { contentType: this.track!.kind === 'video' ? 'video/mp4' : 'audio/mp4', cacheControl: IMMUTABLE });
      // Listed only once stored.
      this.segments.push(entry);
      const bits = bytes.length * 8;
      this.bits += bits;
      this.seconds += s.duration;
      // The last segment is often short: it does not set the peak.
      if (s.duration >= this.segmentSeconds * 0.5) this.peak = Math.max(this.peak, bits / s.duration);
      this.onStored();
    });
  }

  private enqueue(job: () => Promise<void>): void {
    this.chain = this.chain.then(async () => {
      if (this.failure) return;
      try {
        await job();
      } catch (err) {
        this.failure = err as Error;
      }
    });
  }

  /** Measured (or, before any segment, planned) bandwidth. */
  info(): RenditionInfo {
    const t = this.track!;
    const o = this.output;
    const planned = (o.videoBitrateKbps ?? o.audioBitrateKbps ?? 128) * 1000;
    const measured = this.seconds > 0 ? Math.ceil((Math.max(this.peak, this.bits / this.seconds) * 1.05) / 1000) * 1000 : 0;
    return {
      name: o.name,
      kind: t.kind,
      codec: t.codec,
      bandwidth: measured || planned,
      averageBandwidth: this.seconds > 0 ? Math.round(this.bits / this.seconds) : undefined,
      width: t.width ?? o.width,
      height: t.height ?? o.height,
      frameRate: o.fps,
      sampleRate: t.sampleRate,
      channels: t.channels,
      timescale: t.timescale,
    };
  }
}

/** AES-128 IV of one segment: unique per (key, rendition, segment), so no two segments share a CBC start. */
export function segmentIv(kid: string, rendition: string, msn: number): Buffer {
  return crypto.createHash('sha256').update(`${kid}/${rendition}/${msn}`).digest().subarray(0, 16);
}

/** HLS AES-128 (RFC 8216 §4.3.2.4): the whole segment, AES-128-CBC with PKCS7 padding. */
export function encryptSegmentAes128(bytes: Buffer, key: ContentKeyGrant, iv: Buffer): Buffer {
  const c = crypto.createCipheriv('aes-128-cbc', key.key, iv);
  return Buffer.concat([c.update(bytes), c.final()]);
}

/** A media playlist of stored segments: EVENT while it grows, VOD with ENDLIST at the end. */
function mediaPlaylist(track: VodTrack, targetDuration: number, ended: boolean, encryption?: EncryptionInfo): string {
  const aes = encryption?.method === 'aes-128' ? encryption : undefined;
  return toMediaPlaylist(
    {
      targetDuration,
      mediaSequence: 0,
      discontinuitySequence: 0,
      mapUri: 'init.mp4',
      segments: track.segments.map((s) => ({
        msn: s.msn, uri: segmentName(s.msn), duration: s.duration, map: 'init.mp4',
        // AES-128: every segment states its own IV (a key line each).
        ...(aes ? { encryption: { ...aes, iv: segmentIv(aes.kid, track.output.name, s.msn).toString('hex') } } : {}),
      })),
      ended,
      playlistType: ended ? 'VOD' : 'EVENT',
      ...(encryption && !aes ? { encryption } : {}),
    },
    { canBlockReload: false, canSkipUntil: 0 },
  );
}

/**
 * Segments listed by an existing media playlist (0 when there is none). A store that overwrites in
 * place (s3rver; not S3) can show an object empty while it is rewritten: such a read is tried again.
 */
async function listedSegments(blobs: BlobStore, key: string): Promise<number> {
  for (let attempt = 0; ; attempt++) {
    const obj = await blobs.get(key);
    if (!obj) return 0;
    const chunks: Buffer[] = [];
    for await (const c of obj.body) chunks.push(c as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    if (text.startsWith('#EXTM3U') || attempt >= 5) return (text.match(/^#EXTINF:/gm) ?? []).length;
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Runs the ladder over the upload and writes the asset's media and manifests. */
export async function packageVod(deps: { blobs: BlobStore; logger: Logger }, opts: VodPackageOptions): Promise<VodPackaged> {
  const root = vodRoot(opts.assetId);
  const audio = audioTrackNames(opts.source);
  const ladder = ffmpegLadderArgs({
    input: { kind: 'url', url: opts.file },
    source: { width: opts.source.width, height: opts.source.height, fps: opts.source.fps, hasAudio: audio.length > 0 },
    rungs: opts.rungs,
    segmentSeconds: opts.segmentSeconds,
    x264Preset: opts.x264Preset,
    audioBitrateKbps: opts.audioBitrateKbps,
    vod: { crf: opts.crf, audioTracks: audio.map((a, index) => ({ index, name: a.name })) },
  });
  const targetDuration = Math.round(opts.segmentSeconds);
  let playable = false;
  let writing: Promise<void> = Promise.resolve();
  let dirty = false;
  let lastProgress: LadderProgress | undefined;
  const report = () => {
    const out = lastProgress?.outTimeSeconds ?? 0;
    opts.onProgress?.({ percent: Math.min(99, Math.floor((out / opts.source.durationSeconds) * 100)), speed: lastProgress?.speed ?? 0, playable });
  };
  const tracks: VodTrack[] = ladder.outputs.map(
    (o) =>
      new VodTrack(o, deps.blobs, `${root}/${o.name}`, opts.segmentSeconds, () => {
        dirty = true;
        writing = writing.then(writeGrowing);
      }, opts.encryption),
  );
  await Promise.all(tracks.map(async (t) => (t.listedBefore = await listedSegments(deps.blobs, `${root}/${t.output.name}/index.m3u8`))));

  // Rewrites the growing playlists (serialised; coalesces bursts of segments into one pass).
  const written = new Map<VodTrack, number>();
  let growingAst: number | undefined;
  async function writeGrowing(): Promise<void> {
    if (!dirty) return;
    dirty = false;
    if (!tracks.every((t) => t.track && t.segments.length > 0)) return;
    for (const t of tracks) {
      const n = t.segments.length;
      if (n === written.get(t) || n < t.listedBefore) continue;
      await deps.blobs.put(`${root}/${t.output.name}/index.m3u8`, Buffer.from(mediaPlaylist(t, targetDuration, false, opts.encryption?.info)), { contentType: HLS, cacheControl: GROWING });
      written.set(t, n);
    }
    if (!tracks.every((t) => written.has(t))) return;
    const growing: VodPackage = {
      segmentSeconds: opts.segmentSeconds,
      durationSeconds: opts.source.durationSeconds,
      audio,
      tracks: tracks.map((t) => ({ info: t.info(), segments: t.segments.slice(0, written.get(t)).map((x) => ({ msn: x.msn, start: x.startTime, duration: x.duration })) })),
      captions: [],
      ...(opts.encryption ? { encryption: opts.encryption.info } : {}),
    };
    growingAst ??= Date.now() - opts.segmentSeconds * 1000;
    // DASH has no whole-segment AES-128: such an asset is HLS only.
    if (opts.encryption?.scheme !== 'aes-128') await deps.blobs.put(`${root}/manifest.mpd`, Buffer.from(vodMpd(growing, { availabilityStartTimeMs: growingAst })), { contentType: 'application/dash+xml', cacheControl: GROWING });
    if (!playable) {
      await deps.blobs.put(`${root}/master.m3u8`, Buffer.from(multivariant(growing)), { contentType: HLS, cacheControl: GROWING });
      playable = true;
      report();
    }
  }

  const proc = new LadderProcess({ logger: deps.logger }, { ffmpegPath: opts.ffmpegPath, args: ladder.args, outputs: ladder.outputs });
  const byName = new Map(tracks.map((t) => [t.output.name, t]));
  proc.on('data', (name, chunk) => byName.get(name)?.push(chunk));
  proc.on('progress', (p) => {
    lastProgress = p;
    report();
  });
  proc.start();
  const timer = opts.timeoutMs ? setTimeout(() => void proc.stop(), opts.timeoutMs) : undefined;
  const abort = () => void proc.stop();
  opts.signal?.addEventListener('abort', abort);
  const exit = await proc.exited;
  clearTimeout(timer);
  opts.signal?.removeEventListener('abort', abort);
  if (exit.stopped) throw new VodError('TRANSCODE_FAILED', 'Transcoding took longer than its time limit.', false);
  if (exit.code !== 0) {
    deps.logger.warn({ asset: opts.assetId, code: exit.code, signal: exit.signal, stderr: exit.stderrTail }, 'vod ladder failed');
    throw new VodError('TRANSCODE_FAILED', 'The video could not be transcoded (the encoder stopped with an error).', false);
  }
  await Promise.all(tracks.map((t) => t.finish()));
  await writing;
  if (!tracks.every((t) => t.track && t.segments.length > 0)) throw new VodError('TRANSCODE_FAILED', 'Transcoding produced no media.', false);

  // Final manifests: every segment is stored, so ENDLIST, measured bandwidths and the static MPD.
  for (const t of tracks) {
    await deps.blobs.put(`${root}/${t.output.name}/index.m3u8`, Buffer.from(mediaPlaylist(t, targetDuration, true, opts.encryption?.info)), { contentType: HLS, cacheControl: FINAL });
  }
  const renditions = tracks.map((t) => t.info());
  const video = tracks.find((t) => t.track?.kind === 'video')!;
  const durationSeconds = Math.round(video.segments.reduce((a, s) => a + s.duration, 0) * 1000) / 1000;
  const description: VodPackage = {
    segmentSeconds: opts.segmentSeconds,
    durationSeconds,
    audio,
    tracks: tracks.map((t) => ({ info: t.info(), segments: t.segments.map((x) => ({ msn: x.msn, start: x.startTime, duration: x.duration })), ...(t.iframes.length ? { iframes: t.iframes } : {}) })),
    captions: [],
    ...(opts.encryption ? { encryption: opts.encryption.info } : {}),
  };
  await deps.blobs.put(`${root}/${PACKAGE_NAME}`, Buffer.from(JSON.stringify(description)), { contentType: 'application/json', cacheControl: 'no-store' });
  await writeVodManifests(deps.blobs, opts.assetId, description);
  return { durationSeconds, renditions, audio, segmentSeconds: opts.segmentSeconds };
}

/** What an asset's manifests are made from, kept beside them (`package.json`) so captions can be added later. */
export interface VodPackage {
  segmentSeconds: number;
  durationSeconds: number;
  audio: VodAudioTrack[];
  tracks: { info: RenditionInfo; segments: { msn: number; start: number; duration: number }[]; iframes?: { msn: number; length: number; duration: number }[] }[];
  /** Caption tracks, each a WebVTT file at `{captionFolder(language)}/captions.vtt`. */
  captions: CaptionTrack[];
  /** The media is encrypted: the key signalling every manifest carries. */
  encryption?: EncryptionInfo;
}

/** File name of the package description in the asset's folder. */
export const PACKAGE_NAME = 'package.json';

/** Reads an asset's package description (undefined before its first packaging finished). */
export async function readVodPackage(blobs: BlobStore, assetId: string): Promise<VodPackage | undefined> {
  const obj = await blobs.get(`${vodRoot(assetId)}/${PACKAGE_NAME}`);
  if (!obj) return undefined;
  const chunks: Buffer[] = [];
  for await (const c of obj.body) chunks.push(c as Buffer);
  return JSON.parse(Buffer.concat(chunks).toString('utf8')) as VodPackage;
}

/**
 * Writes the multivariant playlist and the static MPD from a package description: video variants by
 * falling bandwidth, one audio group (HLS) or AdaptationSet per language (DASH), and the caption
 * tracks (HLS SUBTITLES renditions of one whole-file WebVTT segment, DASH text AdaptationSets).
 */
export async function writeVodManifests(blobs: BlobStore, assetId: string, pkg: VodPackage): Promise<void> {
  const root = vodRoot(assetId);
  for (const c of pkg.captions) {
    const target = Math.max(1, Math.ceil(pkg.durationSeconds));
    const playlist = ['#EXTM3U', '#EXT-X-VERSION:6', `#EXT-X-TARGETDURATION:${target}`, '#EXT-X-PLAYLIST-TYPE:VOD', '#EXT-X-MEDIA-SEQUENCE:0', `#EXTINF:${pkg.durationSeconds.toFixed(5)},`, 'captions.vtt', '#EXT-X-ENDLIST', ''].join('\n');
    await blobs.put(`${root}/${captionFolder(c.language)}/index.m3u8`, Buffer.from(playlist), { contentType: HLS, cacheControl: FINAL });
  }
  for (const t of pkg.tracks) {
    if (!t.iframes?.length) continue;
    const lines = ['#EXTM3U', '#EXT-X-VERSION:6', `#EXT-X-TARGETDURATION:${Math.round(pkg.segmentSeconds)}`, '#EXT-X-PLAYLIST-TYPE:VOD', '#EXT-X-MEDIA-SEQUENCE:0', '#EXT-X-I-FRAMES-ONLY', '#EXT-X-MAP:URI="init.mp4"'];
    if (pkg.encryption) lines.push(hlsKeyTag(pkg.encryption));
    for (const f of t.iframes) lines.push(`#EXTINF:${f.duration.toFixed(5)},`, `#EXT-X-BYTERANGE:${f.length}@0`, segmentName(f.msn));
    lines.push('#EXT-X-ENDLIST', '');
    await blobs.put(`${root}/${t.info.name}/iframes.m3u8`, Buffer.from(lines.join('\n')), { contentType: HLS, cacheControl: FINAL });
  }
  if (pkg.encryption?.method !== 'aes-128') await blobs.put(`${root}/manifest.mpd`, Buffer.from(vodMpd(pkg)), { contentType: 'application/dash+xml', cacheControl: FINAL });
  await blobs.put(`${root}/master.m3u8`, Buffer.from(multivariant(pkg)), { contentType: HLS, cacheControl: FINAL });
}

/**
 * The MPD: static once packaged; while the asset transcodes, dynamic, with every stored segment listed
 * and the whole asset in the time-shift window, its availabilityStartTime the moment it became
 * playable minus the first segment, so the live edge advances in real time from the start (the
 * transcode runs ahead of it) and a viewer can seek back to zero. It turns static when the job ends.
 */
function vodMpd(pkg: VodPackage, growing?: { availabilityStartTimeMs: number }): string {
  const sets: DashAdaptationSet[] = [];
  const entries = (t: VodPackage['tracks'][number]) => t.segments.map((s) => ({ number: s.msn, start: s.start, duration: Math.round(s.duration * t.info.timescale) }));
  const representation = ({ info: r }: VodPackage['tracks'][number]) => ({ id: r.name, bandwidth: r.bandwidth, codecs: r.codec, width: r.width, height: r.height, frameRate: r.frameRate, sampleRate: r.sampleRate, channels: r.channels });
  const video = pkg.tracks.filter((t) => t.info.kind === 'video');
  if (video[0]) {
    // Aligned rungs share one timeline; the shortest one lists what every rung has.
    const shortest = video.reduce((a, b) => (b.segments.length < a.segments.length ? b : a));
    sets.push({ contentType: 'video', timescale: shortest.info.timescale, representations: video.map(representation), segments: entries(shortest), presentationTimeOffset: shortest.segments[0]?.start ?? 0 });
  }
  for (const t of pkg.tracks.filter((x) => x.info.kind === 'audio')) {
    const meta = pkg.audio.find((a) => a.name === t.info.name);
    sets.push({
      contentType: 'audio',
      timescale: t.info.timescale,
      representations: [representation(t)],
      segments: entries(t),
      presentationTimeOffset: t.segments[0]?.start ?? 0,
      ...(meta && meta.language !== 'und' ? { lang: meta.language } : {}),
    });
  }
  const textTracks = pkg.captions.map((c) => ({ id: captionFolder(c.language), lang: c.language, label: c.label, url: `${captionFolder(c.language)}/captions.vtt` }));
  if (growing) {
    return toMpd(
      { type: 'dynamic', availabilityStartTimeMs: growing.availabilityStartTimeMs, publishTimeMs: Date.now(), adaptationSets: sets, ...(pkg.encryption ? { encryption: pkg.encryption } : {}) },
      { initializationTemplate: '$RepresentationID$/init.mp4', minimumUpdatePeriod: pkg.segmentSeconds, timeShiftBufferDepth: Math.max(pkg.durationSeconds, pkg.segmentSeconds), suggestedPresentationDelay: 2 * pkg.segmentSeconds },
    );
  }
  return toMpd({ type: 'static', availabilityStartTimeMs: 0, publishTimeMs: Date.now(), adaptationSets: sets, textTracks, ...(pkg.encryption ? { encryption: pkg.encryption } : {}) }, { initializationTemplate: '$RepresentationID$/init.mp4' });
}

function multivariant(pkg: VodPackage): string {
  const infos = pkg.tracks.map((t) => t.info);
  const video: HlsVideoVariant[] = infos
    .filter((r) => r.kind === 'video')
    .sort((a, b) => b.bandwidth - a.bandwidth)
    .map((v) => ({ uri: `${v.name}/index.m3u8`, bandwidth: v.bandwidth, averageBandwidth: v.averageBandwidth, codecs: v.codec, width: v.width ?? 0, height: v.height ?? 0, frameRate: v.frameRate }));
  const audioRenditions: HlsAudioRendition[] = infos
    .filter((r) => r.kind === 'audio')
    .map((a, i) => {
      const meta = pkg.audio.find((x) => x.name === a.name);
      return {
        uri: `${a.name}/index.m3u8`,
        name: meta?.label ?? a.name,
        language: meta && meta.language !== 'und' ? meta.language : undefined,
        default: i === 0,
        codecs: a.codec,
        channels: a.channels,
        bandwidth: a.bandwidth,
        averageBandwidth: a.averageBandwidth,
      };
    });
  const subtitles = pkg.captions.map((c) => ({ uri: `${captionFolder(c.language)}/index.m3u8`, name: c.label, language: c.language }));
  // Trick play: each rung's keyframes, at the peak rate they take when played one per segment.
  const iframes = pkg.tracks
    .filter((t) => t.iframes?.length)
    .sort((a, b) => b.info.bandwidth - a.info.bandwidth)
    .map(({ info, iframes: f }) => ({
      uri: `${info.name}/iframes.m3u8`,
      bandwidth: Math.ceil(Math.max(...f!.map((x) => (x.length * 8) / Math.max(0.001, x.duration)))),
      codecs: info.codec,
      width: info.width ?? 0,
      height: info.height ?? 0,
    }));
  // Sample encryption opens its key session early (EXT-X-SESSION-KEY); AES-128 keys come with each segment's IV.
  return toMultivariantPlaylist({ video, audio: audioRenditions, subtitles, iframes }, pkg.encryption && pkg.encryption.method !== 'aes-128' ? { sessionKey: pkg.encryption } : {});
}
