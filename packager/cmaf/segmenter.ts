import { EventEmitter } from 'node:events';

/** Maps media time to the ingest wall clock: `decodeTime` (track ticks) happened at `wallClockMs`. */
export interface WallClockAnchor {
  decodeTime: number;
  wallClockMs: number;
}

/** Settings of one rendition's segmenter. */
export interface CmafSegmenterConfig {
  /** Track timescale (ticks per second). */
  timescale: number;
  kind: 'video' | 'audio';
  /** EXT-X-PART-INF PART-TARGET; no part is longer (RFC 8216bis §4.4.4.9). Default 0.5 s. */
  partTargetSeconds?: number;
  /** Segment grid spacing; the encoder forces keyframes on the same grid. Default 2 s. */
  segmentTargetSeconds?: number;
  /** Media sequence number of the first segment. Default 0. */
  firstMsn?: number;
  /** Wall-clock anchor for EXT-X-PROGRAM-DATE-TIME; without it segments carry no PDT. */
  anchor?: WallClockAnchor;
  /** Decode time (ticks) the segment grid counts from; default the first fragment's. Give every rendition the same. */
  gridOrigin?: number;
  /** How early before a grid point a video keyframe may still cut a segment. Default a quarter of the segment target. */
  keyframeToleranceSeconds?: number;
  /** Makes one part's bytes from its chunks (default: concatenated, one chunk per fragment). */
  joinChunks?: (chunks: Buffer[]) => Buffer;
  /**
   * Last step of a part before it is emitted (sample encryption): given the part's chunks (joined first
   * when `joinChunks` is set), it returns the part's bytes, which its segment is made of too; it makes
   * the one copy a part needs. Default: the chunks concatenated.
   */
  sealPart?: (chunks: Buffer[], at: { msn: number; partIndex: number; segmentStart: number }) => Buffer;
  /**
   * Video keyframes fall on the segment grid (the encoder forces them; default true). False for a
   * copied source, whose keyframes come where its GOPs end: parts are then never closed early in the
   * guess that a segment ends (that guess left parts shorter than 85% of PART-TARGET mid-segment).
   */
  keyframesOnGrid?: boolean;
  /**
   * No segment is longer than this (seconds): one that reaches it is cut at the next fragment even
   * without a keyframe, so EXT-X-TARGETDURATION can stay fixed (RFC 8216bis §6.2.1) whatever a
   * copied source's GOPs are. Default: unbounded.
   */
  maxSegmentSeconds?: number;
}

/** What the segmenter needs of a fragment (an Fmp4Fragment fits). */
export interface SegmenterFragment {
  bytes: Buffer;
  decodeTime: number;
  duration: number;
  keyframe: boolean;
}

/** A finished part (EXT-X-PART): consecutive fragments, never longer than the part target. */
export interface CmafPart {
  msn: number;
  partIndex: number;
  bytes: Buffer;
  /** Seconds. */
  duration: number;
  durationTicks: number;
  /** Decode time of the first sample, in track ticks. */
  decodeTime: number;
  /** Starts with a sync sample (EXT-X-PART INDEPENDENT=YES). */
  independent: boolean;
  /** The parent segment follows a discontinuity (relevant on part 0: EXT-X-DISCONTINUITY goes before it). */
  discontinuity: boolean;
  /** Wall clock of the first sample, epoch ms, when an anchor is set. */
  programDateTimeMs?: number;
}

/** A finished segment: the concatenation of its parts. */
export interface CmafSegment {
  msn: number;
  bytes: Buffer;
  /** Seconds (EXTINF). */
  duration: number;
  /** Track ticks (DASH SegmentTimeline `d`). */
  durationTicks: number;
  /** Decode time of the first sample (DASH SegmentTimeline `t`). */
  startDecodeTime: number;
  parts: { duration: number; independent: boolean }[];
  /** Follows a discontinuity (EXT-X-DISCONTINUITY). */
  discontinuity: boolean;
  /** EXT-X-PROGRAM-DATE-TIME, epoch ms, when an anchor is set. */
  programDateTimeMs?: number;
}

/** Events of the segmenter, emitted synchronously: every part before the segment that contains it. */
export interface CmafSegmenterEvents {
  part: [part: CmafPart];
  segment: [segment: CmafSegment];
}

interface OpenSegment {
  msn: number;
  start: number;
  /** Grid point (ticks) where this segment should end. */
  boundary: number;
  parts: CmafPart[];
  durationTicks: number;
  discontinuity: boolean;
}

interface OpenPart {
  fragments: Buffer[];
  decodeTime: number;
  durationTicks: number;
  independent: boolean;
}

/** Slack for comparing tick sums against fractional targets. */
const EPSILON = 1e-6;

/**
 * Cuts one rendition's fragments into LL-HLS parts and segments (pure state machine, no I/O).
 *
 * Segments end on a grid `gridOrigin + k × segmentTarget`, so every rendition — video cut at the
 * forced keyframes, audio at the fragment nearest each grid point — splits at the same media times.
 * Parts are greedy: a part is closed before a fragment that would push it past PART-TARGET (§4.4.4.9:
 * no part longer than the target; all but a segment's last at least 85% of it, which greedy filling
 * keeps for any fragment shorter than 15% of the target). Parts are emitted as soon as the next fragment
 * is predicted not to fit, saving a frame of latency. A new segment always starts a new part, which
 * is INDEPENDENT when it starts on a keyframe (always, for video; fragments before the first keyframe
 * are dropped).
 */
export class CmafSegmenter extends EventEmitter<CmafSegmenterEvents> {
  private readonly partTicks: number;
  private readonly segmentTicks: number;
  private readonly keyframeTolerance: number;
  private readonly maxSegmentTicks: number;
  private nextMsn: number;
  private anchor?: WallClockAnchor;
  private origin?: number;
  private seg?: OpenSegment;
  private part?: OpenPart;
  private expectedNext?: number;
  /** The last fragment ended at the grid point: the next one most likely opens a segment. */
  private atBoundary = false;
  private awaitingKeyframe: boolean;
  private pendingDiscontinuity = false;
  private dropped = 0;

  constructor(private readonly config: CmafSegmenterConfig) {
    super();
    const { timescale } = config;
    if (!(timescale > 0)) throw new RangeError(`timescale must be positive, got ${timescale}`);
    const partTarget = config.partTargetSeconds ?? 0.5;
    const segmentTarget = config.segmentTargetSeconds ?? 2;
    if (!(partTarget > 0 && segmentTarget >= partTarget)) throw new RangeError(`need 0 < partTarget (${partTarget}) <= segmentTarget (${segmentTarget})`);
    this.partTicks = partTarget * timescale;
    this.segmentTicks = segmentTarget * timescale;
    this.keyframeTolerance = (config.keyframeToleranceSeconds ?? segmentTarget / 4) * timescale;
    this.maxSegmentTicks = (config.maxSegmentSeconds ?? Infinity) * timescale;
    this.nextMsn = config.firstMsn ?? 0;
    this.anchor = config.anchor;
    this.origin = config.gridOrigin;
    this.awaitingKeyframe = config.kind === 'video';
  }

  /** Video fragments dropped while waiting for a keyframe. */
  get droppedFragments(): number {
    return this.dropped;
  }

  /** Where the next part will most likely go: the EXT-X-PRELOAD-HINT target. */
  get nextPartPosition(): { msn: number; partIndex: number } {
    const seg = this.seg;
    if (!seg) return { msn: this.nextMsn, partIndex: 0 };
    return this.atBoundary && !this.part ? { msn: seg.msn + 1, partIndex: 0 } : { msn: seg.msn, partIndex: seg.parts.length };
  }

  /** Replaces the wall-clock anchor (e.g. after the ingest clock is re-measured). */
  setAnchor(anchor: WallClockAnchor): void {
    this.anchor = anchor;
  }

  /** Adds the next fragment of the track; emits the parts and segments it completes. */
  push(f: SegmenterFragment): void {
    if (this.expectedNext !== undefined) {
      // A jump backwards or of more than a segment is a restart the caller did not announce.
      const jump = f.decodeTime - this.expectedNext;
      if (jump < -Math.max(f.duration, 1) || jump > this.segmentTicks) this.autoDiscontinuity(f.decodeTime);
    }
    if (this.awaitingKeyframe) {
      if (!f.keyframe) {
        this.dropped++;
        this.expectedNext = f.decodeTime + f.duration;
        return;
      }
      this.awaitingKeyframe = false;
    }
    this.origin ??= f.decodeTime;

    if (this.seg && (this.isSegmentStart(f, this.seg) || this.seg.durationTicks + f.duration > this.maxSegmentTicks + EPSILON)) this.closeSegment();
    if (this.part && this.part.durationTicks + f.duration > this.partTicks + EPSILON) this.closePart();
    const seg = this.seg ?? this.openSegment(f);
    const part = (this.part ??= { fragments: [], decodeTime: f.decodeTime, durationTicks: 0, independent: f.keyframe });
    part.fragments.push(f.bytes);
    part.durationTicks += f.duration;
    seg.durationTicks += f.duration;
    this.expectedNext = f.decodeTime + f.duration;

    // Predict the next fragment (same duration): close now what it would close anyway. The next one
    // is the grid point's nearest fragment when this one starts before the boundary and ends at or past it.
    const threshold = seg.boundary - f.duration / 2;
    const predictable = this.config.kind === 'audio' || (this.config.keyframesOnGrid ?? true);
    const nearBoundary = predictable && f.decodeTime < threshold && this.expectedNext >= threshold;
    this.atBoundary = nearBoundary;
    if (this.config.kind === 'audio' && nearBoundary) this.closeSegment();
    else if (nearBoundary || part.durationTicks + f.duration > this.partTicks + EPSILON) this.closePart();
  }

  /** End of stream: emits the open part and segment. */
  flush(): void {
    this.closeSegment();
  }

  /**
   * The next fragment follows a discontinuity (transcoder restart, publisher reconnect): closes the
   * open segment, restarts the grid (at `gridOrigin` or the next fragment) and, for video, waits for
   * a keyframe. Media sequence numbers keep counting.
   */
  discontinuity(opts: { anchor?: WallClockAnchor; gridOrigin?: number } = {}): void {
    this.closeSegment();
    this.pendingDiscontinuity = true;
    this.origin = opts.gridOrigin;
    this.expectedNext = undefined;
    this.awaitingKeyframe = this.config.kind === 'video';
    if (opts.anchor) this.anchor = opts.anchor;
  }

  private autoDiscontinuity(decodeTime: number): void {
    // Keep PDT continuous across the jump: the new media time continues where the wall clock was.
    const anchor = this.anchor && this.expectedNext !== undefined ? { decodeTime, wallClockMs: this.wallClock(this.expectedNext)! } : undefined;
    this.discontinuity(anchor ? { anchor } : {});
  }

  private isSegmentStart(f: SegmenterFragment, seg: OpenSegment): boolean {
    if (this.config.kind === 'video') return f.keyframe && f.decodeTime >= seg.boundary - this.keyframeTolerance;
    // Audio: the fragment starting nearest to the grid point opens the next segment.
    return f.decodeTime >= seg.boundary - f.duration / 2;
  }

  private openSegment(f: SegmenterFragment): OpenSegment {
    const tolerance = this.config.kind === 'video' ? this.keyframeTolerance : f.duration / 2;
    const origin = this.origin ?? f.decodeTime;
    const k = Math.floor((f.decodeTime + tolerance - origin) / this.segmentTicks) + 1;
    this.seg = {
      msn: this.nextMsn++,
      start: f.decodeTime,
      boundary: origin + k * this.segmentTicks,
      parts: [],
      durationTicks: 0,
      discontinuity: this.pendingDiscontinuity,
    };
    this.pendingDiscontinuity = false;
    return this.seg;
  }

  private closePart(): void {
    const part = this.part;
    const seg = this.seg;
    if (!part || !seg) return;
    this.part = undefined;
    const seal = this.config.sealPart;
    const chunks = part.fragments.length > 1 && this.config.joinChunks ? [this.config.joinChunks(part.fragments)] : part.fragments;
    const bytes = seal ? seal(chunks, { msn: seg.msn, partIndex: seg.parts.length, segmentStart: seg.start }) : chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
    const out: CmafPart = {
      msn: seg.msn,
      partIndex: seg.parts.length,
      bytes,
      duration: part.durationTicks / this.config.timescale,
      durationTicks: part.durationTicks,
      decodeTime: part.decodeTime,
      independent: part.independent,
      discontinuity: seg.discontinuity,
    };
    const pdt = this.wallClock(part.decodeTime);
    if (pdt !== undefined) out.programDateTimeMs = pdt;
    seg.parts.push(out);
    this.emit('part', out);
  }

  private closeSegment(): void {
    this.closePart();
    const seg = this.seg;
    if (!seg) return;
    this.seg = undefined;
    if (seg.parts.length === 0) return;
    const out: CmafSegment = {
      msn: seg.msn,
      bytes: Buffer.concat(seg.parts.map((p) => p.bytes)),
      duration: seg.durationTicks / this.config.timescale,
      durationTicks: seg.durationTicks,
      startDecodeTime: seg.start,
      parts: seg.parts.map((p) => ({ duration: p.duration, independent: p.independent })),
      discontinuity: seg.discontinuity,
    };
    const pdt = this.wallClock(seg.start);
    if (pdt !== undefined) out.programDateTimeMs = pdt;
    this.emit('segment', out);
  }

  private wallClock(decodeTime: number): number | undefined {
    const a = this.anchor;
    return a ? Math.round(a.wallClockMs + ((decodeTime - a.decodeTime) / this.config.timescale) * 1000) : undefined;
  }
}
