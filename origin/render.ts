/**
 * Adapters from the live catalog's state to the packager's pure manifest builders. The origin renders
 * per request because the answer depends on the request (delta updates, rendition reports).
 */
import {
  partName,
  segmentName,
  siblingPlaylistUri,
  mediaPlaylistUri,
  toMediaPlaylist,
  toMultivariantPlaylist,
  toMpd,
  type DashAdaptationSet,
  type RenditionState,
  type StreamState,
} from '../packager/index.js';

/** Renders a media playlist; `skip` makes it a delta update (RFC 8216bis §6.2.5.1). */
export function renderMediaPlaylist(s: RenditionState, opts: { skip: boolean; renditionReports: RenditionState[] }): string {
  const pending = s.current.parts.length > 0 ? s.current : undefined;
  return toMediaPlaylist(
    {
      targetDuration: s.targetDuration,
      partTarget: s.partTarget,
      mediaSequence: s.segments[0]?.msn ?? s.current.msn,
      discontinuitySequence: s.discontinuitySequence,
      mapUri: s.initName,
      segments: s.segments.map((seg) => ({
        msn: seg.msn,
        uri: segmentName(seg.msn),
        duration: seg.duration,
        programDateTimeMs: seg.programDateTimeMs,
        discontinuity: seg.discontinuity,
        parts: seg.parts?.map((p, i) => ({ uri: partName(seg.msn, i), duration: p.duration, independent: p.independent })),
      })),
      pending: pending && {
        parts: pending.parts.map((p, i) => ({ uri: partName(pending.msn, i), duration: p.duration, independent: p.independent })),
        programDateTimeMs: pending.programDateTimeMs,
        discontinuity: pending.discontinuity,
      },
      preloadHintUri: s.ended ? undefined : partName(s.current.msn, s.current.parts.length),
      renditionReports: opts.renditionReports.map((r) => lastPosition(r)),
      ended: s.ended,
    },
    { skip: opts.skip },
  );
}

/** Where a sibling rendition's playlist ends (EXT-X-RENDITION-REPORT, §4.4.5.4). */
function lastPosition(r: RenditionState): { uri: string; lastMsn: number; lastPart?: number } {
  if (r.current.parts.length > 0) return { uri: siblingPlaylistUri(r.rendition), lastMsn: r.current.msn, lastPart: r.current.parts.length - 1 };
  const last = r.segments.at(-1);
  return { uri: siblingPlaylistUri(r.rendition), lastMsn: last?.msn ?? r.current.msn, lastPart: last?.parts ? last.parts.length - 1 : undefined };
}

/** Renders the multivariant playlist from the session's renditions. */
export function renderMultivariant(stream: StreamState): string {
  const audio = stream.renditions.filter((r) => r.kind === 'audio');
  const video = stream.renditions.filter((r) => r.kind === 'video');
  return toMultivariantPlaylist({
    video: video.map((v) => ({
      uri: mediaPlaylistUri(v.name),
      bandwidth: v.bandwidth,
      averageBandwidth: v.averageBandwidth,
      codecs: [v.codec, ...audio.slice(0, 1).map((a) => a.codec)].join(','),
      width: v.width ?? 0,
      height: v.height ?? 0,
      frameRate: v.frameRate,
    })),
    audio: audio.map((a, i) => ({
      uri: mediaPlaylistUri(a.name),
      name: a.name,
      codecs: a.codec,
      channels: a.channels,
      default: i === 0,
      bandwidth: a.bandwidth,
      averageBandwidth: a.averageBandwidth,
    })),
  });
}

/**
 * Renders the MPD over the same CMAF segments: dynamic while live, static once ended. Video
 * renditions share one SegmentTimeline (aligned GOPs); audio has its own.
 */
export function renderMpd(stream: StreamState, states: RenditionState[], opts: { utcTimingUrl?: string } = {}): string {
  const sets: DashAdaptationSet[] = [];
  let anchor: { wallMs: number; t: number; timescale: number } | undefined;
  for (const kind of ['video', 'audio'] as const) {
    const infos = stream.renditions.filter((r) => r.kind === kind);
    const lead = states.find((s) => s.rendition === infos[0]?.name);
    if (!lead || lead.segments.length === 0) continue;
    // Only segments every rendition of the set has complete, so each listed $Number$ exists for all.
    const lastCommon = Math.min(...infos.map((i) => states.find((s) => s.rendition === i.name)?.segments.at(-1)?.msn ?? -1));
    const segments = lead.segments.filter((seg) => seg.msn <= lastCommon);
    if (segments.length === 0) continue;
    anchor ??= { wallMs: segments[0].programDateTimeMs, t: segments[0].startTime, timescale: lead.timescale };
    sets.push({
      contentType: kind,
      timescale: lead.timescale,
      // Period start = wall clock of the anchor segment; each set maps its own media time onto it.
      presentationTimeOffset: Math.round(segments[0].startTime - ((segments[0].programDateTimeMs - anchor.wallMs) / 1000) * lead.timescale),
      representations: infos.map((i) => ({
        id: i.name,
        bandwidth: i.bandwidth,
        codecs: i.codec,
        width: i.width,
        height: i.height,
        frameRate: i.frameRate,
        sampleRate: i.sampleRate,
        channels: i.channels,
      })),
      segments: segments.map((seg) => ({ number: seg.msn, start: seg.startTime, duration: Math.round(seg.duration * lead.timescale) })),
    });
  }
  const initName = states[0]?.initName ?? 'init.mp4';
  return toMpd(
    {
      type: stream.ended ? 'static' : 'dynamic',
      availabilityStartTimeMs: anchor?.wallMs ?? stream.startedAtMs,
      publishTimeMs: Math.max(...states.map((s) => s.updatedAtMs)),
      adaptationSets: sets,
    },
    {
      initializationTemplate: `$RepresentationID$/${initName}`,
      mediaTemplate: '$RepresentationID$/seg-$Number$.m4s',
      timeShiftBufferDepth: stream.dvrWindowSeconds,
      minimumUpdatePeriod: stream.segmentTarget,
      suggestedPresentationDelay: 3 * stream.segmentTarget,
      utcTiming: opts.utcTimingUrl ? { schemeIdUri: 'urn:mpeg:dash:utc:http-iso:2014', value: opts.utcTimingUrl } : undefined,
    },
  );
}
