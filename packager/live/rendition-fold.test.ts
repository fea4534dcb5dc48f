import { describe, expect, it } from 'vitest';
import { MemoryLiveState } from '../../platform/index.js';
import type { RenditionEvent } from '../contract.js';
import { LiveCatalog } from './live-catalog.js';
import { foldRenditionEvent, openRenditionState } from './rendition-fold.js';
import { RenditionTimeline } from './rendition-timeline.js';

const init = { streamId: 's', rendition: '720p', kind: 'video' as const, timescale: 90000, initName: 'init-7.mp4', partTarget: 0.5, segmentTarget: 2, dvrWindowSeconds: 20, firstMsn: 7, epoch: 'e1' };

/** Adds `n` segments of four 0.5 s parts, with a discontinuity before the third. */
function produce(t: RenditionTimeline, n: number, events: RenditionEvent[] = []) {
  for (let k = 0; k < n; k++) {
    if (k === 2) t.markDiscontinuity();
    for (let i = 0; i < 4; i++) t.addPart({ duration: 0.5, independent: i === 0 }, (k * 4 + i) * 45000, 1_000_000 + (k * 4 + i) * 500, { lastOfSegment: i === 3 });
    t.closeSegment(2);
    events.push(...t.pendingEvents());
    t.acknowledge(Infinity);
  }
  return events;
}

describe('rendition events', () => {
  it('fold to the same state the packager holds, whatever the window', () => {
    const t = new RenditionTimeline(init);
    const events = produce(t, 30);
    t.addPart({ duration: 0.5, independent: true }, 0, 2_000_000);
    events.push(...t.pendingEvents());
    const folded = openRenditionState(t.meta);
    for (const ev of events) foldRenditionEvent(folded, ev);
    expect({ ...folded, updatedAtMs: 0 }).toEqual({ ...t.state(), updatedAtMs: 0 });
    // The window slid (20 s of 2 s segments) and the discontinuity that left it is counted.
    expect(folded.segments.map((s) => s.msn)).toEqual(Array.from({ length: 10 }, (_, i) => 27 + i));
    expect(folded.discontinuitySequence).toBe(1);
    expect(folded.segments.filter((s) => s.parts).map((s) => s.msn)).toEqual([34, 35, 36]);
    // Each event is small and does not grow with the window.
    for (const ev of events) expect(JSON.stringify(ev).length).toBeLessThan(160);
  });

  it('ignore replays and survive a gap: a closed segment carries everything a late reader needs', () => {
    const t = new RenditionTimeline(init);
    const events = produce(t, 6);
    const late = openRenditionState(t.meta);
    // A reader that lost everything before the last two segments' parts.
    const tail = events.filter((e) => e.e === 'seg' || e.n > events.length - 10);
    for (const ev of tail) foldRenditionEvent(late, ev);
    for (const ev of tail) expect(foldRenditionEvent(late, ev)).toBe(false);
    expect(late.segments.map((s) => [s.msn, s.duration, s.programDateTimeMs])).toEqual(t.state().segments.map((s) => [s.msn, s.duration, s.programDateTimeMs]));
    expect(late.segments.at(-1)!.parts).toHaveLength(4);
    expect(late.seq).toBe(t.state().seq);
  });

  it('hint the next segment after a segment\'s last part', () => {
    const t = new RenditionTimeline(init);
    for (let i = 0; i < 3; i++) t.addPart({ duration: 0.5, independent: i === 0 }, 0, 0);
    expect(t.state().hint).toBeUndefined();
    t.addPart({ duration: 0.5, independent: false }, 0, 0, { lastOfSegment: true });
    expect(t.state().hint).toEqual({ msn: 8, part: 0 });
    t.closeSegment(2);
    expect(t.state().hint).toBeUndefined();
  });
});

describe('LiveCatalog', () => {
  it('publishes events once, rebuilds a rendition from its log, and catches a reader up from where it was', async () => {
    const catalog = new LiveCatalog(new MemoryLiveState());
    const t = new RenditionTimeline(init);
    produce(t, 3);
    expect(t.pendingEvents()).toHaveLength(0);
    for (let i = 0; i < 4; i++) t.addPart({ duration: 0.5, independent: i === 0 }, 0, 0);
    t.closeSegment(2);
    await catalog.publish(t);
    expect(t.pendingEvents()).toHaveLength(0);
    const loaded = (await catalog.loadRendition('s', '720p'))!;
    expect(loaded.meta).toEqual(t.meta);
    // The first 3 segments were acknowledged without publishing: a reader sees only what was published.
    expect(loaded.state.segments.map((s) => s.msn)).toEqual([10]);
    t.addPart({ duration: 0.5, independent: true }, 0, 0);
    t.addPart({ duration: 0.5, independent: false }, 0, 0);
    await catalog.publish(t);
    expect(await catalog.catchUp(loaded.meta, loaded.state)).toBe(2);
    expect(loaded.state.current.parts).toHaveLength(2);
    expect(await catalog.catchUp(loaded.meta, loaded.state)).toBe(0);
    expect(await catalog.loadRendition('s', 'other')).toBeNull();
  });

  it('keeps an event that failed to publish and sends it with the next call', async () => {
    const state = new MemoryLiveState();
    const catalog = new LiveCatalog(state);
    const t = new RenditionTimeline(init);
    await catalog.publish(t);
    t.addPart({ duration: 0.5, independent: true }, 0, 0);
    const append = state.append.bind(state);
    state.append = async () => {
      throw new Error('redis is down');
    };
    await expect(catalog.publish(t)).rejects.toThrow('redis is down');
    expect(t.pendingEvents()).toHaveLength(1);
    state.append = append;
    t.addPart({ duration: 0.5, independent: false }, 0, 0);
    await catalog.publish(t);
    expect((await catalog.loadRendition('s', '720p'))!.state.current.parts).toHaveLength(2);
  });

  it('tells a new session where the last one stopped numbering, so no media URL is reused', async () => {
    const catalog = new LiveCatalog(new MemoryLiveState());
    expect(await catalog.nextMsn('s')).toBeUndefined();
    await catalog.putStream({ streamId: 's', sessionId: 'e1', startedAtMs: 0, renditions: [], expectedRenditions: ['720p'], partTarget: 0.5, segmentTarget: 2, dvrWindowSeconds: 20, ended: true });
    const t = new RenditionTimeline(init);
    for (let k = 0; k < 3; k++) {
      for (let i = 0; i < 4; i++) t.addPart({ duration: 0.5, independent: i === 0 }, 0, 0);
      t.closeSegment(2);
    }
    t.addPart({ duration: 0.5, independent: true }, 0, 0);
    await catalog.publish(t);
    // Segments 7..9 complete, 10 started: the next session begins at 11.
    expect(await catalog.nextMsn('s')).toBe(11);
  });
});
