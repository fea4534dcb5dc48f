import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import type { RenditionState, StreamState } from '../contract.js';
import { lastPartOf, toRenditionPlaylist, toStreamMpd, toStreamMultivariant } from './from-catalog.js';
import { isSafeName, mediaPlaylistPath, mpdPath, multivariantPath, parseMediaName, partName, segmentName } from './paths.js';

const require = createRequire(import.meta.url);
const { Parser } = require('m3u8-parser') as { Parser: new () => { push(s: string): void; end(): void; manifest: Record<string, unknown> } };
const mpdParser = require('mpd-parser') as { parse(xml: string, o: { manifestUri: string; NOW: number; clientOffset: number }): { playlists: { attributes: { NAME: string }; segments: { uri: string; presentationTime: number }[] }[]; mediaGroups: { AUDIO: Record<string, Record<string, { playlists: { segments: { uri: string; presentationTime: number }[] }[] }>> } } };

function m3u8(text: string) {
  const p = new Parser();
  p.push(text);
  p.end();
  return p.manifest as {
    segments: { uri: string; parts?: unknown[] }[];
    preloadSegment?: { parts?: { uri: string }[]; preloadHints?: { uri: string }[] };
    renditionReports?: { uri: string; lastMsn: number; lastPart?: number }[];
    playlists?: { uri: string }[];
  };
}

const T0 = Date.UTC(2024, 4, 1, 12, 0, 0);

/** A rendition 3 segments into the stream, 2 parts into segment 3; audio media time starts 21 ms later. */
function rendition(name: string, kind: 'video' | 'audio', timescale: number, offsetTicks = 0): RenditionState {
  const part = { duration: 0.5, independent: true };
  return {
    streamId: 's1',
    rendition: name,
    kind,
    timescale,
    initName: 'init-0.mp4',
    partTarget: 0.5,
    targetDuration: 2,
    discontinuitySequence: 0,
    segments: [0, 1, 2].map((msn) => ({
      msn,
      duration: 2,
      programDateTimeMs: T0 + msn * 2000,
      startTime: offsetTicks + msn * 2 * timescale,
      parts: msn === 0 ? undefined : [part, part, part, part],
    })),
    current: { msn: 3, programDateTimeMs: T0 + 6000, startTime: offsetTicks + 6 * timescale, parts: [part, part] },
    ended: false,
    updatedAtMs: T0 + 7000,
    seq: 20,
  };
}

const stream: StreamState = {
  expectedRenditions: ['480p', '720p', 'audio'],
  streamId: 's1',
  sessionId: 'x',
  startedAtMs: T0,
  renditions: [
    { name: '480p', kind: 'video', codec: 'avc1.64001e', bandwidth: 1_500_000, width: 854, height: 480, frameRate: 30, timescale: 15360 },
    { name: '720p', kind: 'video', codec: 'avc1.64001f', bandwidth: 3_000_000, width: 1280, height: 720, frameRate: 30, timescale: 15360 },
    { name: 'audio', kind: 'audio', codec: 'mp4a.40.2', bandwidth: 130_000, sampleRate: 48000, channels: 2, timescale: 48000 },
  ],
  partTarget: 0.5,
  segmentTarget: 2,
  dvrWindowSeconds: 60,
  ended: false,
};

describe('playlists from the live catalog state', () => {
  const all = [rendition('720p', 'video', 15360), rendition('480p', 'video', 15360), rendition('audio', 'audio', 48000, 1024)];

  it('renders a media playlist with parts, preload hint and reports for the siblings', () => {
    const m = m3u8(toRenditionPlaylist(all[0], { siblings: all }));
    expect(m.segments.map((s) => s.uri)).toEqual([0, 1, 2].map(segmentName));
    expect(m.segments.map((s) => (s.parts ?? []).length)).toEqual([0, 4, 4]);
    expect(m.preloadSegment?.parts?.map((p) => p.uri)).toEqual([partName(3, 0), partName(3, 1)]);
    expect(m.preloadSegment?.preloadHints?.[0].uri).toBe('part-3.2.m4s');
    expect(m.renditionReports).toEqual([
      { uri: '../480p/index.m3u8', lastMsn: 3, lastPart: 1 },
      { uri: '../audio/index.m3u8', lastMsn: 3, lastPart: 1 },
    ]);
    // The segmenter's prediction overrides the hint when a segment is about to close.
    expect(toRenditionPlaylist(all[0], { nextPart: { msn: 4, partIndex: 0 } })).toContain('#EXT-X-PRELOAD-HINT:TYPE=PART,URI="part-4.0.m4s"');
    expect(toRenditionPlaylist(all[0])).toContain('#EXT-X-MAP:URI="init-0.mp4"');
  });

  it('reports the last segment when no part of the next one exists yet', () => {
    const r = rendition('720p', 'video', 15360);
    r.current.parts = [];
    expect(lastPartOf(r)).toEqual({ lastMsn: 2, lastPart: 3 });
  });

  it('renders the multivariant playlist with video by falling bandwidth', () => {
    const m = m3u8(toStreamMultivariant(stream));
    expect(m.playlists?.map((p) => p.uri)).toEqual(['720p/index.m3u8', '480p/index.m3u8']);
  });

  it('renders an MPD whose audio and video line up on the ingest clock', () => {
    const xml = toStreamMpd(stream, all, T0 + 7000);
    expect(xml).toContain('initialization="$RepresentationID$/init-0.mp4"');
    expect(xml).toContain('presentationTimeOffset="1024"');
    const m = mpdParser.parse(xml, { manifestUri: 'http://h/live/s1/manifest.mpd', NOW: T0 + 7000, clientOffset: 0 });
    expect(m.playlists.map((p) => p.attributes.NAME).sort()).toEqual(['480p', '720p']);
    const video = m.playlists[0].segments;
    const audio = Object.values(m.mediaGroups.AUDIO.audio)[0].playlists[0].segments;
    expect(video.map((s) => s.presentationTime)).toEqual([0, 2, 4]);
    expect(audio.map((s) => s.presentationTime)).toEqual([0, 2, 4]);
    expect(audio[0].uri).toBe('audio/seg-0.m4s');
  });

  it('lists the segment being produced for low-latency DASH once every representation has started it', () => {
    const xml = toStreamMpd(stream, all, T0 + 7000, { growing: true, availabilityTimeOffset: 1.5, utcTiming: { schemeIdUri: 'urn:mpeg:dash:utc:http-iso:2014', value: '/time' } });
    const m = mpdParser.parse(xml, { manifestUri: 'http://h/live/s1/manifest.mpd', NOW: T0 + 7000, clientOffset: 0 });
    expect(m.playlists[0].segments.map((x) => x.uri.replace(/^\w+\//, ''))).toEqual(['seg-0.m4s', 'seg-1.m4s', 'seg-2.m4s', 'seg-3.m4s']);
    expect(xml).toContain('availabilityTimeComplete="false"');
    expect(xml).toContain(`<ProducerReferenceTime id="0" type="encoder" wallClockTime="${new Date(T0).toISOString()}" presentationTime="0">`);
    // One representation has not started segment 3: it is not listed for anyone yet.
    const behind = all.map((r) => (r.rendition === '480p' ? { ...r, current: { ...r.current, parts: [] } } : r));
    const xml2 = toStreamMpd(stream, behind, T0 + 7000, { growing: true });
    expect(mpdParser.parse(xml2, { manifestUri: 'http://h/live/s1/manifest.mpd', NOW: T0 + 7000, clientOffset: 0 }).playlists[0].segments).toHaveLength(3);
    // Ended streams list complete segments only.
    expect(toStreamMpd({ ...stream, ended: true }, all, T0 + 7000, { growing: true })).not.toContain('t="6');
  });

  it('starts a static MPD (a recording) at its first segment however far into the session that is', () => {
    // A window that slid: the first listed segment is two hours into the session's media timeline.
    const late = all.map((r) => {
      const c = structuredClone(r);
      for (const seg of c.segments) seg.startTime += 7200 * c.timescale;
      return c;
    });
    const xml = toStreamMpd({ ...stream, ended: true }, late, T0 + 7000);
    expect(xml).toContain('type="static"');
    expect(xml).toContain('presentationTimeOffset="110592000"');
    const m = mpdParser.parse(xml, { manifestUri: 'http://h/vod/a1/manifest.mpd', NOW: T0 + 7000, clientOffset: 0 });
    expect(m.playlists[0].segments.map((x) => x.presentationTime)).toEqual([0, 2, 4]);
    const audio = Object.values(m.mediaGroups.AUDIO.audio)[0].playlists[0].segments;
    expect(audio.map((x) => x.presentationTime)).toEqual([0, 2, 4]);
  });

  it('keeps a timeline that continues (with a gap) across a discontinuity in one Period', () => {
    const resumed = all.map((r) => {
      const c = structuredClone(r);
      c.segments[2].discontinuity = true;
      // The session resumed 5 s later on the same media clock.
      for (const s of c.segments.slice(2)) s.startTime += 5 * c.timescale;
      return c;
    });
    const xml = toStreamMpd(stream, resumed, T0 + 7000);
    expect(xml).toContain('startNumber="0"');
    const parsed = mpdParser.parse(xml, { manifestUri: 'http://edge/live/s1/manifest.mpd', NOW: T0 + 7000, clientOffset: 0 });
    expect(parsed.playlists[0].segments.map((s) => s.uri.replace(/^\w+\//, ''))).toEqual(['seg-0.m4s', 'seg-1.m4s', 'seg-2.m4s']);
  });

  it('lists only segments since a discontinuity where the timeline went backwards', () => {
    const restarted = all.map((r) => {
      const c = structuredClone(r);
      c.segments[2].discontinuity = true;
      c.segments[2].startTime = 0;
      return c;
    });
    const xml = toStreamMpd(stream, restarted, T0 + 7000);
    expect(xml).toContain('startNumber="2"');
    expect(xml).not.toContain('seg-0');
  });
});

describe('paths', () => {
  it('builds the origin URL layout', () => {
    expect(multivariantPath('abc')).toBe('/live/abc/master.m3u8');
    expect(mpdPath('abc', 'vod')).toBe('/vod/abc/manifest.mpd');
    expect(mediaPlaylistPath('abc', '720p')).toBe('/live/abc/720p/index.m3u8');
    expect(() => mediaPlaylistPath('abc', '../x')).toThrow(RangeError);
    expect(isSafeName('a_b-1')).toBe(true);
    expect(isSafeName('a/b')).toBe(false);
  });

  it('parses resource names back', () => {
    expect(parseMediaName('index.m3u8')).toEqual({ kind: 'playlist' });
    expect(parseMediaName('init.mp4')).toEqual({ kind: 'init' });
    expect(parseMediaName('init-3.mp4')).toEqual({ kind: 'init', version: 3 });
    expect(parseMediaName('seg-42.m4s')).toEqual({ kind: 'segment', msn: 42 });
    expect(parseMediaName('part-42.3.m4s')).toEqual({ kind: 'part', msn: 42, partIndex: 3 });
    expect(parseMediaName('part-42.m4s')).toBeUndefined();
    expect(parseMediaName('seg-1.mp4')).toBeUndefined();
  });
});
