import type { RenditionEvent, RenditionMeta, RenditionState, SegmentEntry } from '../contract.js';

/** How many of the newest complete segments keep their EXT-X-PART lines (RFC 8216bis §4.4.4.9 allows dropping older ones). */
export const SEGMENTS_WITH_PARTS = 3;

/** The state of a rendition before any event: no segment yet, the first one about to start. */
export function openRenditionState(meta: RenditionMeta): RenditionState {
  return {
    streamId: meta.streamId,
    rendition: meta.rendition,
    kind: meta.kind,
    timescale: meta.timescale,
    initName: meta.initName,
    partTarget: meta.partTarget,
    targetDuration: meta.targetDuration ?? Math.round(meta.segmentTarget),
    discontinuitySequence: 0,
    segments: [],
    current: { msn: meta.firstMsn, programDateTimeMs: 0, startTime: 0, parts: [] },
    ended: false,
    updatedAtMs: Date.now(),
    seq: 0,
    epoch: meta.epoch,
  };
}

/**
 * Folds one catalog event into a rendition's state, in place: the packager folds what it publishes,
 * every origin folds what it reads, so all of them hold the same state for the same `seq`. Events at
 * or below the state's seq are ignored (a replay overlapping a live notification). Returns whether
 * the event was applied.
 */
export function foldRenditionEvent(state: RenditionState, ev: RenditionEvent): boolean {
  if (ev.n <= state.seq) return false;
  state.seq = ev.n;
  state.updatedAtMs = Date.now();
  const cur = state.current;
  switch (ev.e) {
    case 'part': {
      if (ev.msn > cur.msn) state.current = { msn: ev.msn, programDateTimeMs: ev.pdt ?? 0, startTime: ev.t ?? 0, parts: [] };
      const target = state.current;
      // A part whose predecessors were trimmed from the log (a reader that started late) cannot be listed.
      if (ev.msn < target.msn || ev.i !== target.parts.length) return true;
      if (ev.i === 0) {
        target.programDateTimeMs = ev.pdt ?? 0;
        target.startTime = ev.t ?? 0;
        if (ev.dc) target.discontinuity = true;
        if (ev.map) target.initName = ev.map;
        if (ev.k) target.kid = ev.k;
      }
      target.parts.push({ duration: ev.d, independent: ev.x === 1 });
      if (ev.h) state.hint = { msn: ev.msn + 1, part: 0 };
      else delete state.hint;
      return true;
    }
    case 'seg': {
      const seg: SegmentEntry = { msn: ev.msn, duration: ev.d, programDateTimeMs: ev.pdt, startTime: ev.t };
      if (ev.dc) seg.discontinuity = true;
      if (ev.map) seg.initName = ev.map;
      if (ev.k) seg.kid = ev.k;
      if (cur.msn === ev.msn && cur.parts.length > 0) seg.parts = cur.parts;
      state.segments.push(seg);
      state.current = { msn: ev.msn + 1, programDateTimeMs: 0, startTime: 0, parts: [] };
      delete state.hint;
      let drop = 0;
      while (drop < state.segments.length - 1 && state.segments[drop].msn < ev.first) drop++;
      if (drop > 0) state.segments.splice(0, drop);
      const stale = state.segments.length - SEGMENTS_WITH_PARTS - 1;
      if (stale >= 0 && state.segments[stale].parts) delete state.segments[stale].parts;
      state.discontinuitySequence = ev.ds;
      state.targetDuration = ev.td;
      return true;
    }
    case 'end':
      state.ended = true;
      return true;
  }
}
