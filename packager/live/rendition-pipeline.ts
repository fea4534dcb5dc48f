import type { BlobStore, Logger } from '../../platform/index.js';
import type { RenditionInfo, SegmentEntry } from '../contract.js';
import type { LadderOutput } from '../ladder/ffmpeg-ladder-args.js';
import { Fmp4StreamParser, type Fmp4Fragment, type TrackDefaults, type TrackInfo } from '../cmaf/fmp4-stream-parser.js';
import { joinChunks } from '../cmaf/join-chunks.js';
import { sampleDescriptionOf } from '../cmaf/boxes.js';
import { CmafSegmenter, type CmafPart, type CmafSegment } from '../cmaf/segmenter.js';
import { CencTrackEncryptor, type CencTrackConfig } from '../crypto/cenc-boxes.js';
import type { ContentKeyGrant } from '../crypto/key-provider.js';
import type { LiveKeyRing } from '../crypto/live-keys.js';
import { shiftDecodeTime } from '../cmaf/retime.js';
import { RenditionTimeline } from './rendition-timeline.js';
import type { LiveCatalog } from './live-catalog.js';
import type { LiveMetrics } from './live-session.js';

const IMMUTABLE = 'public, max-age=31536000, immutable';
/**
 * Parts of a segment this many segments back are deleted: playlists list parts for the last three
 * segments (RFC 8216bis §6.2.2 lets older ones go), and the rest is margin for slow players and edges.
 */
const PART_RETENTION_SEGMENTS = 8;
/**
 * Segments this many segments behind the start of the DVR window leave live storage (moved to the
 * recording when there is one): players that loaded the playlist just before a segment scrolled out
 * can still fetch it.
 */
const SEGMENT_RETENTION_SEGMENTS = 8;
/**
 * Writes waiting behind slow storage or Redis before whole segments are dropped (about 15 s of media
 * at the default part target): memory stays bounded, and the stream goes on after a discontinuity.
 */
export const MAX_QUEUED_WRITES = 64;
/** A content key as the encryptor takes it. */
function trackKey(scheme: 'cbcs' | 'cenc', g: ContentKeyGrant): CencTrackConfig {
  return { scheme, key: { kid: Buffer.from(g.kid, 'hex'), key: g.key }, constantIv: g.iv };
}

/** EXT-X-TARGETDURATION of a copied (passthrough) source, seconds: longer GOPs are cut without a keyframe. */
export const PASSTHROUGH_TARGET_DURATION = 10;

/** Static settings of one rendition pipeline. */
export interface RenditionPipelineConfig {
  streamId: string;
  /** The packaging session: the catalog keeps each session's log apart. */
  sessionId?: string;
  output: LadderOutput;
  partTarget: number;
  segmentTarget: number;
  dvrWindowSeconds: number;
  firstMsn: number;
  /** The session's media timeline and its wall clock. */
  clock: SessionClock;
  /** Storage prefix of the session's recording: segments leaving the DVR window move there. */
  recordingPrefix?: string;
  /** Sample encryption: every part is sealed under its segment's key before it is stored. */
  encryption?: { scheme: 'cbcs' | 'cenc'; keys: LiveKeyRing };
}

/** How a run's media time joins the session timeline, and that timeline's wall clock. */
export interface SessionClock {
  /** Seconds to add to the running FFmpeg's media time (fixed by the run's first fragment). */
  runOffsetSeconds(rawSeconds: number): number;
  /** Wall clock (epoch ms) of a session media time. */
  wallClockMs(sessionSeconds: number): number;
}

/** What a pipeline needs. */
export interface RenditionPipelineDeps {
  blobs: BlobStore;
  catalog: LiveCatalog;
  logger: Logger;
  metrics: LiveMetrics;
  /**
   * The rendition's description changed (its first segment, or a segment above the advertised peak
   * bitrate): published before the segment that measured it is announced.
   */
  onInfo?: (info: RenditionInfo) => Promise<void>;
}

/**
 * One FFmpeg output turned into LL-HLS/DASH media: fMP4 bytes → parser → CMAF segmenter → storage
 * (parts, segments, init) → timeline → live catalog. Storage first, then the announcement, so no reader
 * sees a part that is not there. Writes are serialised to keep announcements in order.
 */
export class RenditionPipeline {
  private parser: Fmp4StreamParser;
  private segmenter?: CmafSegmenter;
  /** Encrypted sessions: the track encryptor, and the key each recent segment was sealed with (its parts share it). */
  private encryptor?: CencTrackEncryptor;
  private readonly sealedKid = new Map<number, string>();
  private readonly sealedKeys = new Map<string, ContentKeyGrant>();
  private timeline?: RenditionTimeline;
  private track?: TrackInfo;
  private initName?: string;
  private chain: Promise<void> = Promise.resolve();
  private discontinuityNext = false;
  /** Ticks added to this run's decode times to continue the session timeline (see LiveSession). */
  private runOffsetTicks?: number;
  /** End of the last fragment on the session timeline, in ticks. */
  private lastEndTicks?: number;
  /** Parts written per segment msn, until they are deleted. */
  private readonly partCounts = new Map<number, number>();
  /** Segment closes queued but not yet run: the part just before one need not be announced alone. */
  private closesQueued = 0;
  private readonly prefix: string;
  /** Every segment of the session, oldest first (the DVR window holds only the newest). */
  private readonly recorded: SegmentEntry[] = [];
  /** recorded[0 .. movedCount) have left (or are leaving) live storage. */
  private movedCount = 0;
  /** Segments copied to the recording and deleted from live storage. */
  private readonly inRecording = new Set<number>();
  /** The current init's sample description, to tell a restart that changed it. */
  private sampleDescription?: Buffer;
  private readonly initKeys: string[] = [];
  /** Jobs in the write chain. */
  private queued = 0;
  /** The segment being cut now is dropped (the chain was over MAX_QUEUED_WRITES when it started). */
  private droppingSegment = false;
  /** Segment bitrate measurements: the peak, what was advertised, and the running totals. */
  private peak = 0;
  private advertised?: number;
  private advertisedAverage?: number;
  private bits = 0;
  private seconds = 0;
  /** Moves out of live storage, in order, off the path of parts. */
  private trimChain: Promise<void> = Promise.resolve();

  constructor(
    private readonly deps: RenditionPipelineDeps,
    private readonly config: RenditionPipelineConfig,
  ) {
    this.prefix = `live/${config.streamId}/${config.output.name}`;
    this.parser = this.newParser();
  }

  /** Bytes from this output's pipe. */
  push(chunk: Buffer): void {
    try {
      this.parser.push(chunk);
    } catch (err) {
      this.deps.logger.error({ err, rendition: this.config.output.name }, 'unparseable fMP4 from transcoder: output reset');
      this.restart(true);
    }
  }

  /** A new FFmpeg run feeds this output: new fMP4 stream, discontinuity in the timeline. */
  restart(discontinuity: boolean): void {
    this.flushSegmenter();
    this.parser = this.newParser();
    this.segmenter = undefined;
    this.runOffsetTicks = undefined;
    if (discontinuity) this.discontinuityNext = true;
  }

  /** The timeline so far (for recordings). */
  get state() {
    return this.timeline?.state();
  }

  /** Every segment of the session, oldest first, for the recording. */
  get recordedSegments(): readonly SegmentEntry[] {
    return this.recorded;
  }

  /** Where segment `msn` of this session is stored now: live storage, or the recording once it left the window. */
  segmentKey(msn: number): string {
    return `${this.inRecording.has(msn) ? this.config.recordingPrefix : this.prefix}/seg-${msn}.m4s`;
  }

  /**
   * EXT-X-TARGETDURATION for the session, fixed at the start (§6.2.1). The ladder forces keyframes on
   * the segment grid, so its segments are the target; a copied source keeps its own GOPs, up to
   * PASSTHROUGH_TARGET_DURATION (OBS's default keyframe interval is 250 frames, 8.3 s at 30 fps).
   */
  private targetDuration(): number {
    const target = Math.round(this.config.segmentTarget);
    return this.config.output.sourceGops ? Math.max(target, PASSTHROUGH_TARGET_DURATION) : target;
  }

  /** Every init segment of the session, oldest first (storage keys). */
  get initKeysUsed(): readonly string[] {
    return this.initKeys;
  }

  /** The current init segment's storage key. */
  get initKey(): string | undefined {
    return this.initName ? `${this.prefix}/${this.initName}` : undefined;
  }

  get name(): string {
    return this.config.output.name;
  }

  /** Closes the last segment and marks the playlist ended. */
  async finish(): Promise<void> {
    this.flushSegmenter();
    this.enqueue(async () => {
      if (!this.timeline) return;
      this.timeline.end();
      await this.deps.catalog.publish(this.timeline);
    });
    await this.chain;
    await this.trimChain;
  }

  private newParser(): Fmp4StreamParser {
    const parser = new Fmp4StreamParser();
    parser.on('init', (init) => this.onInit(init.bytes, init.track, init.defaults));
    parser.on('fragment', (f) => this.onFragment(f));
    return parser;
  }

  private flushSegmenter(): void {
    try {
      this.segmenter?.flush();
    } catch (err) {
      this.deps.logger.warn({ err }, 'flush failed');
    }
  }

  private onInit(bytes: Buffer, track: TrackInfo, defaults: TrackDefaults): void {
    const first = !this.track;
    this.track = track;
    if (first) {
      // One init per session: FFmpeg restarted with the same arguments writes the same sample entries.
      this.initName = `init-${this.config.firstMsn}.mp4`;
      this.timeline = new RenditionTimeline({
        streamId: this.config.streamId,
        rendition: this.config.output.name,
        kind: track.kind,
        timescale: track.timescale,
        initName: this.initName,
        partTarget: this.config.partTarget,
        segmentTarget: this.config.segmentTarget,
        dvrWindowSeconds: this.config.dvrWindowSeconds,
        firstMsn: this.config.firstMsn,
        epoch: this.config.sessionId,
        targetDuration: this.targetDuration(),
      });
      const key = `${this.prefix}/${this.initName}`;
      this.sampleDescription = sampleDescriptionOf(bytes);
      this.initKeys.push(key);
      const init = this.sealInit(bytes, defaults);
      this.enqueue(() => this.deps.blobs.put(key, init, { contentType: 'video/mp4', cacheControl: IMMUTABLE }));
    } else {
      // FFmpeg restarted with the same arguments writes the same sample entries: keep the init. A new
      // sample description (a passthrough source back at another size) gets an init segment of its own,
      // named for the segment it starts at, and is announced after a discontinuity (a new EXT-X-MAP).
      const description = sampleDescriptionOf(bytes);
      if (!description || !this.sampleDescription || !description.equals(this.sampleDescription)) {
        this.sampleDescription = description;
        this.discontinuityNext = true;
        const timeline = this.timeline!;
        const init = this.sealInit(bytes, defaults);
        this.enqueue(async () => {
          const name = `init-${timeline.msn}.mp4`;
          const key = `${this.prefix}/${name}`;
          await this.deps.blobs.put(key, init, { contentType: 'video/mp4', cacheControl: IMMUTABLE });
          this.initKeys.push(key);
          this.initName = name;
          timeline.useInit(name);
        });
      }
    }
    if (this.discontinuityNext) {
      // In the chain: parts of the previous run still queued must not pick the discontinuity up.
      const timeline = this.timeline;
      this.enqueue(async () => timeline?.markDiscontinuity());
      this.discontinuityNext = false;
    }
    this.segmenter = new CmafSegmenter({
      timescale: track.timescale,
      kind: track.kind,
      partTargetSeconds: this.config.partTarget,
      segmentTargetSeconds: this.config.segmentTarget,
      // Audio: one chunk per part instead of a moof per AAC frame (a third of the bytes at 128 kb/s).
      ...(track.kind === 'audio' ? { joinChunks: (chunks: Buffer[]) => joinChunks(chunks, defaults) } : {}),
      keyframesOnGrid: !this.config.output.sourceGops,
      // Rounded, every segment stays within the session's fixed EXT-X-TARGETDURATION.
      maxSegmentSeconds: this.targetDuration() + 0.49,
      ...(this.encryptor ? { sealPart: (chunks: Buffer[], at: { segmentStart: number }) => this.sealPart(chunks, this.segmentIndex(at.segmentStart)) } : {}),
    });
    this.segmenter.on('part', (p) => this.onPart(p));
    this.segmenter.on('segment', (s) => this.onSegment(s));
  }

  /** The init segment as stored: encv/enca with the session's first key as default, when encrypted. */
  private sealInit(bytes: Buffer, defaults: TrackDefaults): Buffer {
    const e = this.config.encryption;
    if (!e) return bytes;
    // One encryptor for the session: the default KID of every init is the first key's, rotation goes in the fragments.
    this.encryptor ??= new CencTrackEncryptor(trackKey(e.scheme, e.keys.first), { pssh: !e.keys.rotates });
    return this.encryptor.init(bytes, defaults);
  }

  /**
   * The session-wide number of the segment starting at this decode time: segments start on the same
   * grid in every rendition (session media time ÷ segment target), so every rendition changes key at
   * the same segment, whatever its own numbering or restarts.
   */
  private segmentIndex(decodeTime: number): number {
    return Math.round(decodeTime / this.track!.timescale / this.config.segmentTarget);
  }

  /** A part encrypted under its segment's key (rotation changes it at segment boundaries only). */
  private sealPart(chunks: Buffer[], index: number): Buffer {
    const e = this.config.encryption!;
    let kid = this.sealedKid.get(index);
    const grant = kid ? this.sealedKeys.get(kid)! : e.keys.keyFor(index);
    if (!kid) {
      kid = grant.kid;
      this.sealedKid.set(index, kid);
      this.sealedKeys.set(kid, grant);
      for (const m of this.sealedKid.keys()) if (m < index - 4) this.sealedKid.delete(m);
      for (const k of this.sealedKeys.keys()) if (![...this.sealedKid.values()].includes(k)) this.sealedKeys.delete(k);
    }
    // cbcs: one constant IV for the session (the first key's), in tenc and in every seig: an IV is not
    // secret, and readers that ignore sample groups (FFmpeg) then decrypt any period given its key.
    return this.encryptor!.fragment(chunks, { ...trackKey(e.scheme, grant), constantIv: e.keys.first.iv });
  }

  private onFragment(f: Fmp4Fragment): void {
    const timescale = this.track?.timescale;
    if (!timescale) return;
    if (this.runOffsetTicks === undefined) {
      let offset = Math.round(this.config.clock.runOffsetSeconds(f.decodeTime / timescale) * timescale);
      // Never step back onto media already published (clock jitter across a restart).
      if (this.lastEndTicks !== undefined && f.decodeTime + offset < this.lastEndTicks) offset = this.lastEndTicks - f.decodeTime;
      this.runOffsetTicks = offset;
    }
    if (this.runOffsetTicks !== 0) f.decodeTime = shiftDecodeTime(f.bytes, this.runOffsetTicks);
    this.lastEndTicks = f.decodeTime + f.duration;
    this.segmenter?.push(f);
  }

  private onPart(p: CmafPart): void {
    const timeline = this.timeline;
    const track = this.track;
    if (!timeline || !track) return;
    // Backpressure is decided at segment starts, so a segment is listed whole or not at all.
    if (p.partIndex === 0) {
      const wasDropping = this.droppingSegment;
      this.droppingSegment = this.queued > MAX_QUEUED_WRITES;
      if (this.droppingSegment && !wasDropping) this.deps.logger.warn({ rendition: this.config.output.name, queued: this.queued }, 'storage is not keeping up: dropping segments until it does');
      if (wasDropping && !this.droppingSegment) {
        this.deps.logger.warn({ rendition: this.config.output.name }, 'storage caught up: resuming after a discontinuity');
        this.enqueue(async () => timeline.markDiscontinuity());
      }
    }
    if (this.droppingSegment) {
      this.deps.metrics.droppedParts.inc({ rendition_kind: track.kind });
      return;
    }
    const pdt = this.config.clock.wallClockMs(p.decodeTime / track.timescale);
    const kind = track.kind;
    // The segmenter has already seen this part's end: it knows whether the next part opens a segment.
    const lastOfSegment = this.segmenter?.nextPartPosition.msn === p.msn + 1;
    // The key this part was just sealed with (read now: sealing runs ahead of the storage chain).
    const kid = p.partIndex === 0 && this.config.encryption ? this.sealedKid.get(this.segmentIndex(p.decodeTime)) : undefined;
    // Timeline changes happen inside the ordered chain, so a published state never lists unwritten media.
    this.enqueue(async () => {
      // The segmenter also notices timestamp jumps it was not told about.
      if (p.partIndex === 0 && p.discontinuity) timeline.markDiscontinuity();
      const { msn, part } = timeline.addPart({ duration: p.duration, independent: p.independent }, p.decodeTime, pdt, { lastOfSegment, ...(kid ? { kid } : {}) });
      this.partCounts.set(msn, part + 1);
      await this.deps.blobs.put(`${this.prefix}/part-${msn}.${part}.m4s`, p.bytes, { contentType: 'video/iso.segment', cacheControl: IMMUTABLE });
      // A part that ends its segment is announced with the segment, so the preload hint never names a
      // part that will not exist (part N.k+1 when segment N is about to close).
      if (this.closesQueued === 0) await this.deps.catalog.publish(timeline);
      this.deps.metrics.parts.inc({ rendition_kind: kind });
      this.deps.metrics.partDelay.observe({ rendition_kind: kind }, Math.max(0, (Date.now() - (pdt + p.duration * 1000)) / 1000));
    });
  }

  private onSegment(s: CmafSegment): void {
    const timeline = this.timeline;
    if (!timeline || this.droppingSegment) return;
    this.closesQueued++;
    this.enqueue(async () => {
      this.closesQueued--;
      await this.deps.blobs.put(`${this.prefix}/seg-${timeline.msn}.m4s`, s.bytes, { contentType: 'video/iso.segment', cacheControl: IMMUTABLE });
      await this.measure(s.bytes.length, s.duration);
      const closed = timeline.closeSegment(s.duration);
      this.recorded.push(closed);
      await this.deps.catalog.publish(timeline);
      this.forgetParts(closed.msn - PART_RETENTION_SEGMENTS);
      this.trimLive(timeline.completeSegments[0].msn - SEGMENT_RETENTION_SEGMENTS);
    });
  }

  /**
   * Live storage holds the DVR window: segments before `msn` leave it, moved to the recording (when
   * the session records) or deleted. A move is a copy then a delete, so the recording never misses one.
   */
  private trimLive(msn: number): void {
    while (this.movedCount < this.recorded.length && this.recorded[this.movedCount].msn < msn) {
      const seg = this.recorded[this.movedCount++];
      const from = `${this.prefix}/seg-${seg.msn}.m4s`;
      const to = this.config.recordingPrefix && `${this.config.recordingPrefix}/seg-${seg.msn}.m4s`;
      this.trimChain = this.trimChain
        .then(async () => {
          if (to) {
            const got = await this.deps.blobs.get(from);
            if (!got) throw new Error(`segment ${from} is missing`);
            await this.deps.blobs.put(to, got.body, { contentType: 'video/iso.segment', cacheControl: IMMUTABLE });
            this.inRecording.add(seg.msn);
          }
          await this.deps.blobs.delete(from);
        })
        .catch((err) => this.deps.logger.warn({ err, msn: seg.msn }, 'moving a segment out of the live window failed'));
    }
  }

  /**
   * Parts are for the live edge only: playlists list them for the last few segments, so once a segment
   * is well past that its parts are deleted (its segment stays, for DVR and the recording).
   */
  private forgetParts(msn: number): void {
    const count = this.partCounts.get(msn);
    if (count === undefined) return;
    this.partCounts.delete(msn);
    const keys = Array.from({ length: count }, (_, i) => `${this.prefix}/part-${msn}.${i}.m4s`);
    void Promise.all(keys.map((k) => this.deps.blobs.delete(k))).catch((err) => this.deps.logger.warn({ err, msn }, 'deleting old parts failed'));
  }

  /**
   * Records a complete segment's bitrate. RFC 8216bis §4.4.6.2: BANDWIDTH is the peak segment bitrate
   * and MUST cover every segment; AVERAGE-BANDWIDTH the average. The first segment announces the
   * rendition; a segment above the advertised peak (or an average 10% off) announces it again, before
   * that segment is listed.
   */
  private async measure(bytes: number, seconds: number): Promise<void> {
    if (!(seconds > 0)) return;
    const rate = (bytes * 8) / seconds;
    this.bits += bytes * 8;
    this.seconds += seconds;
    const average = this.bits / this.seconds;
    const drifted = this.advertisedAverage !== undefined && Math.abs(average - this.advertisedAverage) > 0.1 * this.advertisedAverage;
    if (this.advertised !== undefined && rate <= this.advertised && !drifted) return;
    this.peak = Math.max(this.peak, rate);
    // Rounded up to 1 kb/s steps with 5% headroom, so small rises do not re-announce the stream every segment.
    this.advertised = Math.ceil((this.peak * 1.05) / 1000) * 1000;
    this.advertisedAverage = average;
    await this.deps.onInfo?.(this.info());
  }

  /** What the multivariant playlist and MPD say about this rendition, from what was measured so far. */
  private info(): RenditionInfo {
    const o = this.config.output;
    const t = this.track!;
    return {
      name: o.name,
      kind: t.kind,
      codec: t.codec,
      bandwidth: this.advertised ?? 0,
      averageBandwidth: Math.round(this.bits / Math.max(this.seconds, 1e-9)),
      width: t.width ?? o.width,
      height: t.height ?? o.height,
      frameRate: o.fps,
      sampleRate: t.sampleRate,
      channels: t.channels,
      timescale: t.timescale,
    };
  }

  /** Writes waiting now (parts, segments, announcements), across renditions in packager_write_queue_depth. */
  get queueDepth(): number {
    return this.queued;
  }

  private enqueue(job: () => Promise<unknown>): void {
    this.queued++;
    this.deps.metrics.queueDepth.inc();
    this.chain = this.chain
      .then(job)
      .then(
        () => undefined,
        (err) => this.deps.logger.error({ err, rendition: this.config.output.name }, 'writing media failed'),
      )
      .finally(() => {
        this.queued--;
        this.deps.metrics.queueDepth.dec();
      });
  }
}
