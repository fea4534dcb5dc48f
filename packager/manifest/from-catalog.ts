import type { RenditionState, StreamState } from '../contract.js';
import { toMpd, type DashAdaptationSet, type MpdOptions } from './dash.js';
import { toMediaPlaylist, toMultivariantPlaylist, type HlsPart, type MediaPlaylistOptions, type MediaPlaylistState } from './hls.js';
import { mediaPlaylistUri, partName, segmentName, siblingPlaylistUri } from './paths.js';
import type { EncryptionInfo } from './encryption-info.js';

/**
 * Builders over the packager's live catalog state (contract.ts): the origin keeps RenditionState and
 * StreamState, and these turn them into playlists and MPDs with the URI layout of paths.ts.
 */

/** Where the next part will go (CmafSegmenter.nextPartPosition), when the caller knows better than "after the last part". */
export interface NextPart {
  msn: number;
  partIndex: number;
}

/** The last part (or segment) of a rendition, for EXT-X-RENDITION-REPORT (§4.4.5.4). */
export function lastPartOf(r: RenditionState): { lastMsn: number; lastPart?: number } {
  if (r.current.parts.length > 0) return { lastMsn: r.current.msn, lastPart: r.current.parts.length - 1 };
  const last = r.segments.at(-1);
  if (!last) return { lastMsn: r.current.msn };
  return last.parts?.length ? { lastMsn: last.msn, lastPart: last.parts.length - 1 } : { lastMsn: last.msn };
}

/**
 * The HLS state of one rendition; `siblings` (all renditions of the stream) become rendition reports;
 * `encryption` (the stream's) gives every segment its key, with the segment's own key ID when keys rotate.
 */
export function mediaPlaylistState(r: RenditionState, siblings: RenditionState[] = [], nextPart?: NextPart, encryption?: EncryptionInfo): MediaPlaylistState {
  const parts = (msn: number, list: { duration: number; independent: boolean }[]): HlsPart[] =>
    list.map((p, i) => ({ uri: partName(msn, i), duration: p.duration, independent: p.independent }));
  // One EncryptionInfo per key ID, shared by the segments that use it.
  const keys = new Map<string, EncryptionInfo>();
  const keyOf = (kid: string | undefined): EncryptionInfo | undefined => {
    if (!encryption) return undefined;
    if (!kid || kid === encryption.kid) return encryption;
    let k = keys.get(kid);
    if (!k) keys.set(kid, (k = { ...encryption, kid, pssh: undefined }));
    return k;
  };
  const next = nextPart ?? (r.hint ? { msn: r.hint.msn, partIndex: r.hint.part } : { msn: r.current.msn, partIndex: r.current.parts.length });
  return {
    targetDuration: r.targetDuration,
    partTarget: r.partTarget,
    mediaSequence: r.segments[0]?.msn ?? r.current.msn,
    discontinuitySequence: r.discontinuitySequence,
    mapUri: r.initName,
    segments: r.segments.map((s) => ({
      key: s,
      msn: s.msn,
      uri: segmentName(s.msn),
      duration: s.duration,
      programDateTimeMs: s.programDateTimeMs,
      map: s.initName ?? r.initName,
      ...(s.discontinuity ? { discontinuity: true } : {}),
      ...(s.parts ? { parts: parts(s.msn, s.parts) } : {}),
      ...(encryption ? { encryption: keyOf(s.kid) } : {}),
    })),
    pending: {
      parts: parts(r.current.msn, r.current.parts),
      programDateTimeMs: r.current.programDateTimeMs,
      map: r.current.initName ?? r.initName,
      ...(r.current.discontinuity ? { discontinuity: true } : {}),
      ...(encryption ? { encryption: keyOf(r.current.kid) } : {}),
    },
    preloadHintUri: partName(next.msn, next.partIndex),
    renditionReports: siblings.filter((s) => s.rendition !== r.rendition).map((s) => ({ uri: siblingPlaylistUri(s.rendition), ...lastPartOf(s) })),
    ended: r.ended,
    ...(encryption ? { encryption } : {}),
  };
}

/** A rendition's media playlist text. */
export function toRenditionPlaylist(
  r: RenditionState,
  opts: MediaPlaylistOptions & { siblings?: RenditionState[]; nextPart?: NextPart; playlistType?: 'VOD' | 'EVENT'; encryption?: EncryptionInfo } = {},
): string {
  const state = mediaPlaylistState(r, opts.siblings, opts.nextPart, opts.encryption);
  if (opts.playlistType) state.playlistType = opts.playlistType;
  return toMediaPlaylist(state, opts);
}

/** The stream's multivariant playlist: video variants by falling bandwidth, audio as a group. */
export function toStreamMultivariant(stream: StreamState): string {
  const video = stream.renditions.filter((r) => r.kind === 'video').sort((a, b) => b.bandwidth - a.bandwidth);
  const audio = stream.renditions.filter((r) => r.kind === 'audio');
  return toMultivariantPlaylist({
    video: video.map((v) => ({
      uri: mediaPlaylistUri(v.name),
      bandwidth: v.bandwidth,
      averageBandwidth: v.averageBandwidth,
      codecs: v.codec,
      width: v.width ?? 0,
      height: v.height ?? 0,
      frameRate: v.frameRate,
    })),
    audio: audio.map((a) => ({
      uri: mediaPlaylistUri(a.name),
      name: a.name,
      codecs: a.codec,
      channels: a.channels,
      bandwidth: a.bandwidth,
      averageBandwidth: a.averageBandwidth,
    })),
  }, stream.encryption ? { sessionKey: stream.encryption } : {});
}

/**
 * The stream's MPD. DASH has no EXT-X-DISCONTINUITY inside a Period: the packager keeps one media
 * timeline across restarts and reconnects (gaps allowed), but where a timeline does go backwards at a
 * discontinuity only the segments after it are listed. availabilityStartTime comes
 * from the wall clock of the first listed video segment, and each adaptation set's presentationTimeOffset
 * is derived from its own first segment's PDT, so audio and video line up on the ingest clock.
 */
export function toStreamMpd(stream: StreamState, renditions: RenditionState[], nowMs: number, opts: MpdOptions & { growing?: boolean } = {}): string {
  const byName = new Map(renditions.map((r) => [r.rendition, r]));
  // Low-latency DASH (DASH-IF IOP low-latency modes): the segment being produced is listed too, with
  // its nominal duration, as soon as every representation has its first part; the origin streams it
  // chunk by chunk (availabilityTimeComplete=false), so a player fetches it as it grows.
  const growing = Boolean(opts.growing && !stream.ended);
  const lastListed = (r: RenditionState) => (growing && r.current.parts.length > 0 ? r.current.msn : (r.segments.at(-1)?.msn ?? -1));
  const sets: { info: StreamState['renditions']; timeline: RenditionState; lastCommonMsn: number }[] = [];
  for (const kind of ['video', 'audio'] as const) {
    const info = stream.renditions.filter((r) => r.kind === kind && byName.has(r.name));
    // A $Number$ is listed only once every representation of the set has that segment (complete, or started when growing).
    const lastCommonMsn = Math.min(...info.map((r) => lastListed(byName.get(r.name)!)));
    if (info.length) sets.push({ info, timeline: byName.get(info[0].name)!, lastCommonMsn });
  }
  const nominalTicks = (r: RenditionState) => Math.round(stream.segmentTarget * r.timescale);
  const withGrowing = (r: RenditionState): RenditionState['segments'] =>
    growing && r.current.parts.length > 0
      ? [...r.segments, { msn: r.current.msn, duration: nominalTicks(r) / r.timescale, programDateTimeMs: r.current.programDateTimeMs, startTime: r.current.startTime, discontinuity: r.current.discontinuity, initName: r.current.initName }]
      : r.segments;
  const sinceDiscontinuity = (r: RenditionState) => {
    const all = withGrowing(r);
    let from = 0;
    all.forEach((s, i) => {
      const prev = all[i - 1];
      // A timeline that went backwards, or a new init segment (one SegmentTemplate@initialization per set):
      // the MPD lists what follows, as a new Period would.
      if (s.discontinuity && prev && (s.startTime < prev.startTime + prev.duration * r.timescale - 1 || (s.initName ?? r.initName) !== (prev.initName ?? r.initName))) from = i;
    });
    const last = sets.find((set) => set.timeline === r)?.lastCommonMsn ?? Infinity;
    return all.slice(from).filter((s) => s.msn <= last);
  };
  // Each set's listed segments, worked out once per render (the window holds up to thousands).
  const listed = sets.map((set) => sinceDiscontinuity(set.timeline));
  const firstSet = listed.findIndex((segs) => segs.length > 0);
  const first = listed[firstSet]?.[0];
  const firstTimescale = sets[firstSet]?.timeline.timescale ?? 1;
  const ast = first ? first.programDateTimeMs - (first.startTime / firstTimescale) * 1000 : stream.startedAtMs;
  // Wall clock of the Period start. Dynamic: availabilityStartTime, so media time t plays at AST + t.
  // Static (a recording): the first listed sample, so the presentation starts at 0 however far into
  // the session the window began (ISO/IEC 23009-1 §5.3.9.2: PTO is the media time at the Period start).
  const firstPdts = listed.map((segs) => segs[0]?.programDateTimeMs).filter((v): v is number => v !== undefined);
  const periodStartMs = stream.ended && firstPdts.length ? Math.min(...firstPdts) : ast;
  const adaptationSets: DashAdaptationSet[] = sets.map(({ info, timeline }, i) => {
    const segments = listed[i];
    const ts = timeline.timescale;
    // Media time that maps to the Period start on this set's clock.
    const pto = segments[0] ? Math.max(0, Math.round(segments[0].startTime - ((segments[0].programDateTimeMs - periodStartMs) / 1000) * ts)) : 0;
    return {
      contentType: timeline.kind,
      timescale: ts,
      initialization: `$RepresentationID$/${segments[0]?.initName ?? timeline.initName}`,
      presentationTimeOffset: pto,
      representations: info.map((r) => ({
        id: r.name,
        bandwidth: r.bandwidth,
        codecs: r.codec,
        width: r.width,
        height: r.height,
        frameRate: r.frameRate,
        sampleRate: r.sampleRate,
        channels: r.channels,
      })),
      segments: segments.map((s) => ({ number: s.msn, start: s.startTime, duration: Math.round(s.duration * ts) })),
      ...(segments[0] ? { producerReference: { wallClockMs: segments[0].programDateTimeMs, presentationTime: segments[0].startTime } } : {}),
    };
  });
  const initName = sets[0]?.timeline.initName ?? 'init.mp4';
  return toMpd(
    {
      type: stream.ended ? 'static' : 'dynamic',
      availabilityStartTimeMs: ast,
      publishTimeMs: nowMs,
      adaptationSets,
      ...(stream.encryption ? { encryption: stream.encryption } : {}),
    },
    { timeShiftBufferDepth: stream.dvrWindowSeconds, initializationTemplate: `$RepresentationID$/${initName}`, ...opts },
  );
}
