import type { PartEntry, RenditionEvent, RenditionMeta, RenditionState, SegmentEntry } from '../contract.js';
import { foldRenditionEvent, openRenditionState } from './rendition-fold.js';
import type { PublishableTimeline } from './live-catalog.js';

/**
 * Static facts of a rendition's timeline: the catalog's RenditionMeta, with the session (`epoch`,
 * default the first msn, unique per session start second) and a fixed EXT-X-TARGETDURATION optional.
 */
export type TimelineInit = Omit<RenditionMeta, 'epoch'> & { epoch?: string };

/**
 * The growing list of one rendition's segments and parts in the DVR window. Every change is an event
 * (contract.ts RenditionEvent) that the timeline folds into its own state and keeps for the live
 * catalog to publish, so the packager's state and every origin's are the same fold of the same log.
 */
export class RenditionTimeline implements PublishableTimeline {
  readonly meta: RenditionMeta;
  private readonly s: RenditionState;
  /** Events not yet stored and announced by the catalog. */
  private outbox: RenditionEvent[] = [];
  private pendingDiscontinuity = false;
  /** Init segment of the segments from the next one on, when not the session's first. */
  private init?: string;
  private maxSegmentDuration = 0;
  /** Seconds of complete segments in the window. */
  private windowSeconds = 0;

  private readonly fixedTargetDuration?: number;

  constructor(init: TimelineInit) {
    this.fixedTargetDuration = init.targetDuration;
    this.meta = {
      streamId: init.streamId,
      rendition: init.rendition,
      kind: init.kind,
      timescale: init.timescale,
      initName: init.initName,
      partTarget: init.partTarget,
      segmentTarget: init.segmentTarget,
      dvrWindowSeconds: init.dvrWindowSeconds,
      firstMsn: init.firstMsn,
      epoch: init.epoch ?? String(init.firstMsn),
      ...(init.targetDuration !== undefined ? { targetDuration: init.targetDuration } : {}),
    };
    this.s = openRenditionState(this.meta);
  }

  /** MSN of the segment being produced. */
  get msn(): number {
    return this.s.current.msn;
  }

  /** Index the next part of the current segment will get. */
  get nextPart(): number {
    return this.s.current.parts.length;
  }

  /** Complete segments in the window. */
  get completeSegments(): readonly SegmentEntry[] {
    return this.s.segments;
  }

  /** The next segment follows a discontinuity (publisher reconnect or transcoder restart). */
  markDiscontinuity(): void {
    this.pendingDiscontinuity = true;
  }

  /** Segments from the next one on use this init segment (a restart whose sample description changed). */
  useInit(name: string): void {
    this.init = name === this.meta.initName ? undefined : name;
  }

  /**
   * Records a finished part of the current segment; the first part of a segment fixes its timing.
   * `lastOfSegment`: the segmenter knows the next part opens the next segment (the preload hint names that one).
   */
  addPart(part: PartEntry, startTime: number, programDateTimeMs: number, opts: { lastOfSegment?: boolean; kid?: string } = {}): { msn: number; part: number } {
    const msn = this.s.current.msn;
    const i = this.s.current.parts.length;
    const ev: RenditionEvent = { n: this.s.seq + 1, e: 'part', msn, i, d: round(part.duration) };
    if (part.independent) ev.x = 1;
    if (opts.lastOfSegment) ev.h = 1;
    if (i === 0) {
      ev.t = startTime;
      ev.pdt = Math.round(programDateTimeMs);
      if (this.pendingDiscontinuity) {
        ev.dc = 1;
        this.pendingDiscontinuity = false;
      }
      if (this.init) ev.map = this.init;
      if (opts.kid) ev.k = opts.kid;
    }
    this.record(ev);
    return { msn, part: i };
  }

  /** Closes the current segment (its parts are all added) and opens the next one. */
  closeSegment(duration: number): SegmentEntry {
    const cur = this.s.current;
    const d = round(duration);
    this.maxSegmentDuration = Math.max(this.maxSegmentDuration, d);
    // The window drops segments older than the DVR depth; §6.2.2: EXT-X-DISCONTINUITY-SEQUENCE counts
    // the discontinuities that left the playlist.
    const segs = this.s.segments;
    let total = this.windowSeconds + d;
    let ds = this.s.discontinuitySequence;
    let drop = 0;
    const count = segs.length + 1;
    while (count - drop > 1 && total - segs[drop].duration >= this.meta.dvrWindowSeconds) {
      total -= segs[drop].duration;
      if (segs[drop].discontinuity) ds++;
      drop++;
    }
    this.windowSeconds = total;
    const first = drop < segs.length ? segs[drop].msn : cur.msn;
    this.record({
      n: this.s.seq + 1,
      e: 'seg',
      msn: cur.msn,
      d,
      t: cur.startTime,
      pdt: cur.programDateTimeMs,
      ...(cur.discontinuity ? { dc: 1 as const } : {}),
      ...(cur.initName ? { map: cur.initName } : {}),
      ...(cur.kid ? { k: cur.kid } : {}),
      first,
      ds,
      // §4.4.3.1: EXT-X-TARGETDURATION is at least every segment's duration rounded to the nearest integer;
      // the packager fixes it for the session and keeps segments within it (CmafSegmenter.maxSegmentSeconds).
      td: this.fixedTargetDuration ?? Math.max(Math.round(this.meta.segmentTarget), Math.round(this.maxSegmentDuration)),
    });
    return this.s.segments.at(-1)!;
  }

  /** No more media: playlists get EXT-X-ENDLIST. */
  end(): void {
    if (!this.s.ended) this.record({ n: this.s.seq + 1, e: 'end' });
  }

  /** The catalog state of this rendition now (the live object: read it, do not keep it across changes). */
  state(): RenditionState {
    return this.s;
  }

  pendingEvents(): readonly RenditionEvent[] {
    return this.outbox;
  }

  acknowledge(n: number): void {
    let k = 0;
    while (k < this.outbox.length && this.outbox[k].n <= n) k++;
    if (k > 0) this.outbox = this.outbox.slice(k);
  }

  private record(ev: RenditionEvent): void {
    foldRenditionEvent(this.s, ev);
    this.outbox.push(ev);
  }
}

/** Durations travel as microsecond-rounded seconds: stable JSON, no float noise. */
function round(seconds: number): number {
  return Math.round(seconds * 1e6) / 1e6;
}
