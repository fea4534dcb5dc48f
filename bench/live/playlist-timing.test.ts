import { describe, expect, it } from 'vitest';
import { nextPart, parseMediaPlaylist, PartListingTracker, percentile, summarize, tagAttributes } from './playlist-timing.js';

const T0 = Date.parse('2024-05-01T12:00:00.000Z');

/** A live LL-HLS playlist as the origin writes it: one full segment without PDT of its own, parts, a hint. */
const LIVE = `#EXTM3U
#EXT-X-VERSION:6
#EXT-X-TARGETDURATION:2
#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=1.500,CAN-SKIP-UNTIL=12.000
#EXT-X-PART-INF:PART-TARGET=0.500
#EXT-X-MEDIA-SEQUENCE:10
#EXT-X-MAP:URI="init-0.mp4"
#EXT-X-PROGRAM-DATE-TIME:2024-05-01T12:00:00.000Z
#EXTINF:2.00000,
seg-10.m4s
#EXT-X-PART:DURATION=0.500,URI="part-11.0.m4s",INDEPENDENT=YES
#EXT-X-PART:DURATION=0.500,URI="part-11.1.m4s"
#EXT-X-PART:DURATION=0.500,URI="part-11.2.m4s"
#EXT-X-PART:DURATION=0.467,URI="part-11.3.m4s"
#EXTINF:1.96700,
seg-11.m4s
#EXT-X-PROGRAM-DATE-TIME:2024-05-01T12:00:03.967Z
#EXT-X-PART:DURATION=0.500,URI="part-12.0.m4s",INDEPENDENT=YES
#EXT-X-PART:DURATION=0.300,URI="part-12.1.m4s"
#EXT-X-PRELOAD-HINT:TYPE=PART,URI="part-12.2.m4s"
#EXT-X-RENDITION-REPORT:URI="../audio/index.m3u8",LAST-MSN=12,LAST-PART=1
`;

describe('parseMediaPlaylist', () => {
  const p = parseMediaPlaylist(LIVE);

  it('reads PART-TARGET, the media sequence and every part with its msn and index', () => {
    expect(p.partTarget).toBe(0.5);
    expect(p.mediaSequence).toBe(10);
    expect(p.parts.map((x) => `${x.msn}.${x.index}`)).toEqual(['11.0', '11.1', '11.2', '11.3', '12.0', '12.1']);
    expect(p.parts[0].independent).toBe(true);
    expect(p.parts[1].independent).toBe(false);
    expect(p.ended).toBe(false);
  });

  it("times a part's end from its segment's PDT (carried over EXTINF when the segment has none) plus the parts before it", () => {
    // Segment 11 has no PDT tag: it starts where segment 10 (PDT T0, 2 s) ended.
    expect(p.parts[0].endMs).toBeCloseTo(T0 + 2500, 6);
    expect(p.parts[3].endMs).toBeCloseTo(T0 + 2000 + 1967, 6);
    // Segment 12's own PDT wins.
    expect(p.parts[4].endMs).toBeCloseTo(T0 + 3967 + 500, 6);
    expect(p.parts[5].endMs).toBeCloseTo(T0 + 3967 + 800, 6);
  });

  it('places the preload hint after the last part of the open segment and asks for it next', () => {
    expect(p.preloadHint).toEqual({ msn: 12, index: 2, uri: 'part-12.2.m4s' });
    expect(nextPart(p)).toEqual({ msn: 12, part: 2 });
  });

  it('asks for the part after the last one when there is no hint, and for part 0 after a closed segment', () => {
    const noHint = parseMediaPlaylist(LIVE.replace(/#EXT-X-PRELOAD-HINT.*\n/, ''));
    expect(nextPart(noHint)).toEqual({ msn: 12, part: 2 });
    const closed = parseMediaPlaylist(LIVE.replace(/#EXT-X-PART:DURATION=0.500,URI="part-12[\s\S]*/, '#EXT-X-PRELOAD-HINT:TYPE=PART,URI="part-12.0.m4s"\n'));
    expect(nextPart(closed)).toEqual({ msn: 12, part: 0 });
  });

  it('leaves endMs null without any PDT and sees EXT-X-ENDLIST', () => {
    const q = parseMediaPlaylist(LIVE.replace(/#EXT-X-PROGRAM-DATE-TIME.*\n/g, '') + '#EXT-X-ENDLIST\n');
    expect(q.parts.every((x) => x.endMs === null)).toBe(true);
    expect(q.ended).toBe(true);
  });

  it('reads quoted attribute values that contain commas', () => {
    expect(tagAttributes('#EXT-X-PART:DURATION=0.5,URI="a,b.m4s",INDEPENDENT=YES')).toEqual({ DURATION: '0.5', URI: 'a,b.m4s', INDEPENDENT: 'YES' });
  });
});

describe('PartListingTracker', () => {
  it('takes the first playlist as a baseline and times each later part once, at its first listing', () => {
    const t = new PartListingTracker();
    const first = parseMediaPlaylist(LIVE);
    expect(t.observe(first, T0 + 4900)).toEqual([]);
    const next = parseMediaPlaylist(LIVE.replace('#EXT-X-PRELOAD-HINT:TYPE=PART,URI="part-12.2.m4s"', '#EXT-X-PART:DURATION=0.500,URI="part-12.2.m4s"'));
    const fresh = t.observe(next, T0 + 5400);
    expect(fresh).toHaveLength(1);
    expect(fresh[0]).toMatchObject({ msn: 12, index: 2, duration: 0.5, listedAtMs: T0 + 5400 });
    expect(fresh[0].delayMs).toBeCloseTo(5400 - (3967 + 1300), 6);
    // Seen again later: not a new observation.
    expect(t.observe(next, T0 + 9000)).toEqual([]);
    expect(t.observations).toHaveLength(1);
  });
});

describe('summarize', () => {
  it('gives nearest-rank percentiles', () => {
    const xs = Array.from({ length: 100 }, (_, i) => 100 - i);
    expect(percentile([...xs].sort((a, b) => a - b), 50)).toBe(50);
    expect(summarize(xs)).toEqual({ count: 100, p50: 50, p95: 95, max: 100, min: 1, mean: 50.5 });
    expect(summarize([]).count).toBe(0);
    expect(Number.isNaN(summarize([]).p50)).toBe(true);
  });
});
