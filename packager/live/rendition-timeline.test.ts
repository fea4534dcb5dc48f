import { describe, expect, it } from 'vitest';
import { RenditionTimeline } from './rendition-timeline.js';

const init = { streamId: 's', rendition: '720p', kind: 'video' as const, timescale: 90000, initName: 'init-7.mp4', partTarget: 0.5, segmentTarget: 2, dvrWindowSeconds: 10, firstMsn: 7 };

function addSegment(t: RenditionTimeline, pdt: number) {
  for (let i = 0; i < 4; i++) t.addPart({ duration: 0.5, independent: i === 0 }, 0, pdt + i * 500);
  return t.closeSegment(2);
}

describe('RenditionTimeline', () => {
  it('numbers segments from firstMsn and keeps parts only on the newest three', () => {
    const t = new RenditionTimeline(init);
    for (let i = 0; i < 4; i++) addSegment(t, 1000 + i * 2000);
    const s = t.state();
    expect(s.segments.map((x) => x.msn)).toEqual([7, 8, 9, 10]);
    expect(s.segments.map((x) => Boolean(x.parts))).toEqual([false, true, true, true]);
    expect(s.segments[2].programDateTimeMs).toBe(5000);
    expect(s.current).toMatchObject({ msn: 11, parts: [] });
    expect(s.targetDuration).toBe(2);
  });

  it('slides the DVR window and counts discontinuities that leave it', () => {
    const t = new RenditionTimeline(init);
    addSegment(t, 0);
    t.markDiscontinuity();
    for (let i = 1; i < 9; i++) addSegment(t, i * 2000);
    const s = t.state();
    expect(s.segments.reduce((a, x) => a + x.duration, 0)).toBeLessThanOrEqual(10 + 2);
    expect(s.segments[0].msn).toBeGreaterThan(8);
    // The discontinuity was on msn 8, which has left the window.
    expect(s.discontinuitySequence).toBe(1);
    expect(s.segments.some((x) => x.discontinuity)).toBe(false);
  });

  it('marks the first segment after a discontinuity and ends', () => {
    const t = new RenditionTimeline(init);
    addSegment(t, 0);
    t.markDiscontinuity();
    addSegment(t, 5000);
    t.end();
    const s = t.state();
    expect(s.segments[1]).toMatchObject({ msn: 8, discontinuity: true, programDateTimeMs: 5000 });
    expect(s.ended).toBe(true);
  });

  it('keeps a fixed EXT-X-TARGETDURATION whatever the segments (RFC 8216bis §6.2.1)', () => {
    const t = new RenditionTimeline({ ...init, targetDuration: 10 });
    expect(t.state().targetDuration).toBe(10);
    for (const d of [8, 2, 10.4, 3]) {
      t.addPart({ duration: d, independent: true }, 0, 0);
      t.closeSegment(d);
      expect(t.state().targetDuration).toBe(10);
    }
    // Without one it follows the longest segment, as before.
    const free = new RenditionTimeline(init);
    free.addPart({ duration: 3, independent: true }, 0, 0);
    free.closeSegment(3);
    expect(free.state().targetDuration).toBe(3);
  });
});
