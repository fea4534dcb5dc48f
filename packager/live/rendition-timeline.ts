import type { PartEntry, RenditionState, SegmentEntry } from '../contract.js';

/** How many of the newest complete segments keep their EXT-X-PART lines (RFC 8216bis §4.4.4.9 allows dropping older ones). */
const SEGMENTS_WITH_PARTS = 3;

/** Static facts of a rendition's timeline. */
export interface TimelineInit {
  streamId: string;
  rendition: string;
  kind: 'video' | 'audio';
  timescale: number;
  initName: string;
  partTarget: number;
  segmentTarget: number;
  dvrWindowSeconds: number;
  /** Media sequence number of the first segment. */
  firstMsn: number;
}

/**
 * The growing list of one rendition's segments and parts in the DVR window: the packager appends to it
 * and publishes `state()` to the live catalog after each change.
 */
export class RenditionTimeline {
  private readonly segments: SegmentEntry[] = [];
  private current: RenditionState['current'];
  private discontinuitySequence = 0;
  private pendingDiscontinuity = false;
  private ended = false;
  private maxSegmentDuration = 0;

  constructor(private readonly init: TimelineInit) {
    this.current = { msn: init.firstMsn, programDateTimeMs: 0, startTime: 0, parts: [] };
  }

  /** MSN of the segment being produced. */
  get msn(): number {
    return this.current.msn;
  }

  /** Index the next part of the current segment will get. */
  get nextPart(): number {
    return this.current.parts.length;
  }

  /** Complete segments in the window. */
  get completeSegments(): readonly SegmentEntry[] {
    return this.segments;
  }

  /** The next segment follows a discontinuity (publisher reconnect or transcoder restart). */
  markDiscontinuity(): void {
    this.pendingDiscontinuity = true;
  }

  /** Records a finished part of the current segment; the first part of a segment fixes its timing. */
  addPart(part: PartEntry, startTime: number, programDateTimeMs: number): { msn: number; part: number } {
    if (this.current.parts.length === 0) {
      this.current.startTime = startTime;
      this.current.programDateTimeMs = programDateTimeMs;
      if (this.pendingDiscontinuity) {
        this.current.discontinuity = true;
        this.pendingDiscontinuity = false;
      }
    }
    this.current.parts.push(part);
    return { msn: this.current.msn, part: this.current.parts.length - 1 };
  }

  /** Closes the current segment (its parts are all added) and opens the next one. */
  closeSegment(duration: number): SegmentEntry {
    const seg: SegmentEntry = {
      msn: this.current.msn,
      duration,
      programDateTimeMs: this.current.programDateTimeMs,
      startTime: this.current.startTime,
      parts: this.current.parts,
      ...(this.current.discontinuity ? { discontinuity: true } : {}),
    };
    this.segments.push(seg);
    this.maxSegmentDuration = Math.max(this.maxSegmentDuration, duration);
    this.current = { msn: seg.msn + 1, programDateTimeMs: 0, startTime: 0, parts: [] };
    // Older segments drop their parts; the window drops segments older than the DVR depth.
    const keepPartsFrom = this.segments.length - SEGMENTS_WITH_PARTS;
    if (keepPartsFrom > 0 && this.segments[keepPartsFrom - 1].parts) delete this.segments[keepPartsFrom - 1].parts;
    let total = this.segments.reduce((s, x) => s + x.duration, 0);
    while (this.segments.length > 1 && total - this.segments[0].duration >= this.init.dvrWindowSeconds) {
      const gone = this.segments.shift()!;
      total -= gone.duration;
      // §6.2.2: EXT-X-DISCONTINUITY-SEQUENCE counts discontinuities that left the playlist.
      if (gone.discontinuity) this.discontinuitySequence++;
    }
    return seg;
  }

  /** No more media: playlists get EXT-X-ENDLIST. */
  end(): void {
    this.ended = true;
  }

  /** The catalog state of this rendition now. */
  state(): RenditionState {
    const { streamId, rendition, kind, timescale, initName, partTarget, segmentTarget } = this.init;
    return {
      streamId,
      rendition,
      kind,
      timescale,
      initName,
      partTarget,
      // §4.4.3.1: EXT-X-TARGETDURATION is at least every segment's duration rounded to the nearest integer.
      targetDuration: Math.max(Math.round(segmentTarget), Math.round(this.maxSegmentDuration)),
      discontinuitySequence: this.discontinuitySequence,
      segments: this.segments,
      current: this.current,
      ended: this.ended,
      updatedAtMs: Date.now(),
    };
  }
}
