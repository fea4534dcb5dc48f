import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Fmp4StreamParser, type Fmp4Fragment } from '../cmaf/fmp4-stream-parser.js';
import { CmafSegmenter, type CmafSegment } from '../cmaf/segmenter.js';
import { toMediaPlaylist, toMultivariantPlaylist, type HlsSegment, type MediaPlaylistState } from './hls.js';
import { AUDIO_RENDITION, initName, mediaPlaylistUri, partName, segmentName, siblingPlaylistUri } from './paths.js';

/** m3u8-parser ships no types; this is the part of its output the tests read. */
interface ParsedPlaylist {
  version?: number;
  targetDuration?: number;
  mediaSequence?: number;
  discontinuitySequence?: number;
  discontinuityStarts: number[];
  endList?: boolean;
  playlistType?: string;
  serverControl?: { canBlockReload?: boolean; partHoldBack?: number; canSkipUntil?: number };
  partTargetDuration?: number;
  skip?: { skippedSegments: number };
  renditionReports?: { uri: string; lastMsn: number; lastPart?: number }[];
  segments: { uri: string; duration: number; programDateTime?: number; discontinuity?: boolean; map?: { uri: string }; parts?: { uri: string; duration: number; independent?: boolean }[] }[];
  preloadSegment?: { parts?: { uri: string; duration: number; independent?: boolean }[]; preloadHints?: { type: string; uri: string }[] };
  playlists?: { uri: string; attributes: Record<string, unknown> }[];
  mediaGroups?: { AUDIO: Record<string, Record<string, { uri: string; default: boolean; autoselect: boolean }>> };
}
const { Parser } = createRequire(import.meta.url)('m3u8-parser') as { Parser: new () => { on(e: 'warn', cb: (w: { message: string }) => void): void; push(s: string): void; end(): void; manifest: ParsedPlaylist } };

/** Parses with m3u8-parser and fails on any warning it raises. */
function parse(text: string): ParsedPlaylist {
  const parser = new Parser();
  const warnings: string[] = [];
  parser.on('warn', (w) => warnings.push(w.message));
  parser.push(text);
  parser.end();
  expect(warnings).toEqual([]);
  return parser.manifest;
}

const T0 = Date.UTC(2024, 4, 1, 12, 0, 0);
const PARTS_PER_SEGMENT = 4;

/** A live 720p window: msn 10..15 complete (13 after a discontinuity), two parts of 16 done. */
function liveState(): MediaPlaylistState {
  const segments: HlsSegment[] = [];
  for (let msn = 10; msn <= 15; msn++) {
    segments.push({
      msn,
      uri: segmentName(msn),
      duration: msn === 12 ? 1.5 : 2,
      programDateTimeMs: T0 + (msn - 10) * 2000 + (msn >= 13 ? 3000 : 0),
      discontinuity: msn === 13,
      parts: Array.from({ length: msn === 12 ? 3 : PARTS_PER_SEGMENT }, (_, i) => ({ uri: partName(msn, i), duration: 0.5, independent: i === 0 })),
    });
  }
  return {
    targetDuration: 2,
    partTarget: 0.5,
    mediaSequence: 10,
    discontinuitySequence: 1,
    mapUri: initName(),
    segments,
    pending: { programDateTimeMs: T0 + 15_000, parts: [0, 1].map((i) => ({ uri: partName(16, i), duration: 0.5, independent: i === 0 })) },
    preloadHintUri: partName(16, 2),
    renditionReports: [
      { uri: siblingPlaylistUri('480p'), lastMsn: 16, lastPart: 1 },
      { uri: siblingPlaylistUri(AUDIO_RENDITION), lastMsn: 16, lastPart: 1 },
    ],
  };
}

describe('toMediaPlaylist', () => {
  it('writes a live LL-HLS playlist (golden) that m3u8-parser reads back', async () => {
    const text = toMediaPlaylist(liveState());
    await expect(text).toMatchFileSnapshot('./__fixtures__/live-720p.m3u8');
    const m = parse(text);
    expect(m.version).toBe(6);
    expect(m.serverControl).toMatchObject({ canBlockReload: true, partHoldBack: 1.5, canSkipUntil: 12 });
    expect(m.partTargetDuration).toBe(0.5);
    expect([m.mediaSequence, m.discontinuitySequence, m.targetDuration]).toEqual([10, 1, 2]);
    expect(m.segments.map((s) => s.uri)).toEqual([10, 11, 12, 13, 14, 15].map(segmentName));
    expect(m.segments.every((s) => s.map?.uri === 'init.mp4')).toBe(true);
    expect(m.discontinuityStarts).toEqual([3]);
    expect(m.segments[3].programDateTime).toBe(T0 + 9000);
    // Parts only for segments ending within 3 target durations (6 s) of the playlist end (12.5 s, pending
    // parts included): 13 (ends at 7.5 s), 14 and 15.
    expect(m.segments.map((s) => s.parts?.length ?? 0)).toEqual([0, 0, 0, 4, 4, 4]);
    expect(m.segments[3].parts![0]).toEqual({ uri: 'part-13.0.m4s', duration: 0.5, independent: true });
    expect(m.preloadSegment?.parts?.map((p) => p.uri)).toEqual(['part-16.0.m4s', 'part-16.1.m4s']);
    expect(m.preloadSegment?.preloadHints).toEqual([{ type: 'PART', uri: 'part-16.2.m4s' }]);
    expect(m.renditionReports).toEqual([
      { uri: '../480p/index.m3u8', lastMsn: 16, lastPart: 1 },
      { uri: '../audio/index.m3u8', lastMsn: 16, lastPart: 1 },
    ]);
    expect(m.endList).toBeUndefined();
  });

  it('answers _HLS_skip=YES with a delta update that skips segments beyond CAN-SKIP-UNTIL (golden)', async () => {
    const state = liveState();
    // A longer window: 20 segments of 2 s, so 12 s (6 × target) leaves the first ones skippable.
    state.segments = Array.from({ length: 20 }, (_, i) => ({ msn: 10 + i, uri: segmentName(10 + i), duration: 2, programDateTimeMs: T0 + i * 2000 }));
    state.pending = { parts: [{ uri: partName(30, 0), duration: 0.5, independent: true }], programDateTimeMs: T0 + 40_000 };
    state.preloadHintUri = partName(30, 1);
    const full = parse(toMediaPlaylist(state));
    const text = toMediaPlaylist(state, { skip: true });
    await expect(text).toMatchFileSnapshot('./__fixtures__/delta-720p.m3u8');
    const delta = parse(text);
    // Segments whose end is further than 12 s from the end of segment 29 (t = 40 s): those ending before 28 s, msn 10..22.
    expect(delta.version).toBe(9);
    expect(delta.skip).toEqual({ skippedSegments: 13 });
    expect(delta.mediaSequence).toBe(10);
    expect(delta.segments.map((s) => s.uri)).toEqual(full.segments.slice(13).map((s) => s.uri));
    expect(delta.segments[0].map?.uri).toBe('init.mp4');
    expect(delta.segments[0].programDateTime).toBe(T0 + 13 * 2000);
    // A window shorter than the skip boundary skips nothing and stays a plain playlist.
    expect(toMediaPlaylist(liveState(), { skip: true })).toBe(toMediaPlaylist(liveState()));
    // Skipping disabled: the directive is ignored.
    expect(toMediaPlaylist(state, { skip: true, canSkipUntil: 0 })).not.toContain('EXT-X-SKIP');
  });

  it('ends a stream with EXT-X-ENDLIST and whole segments only (golden)', async () => {
    const state = { ...liveState(), ended: true };
    const text = toMediaPlaylist(state);
    await expect(text).toMatchFileSnapshot('./__fixtures__/ended-720p.m3u8');
    const m = parse(text);
    expect(m.endList).toBe(true);
    expect(m.serverControl).toBeUndefined();
    expect(m.preloadSegment).toBeUndefined();
    expect(m.renditionReports).toBeUndefined();
    expect(m.segments.every((s) => !s.parts)).toBe(true);
    expect(text).not.toMatch(/PART|PRELOAD|RENDITION-REPORT|SERVER-CONTROL/);
  });

  it('writes a VOD recording playlist (golden)', async () => {
    const text = toMediaPlaylist({
      targetDuration: 2,
      mediaSequence: 0,
      discontinuitySequence: 0,
      mapUri: initName(),
      playlistType: 'VOD',
      ended: true,
      segments: [2, 2, 1.23456].map((duration, msn) => ({ msn, duration, uri: segmentName(msn) })),
    });
    await expect(text).toMatchFileSnapshot('./__fixtures__/vod.m3u8');
    const m = parse(text);
    expect(m.playlistType).toBe('VOD');
    expect(m.segments.map((s) => s.duration)).toEqual([2, 2, 1.23456]);
  });

  it('rejects a window whose msns do not follow the media sequence', () => {
    const state = liveState();
    state.mediaSequence = 9;
    expect(() => toMediaPlaylist(state)).toThrow(RangeError);
  });

  it('lists what the segmenter made of the FFmpeg fixture, parseable with consistent parts', () => {
    const parser = new Fmp4StreamParser();
    const fragments: Fmp4Fragment[] = [];
    parser.on('fragment', (f) => fragments.push(f));
    parser.push(readFileSync(new URL('../cmaf/__fixtures__/video-320x180.mp4', import.meta.url)));
    const segmenter = new CmafSegmenter({ timescale: 15360, kind: 'video', anchor: { decodeTime: 0, wallClockMs: T0 } });
    const segments: CmafSegment[] = [];
    segmenter.on('segment', (s) => segments.push(s));
    fragments.forEach((f) => segmenter.push(f));
    segmenter.flush();
    const text = toMediaPlaylist({
      targetDuration: 2,
      partTarget: 0.5,
      mediaSequence: 0,
      discontinuitySequence: 0,
      mapUri: initName(),
      segments: segments.map((s) => ({
        msn: s.msn,
        uri: segmentName(s.msn),
        duration: s.duration,
        programDateTimeMs: s.programDateTimeMs,
        parts: s.parts.map((p, i) => ({ uri: partName(s.msn, i), duration: p.duration, independent: p.independent })),
      })),
      preloadHintUri: partName(segmenter.nextPartPosition.msn, segmenter.nextPartPosition.partIndex),
    });
    const m = parse(text);
    expect(m.segments.map((s) => s.duration)).toEqual([2, 1]);
    for (const s of m.segments) expect(s.parts!.reduce((a, p) => a + p.duration, 0)).toBeCloseTo(s.duration, 3);
    expect(m.segments.map((s) => s.programDateTime)).toEqual([T0, T0 + 2000]);
    expect(m.preloadSegment?.preloadHints?.[0].uri).toBe('part-2.0.m4s');
  });
});

describe('toMultivariantPlaylist', () => {
  it('lists the audio group and one variant per video rendition (golden)', async () => {
    const text = toMultivariantPlaylist({
      video: [
        { uri: mediaPlaylistUri('720p'), bandwidth: 3_000_000, averageBandwidth: 2_600_000, codecs: 'avc1.64001f', width: 1280, height: 720, frameRate: 30 },
        { uri: mediaPlaylistUri('480p'), bandwidth: 1_500_000, averageBandwidth: 1_300_000, codecs: 'avc1.64001e', width: 854, height: 480, frameRate: 30 },
        { uri: mediaPlaylistUri('360p'), bandwidth: 800_000, codecs: 'avc1.64001e', width: 640, height: 360, frameRate: 29.97 },
      ],
      audio: [{ uri: mediaPlaylistUri(AUDIO_RENDITION), name: 'audio', codecs: 'mp4a.40.2', channels: 2, bandwidth: 128_000, averageBandwidth: 120_000 }],
    });
    await expect(text).toMatchFileSnapshot('./__fixtures__/master.m3u8');
    const m = parse(text);
    expect(m.playlists!.map((p) => p.uri)).toEqual(['720p/index.m3u8', '480p/index.m3u8', '360p/index.m3u8']);
    expect(m.playlists![0].attributes).toMatchObject({
      BANDWIDTH: 3_128_000,
      'AVERAGE-BANDWIDTH': '2720000',
      CODECS: 'avc1.64001f,mp4a.40.2',
      RESOLUTION: { width: 1280, height: 720 },
      'FRAME-RATE': 30,
      AUDIO: 'aud',
    });
    expect(m.mediaGroups!.AUDIO.aud.audio).toMatchObject({ uri: 'audio/index.m3u8', default: true, autoselect: true });
    expect(text).toContain('#EXT-X-INDEPENDENT-SEGMENTS');
  });

  it('omits the audio group for a silent source', () => {
    const text = toMultivariantPlaylist({ video: [{ uri: '720p/index.m3u8', bandwidth: 1e6, codecs: 'avc1.64001f', width: 1280, height: 720 }] });
    expect(text).toBe('#EXTM3U\n#EXT-X-INDEPENDENT-SEGMENTS\n#EXT-X-STREAM-INF:BANDWIDTH=1000000,CODECS="avc1.64001f",RESOLUTION=1280x720\n720p/index.m3u8\n');
  });
});
