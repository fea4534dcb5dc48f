import { describe, expect, it } from 'vitest';
import { RenditionTimeline } from '../packager/index.js';
import { advancePartLimit, hasPart, tooFarAhead } from './blocking-rules.js';

/** Segments 10 and 11 complete (four 0.5 s parts each), two parts of 12 listed. */
function state(partTarget = 0.5) {
  const t = new RenditionTimeline({ streamId: 's', rendition: 'v', kind: 'video', timescale: 1000, initName: 'init-10.mp4', partTarget, segmentTarget: 2, dvrWindowSeconds: 60, firstMsn: 10 });
  const parts = Math.round(2 / partTarget);
  for (let k = 0; k < 2; k++) {
    for (let i = 0; i < parts; i++) t.addPart({ duration: partTarget, independent: i === 0 }, 0, 0);
    t.closeSegment(2);
  }
  t.addPart({ duration: partTarget, independent: true }, 0, 0);
  t.addPart({ duration: partTarget, independent: false }, 0, 0);
  return t.state();
}

describe('blocking-reload rules (RFC 8216bis §6.2.5.2)', () => {
  it('treats a part index past a segment\'s last part as part 0 of the next segment', () => {
    const s = state();
    expect(hasPart(s, 11, 3)).toBe(true);
    expect(hasPart(s, 12, 1)).toBe(true);
    expect(hasPart(s, 12, 2)).toBe(false);
    // 11.4 does not exist: it means 12.0, which does.
    expect(hasPart(s, 11, 4)).toBe(true);
    expect(hasPart(s, 11)).toBe(true);
    expect(hasPart(s, 12)).toBe(false);
    const closedOnly = state();
    closedOnly.current.parts = [];
    expect(hasPart(closedOnly, 11, 4)).toBe(false);
  });

  it('holds requests up to the Advance Part Limit and refuses only beyond it', () => {
    expect(advancePartLimit(0.5)).toBe(6);
    expect(advancePartLimit(1.5)).toBe(3);
    const s = state();
    // Last listed part is 12.1; the limit is 6 parts ahead.
    expect(tooFarAhead(s, 12, 7)).toBe(false);
    expect(tooFarAhead(s, 12, 8)).toBe(true);
    // 13.0 is three parts ahead (12.2, 12.3, 13.0), 13.3 six, 14.0 seven.
    expect(tooFarAhead(s, 13, 0)).toBe(false);
    expect(tooFarAhead(s, 13, 3)).toBe(false);
    expect(tooFarAhead(s, 14, 0)).toBe(true);
    // Whole segments: up to two past the last complete one (11).
    expect(tooFarAhead(s, 13)).toBe(false);
    expect(tooFarAhead(s, 14)).toBe(true);
    // The old rule ("two parts") refused what the spec allows at one-third-second parts.
    const fast = state(1 / 3);
    expect(tooFarAhead(fast, 12, 5)).toBe(false);
    expect(tooFarAhead(fast, 13, 2)).toBe(false);
  });
});
