import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { toMpd, type DashAdaptationSet, type MpdState } from './dash.js';
import { AUDIO_RENDITION } from './paths.js';

/** mpd-parser ships no types; this is the part of its output the tests read. */
interface ParsedSegment {
  uri: string;
  duration: number;
  presentationTime: number;
  map?: { uri: string };
}
interface ParsedPlaylist {
  attributes: { NAME: string; BANDWIDTH: number; CODECS: string; RESOLUTION?: { width: number; height: number } };
  segments: ParsedSegment[];
  targetDuration: number;
}
interface ParsedMpd {
  playlists: ParsedPlaylist[];
  mediaGroups: { AUDIO: { audio: Record<string, { playlists: ParsedPlaylist[] }> } };
  minimumUpdatePeriod?: number;
  suggestedPresentationDelay?: number;
  duration?: number;
  endList?: boolean;
}
const mpdParser = createRequire(import.meta.url)('mpd-parser') as {
  parse(xml: string, opts: { manifestUri: string; NOW?: number; clientOffset?: number }): ParsedMpd;
  parseUTCTiming(xml: string): { schemeIdUri: string; method: string; value: string };
};

const T0 = Date.UTC(2024, 4, 1, 12, 0, 0);
const MANIFEST = 'https://edge.example/live/abc/manifest.mpd';

function video(numbers: number[], durations: number[], gapAfter?: number): DashAdaptationSet {
  let t = 0;
  return {
    contentType: 'video',
    timescale: 15360,
    representations: [
      { id: '720p', bandwidth: 3_000_000, codecs: 'avc1.64001f', width: 1280, height: 720, frameRate: 30 },
      { id: '480p', bandwidth: 1_500_000, codecs: 'avc1.64001e', width: 854, height: 480, frameRate: 30 },
    ],
    segments: numbers.map((number, i) => {
      const s = { number, start: t, duration: durations[i] };
      t += durations[i] + (number === gapAfter ? 15360 : 0);
      return s;
    }),
  };
}

function audio(numbers: number[]): DashAdaptationSet {
  let t = 0;
  return {
    contentType: 'audio',
    timescale: 48000,
    lang: 'und',
    representations: [{ id: AUDIO_RENDITION, bandwidth: 128_000, codecs: 'mp4a.40.2', sampleRate: 48000, channels: 2 }],
    segments: numbers.map((number, i) => {
      const d = i % 2 === 0 ? 96256 : 95744;
      const s = { number, start: t, duration: d };
      t += d;
      return s;
    }),
  };
}

function liveState(): MpdState {
  const numbers = [10, 11, 12, 13, 14, 15];
  return {
    type: 'dynamic',
    availabilityStartTimeMs: T0,
    publishTimeMs: T0 + 12_500,
    adaptationSets: [video(numbers, [30720, 30720, 30720, 23040, 30720, 30720], 13), audio(numbers)],
  };
}

describe('toMpd', () => {
  it('writes a dynamic MPD with SegmentTimeline (golden) that mpd-parser reads back', async () => {
    const xml = toMpd(liveState(), { utcTiming: { schemeIdUri: 'urn:mpeg:dash:utc:http-iso:2014', value: '/time' }, targetLatency: 3, timeShiftBufferDepth: 30 });
    await expect(xml).toMatchFileSnapshot('./__fixtures__/live.mpd');
    expect(mpdParser.parseUTCTiming(xml)).toEqual({ schemeIdUri: 'urn:mpeg:dash:utc:http-iso:2014', method: 'GET', value: '/time' });
    const m = mpdParser.parse(xml, { manifestUri: MANIFEST, NOW: T0 + 14_000, clientOffset: 0 });
    expect(m.playlists.map((p) => p.attributes.NAME)).toEqual(['720p', '480p']);
    expect(m.playlists[0].attributes).toMatchObject({ BANDWIDTH: 3_000_000, CODECS: 'avc1.64001f', RESOLUTION: { width: 1280, height: 720 } });
    const segs = m.playlists[0].segments;
    expect(segs.map((s) => s.uri)).toEqual([10, 11, 12, 13, 14, 15].map((n) => `720p/seg-${n}.m4s`));
    expect(segs.map((s) => s.duration)).toEqual([2, 2, 2, 1.5, 2, 2]);
    // The 1 s gap after 13 is restated with S@t, so 14 starts at 8.5 s, not 7.5 s.
    expect(segs.map((s) => s.presentationTime)).toEqual([0, 2, 4, 6, 8.5, 10.5]);
    expect(segs[0].map?.uri).toBe('720p/init.mp4');
    const audioSegs = m.mediaGroups.AUDIO.audio[Object.keys(m.mediaGroups.AUDIO.audio)[0]].playlists[0].segments;
    expect(audioSegs.map((s) => s.uri)).toEqual([10, 11, 12, 13, 14, 15].map((n) => `audio/seg-${n}.m4s`));
    expect(audioSegs[0].duration).toBeCloseTo(96256 / 48000, 9);
    expect(xml).not.toContain('availabilityTimeOffset');
  });

  it('collapses equal contiguous segments into S@r and adds availabilityTimeOffset only when asked', () => {
    const state = liveState();
    state.adaptationSets = [video([1, 2, 3, 4], [30720, 30720, 30720, 30720])];
    const xml = toMpd(state, { availabilityTimeOffset: 1.5 });
    expect(xml).toContain('<S t="0" d="30720" r="3"/>');
    expect(xml).toContain('availabilityTimeOffset="1.5" availabilityTimeComplete="false"');
    expect(mpdParser.parse(xml, { manifestUri: MANIFEST, NOW: T0 + 9000, clientOffset: 0 }).playlists[0].segments).toHaveLength(4);
  });

  it('writes a static MPD for a recording (golden)', async () => {
    const numbers = [0, 1, 2];
    const xml = toMpd({
      type: 'static',
      availabilityStartTimeMs: T0,
      publishTimeMs: T0 + 60_000,
      adaptationSets: [video(numbers, [30720, 30720, 15360]), audio(numbers)],
      mediaPresentationDuration: 5,
    }, { availabilityTimeOffset: 1.5 });
    await expect(xml).toMatchFileSnapshot('./__fixtures__/vod.mpd');
    expect(xml).not.toMatch(/availabilityTimeOffset|minimumUpdatePeriod|timeShiftBufferDepth/);
    const m = mpdParser.parse(xml, { manifestUri: MANIFEST });
    expect(m.playlists[0].segments.map((s) => s.duration)).toEqual([2, 2, 1]);
    expect(m.duration).toBe(5);
  });

  it('refuses non-consecutive segment numbers ($Number$ addressing needs them)', () => {
    const state = liveState();
    state.adaptationSets[0].segments[2].number = 99;
    expect(() => toMpd(state)).toThrow(RangeError);
  });
});
