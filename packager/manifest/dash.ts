import { DASH_CENC_NAMESPACES, dashContentProtection, type EncryptionInfo } from './encryption-info.js';
import { DASH_INIT_TEMPLATE, DASH_MEDIA_TEMPLATE } from './paths.js';

/**
 * Pure MPD builder (ISO/IEC 23009-1, DASH-IF IOP): one Period, one AdaptationSet per content type,
 * SegmentTemplate with $Number$ addressing and a SegmentTimeline of the real segment durations, over
 * the same CMAF segments the HLS playlists list.
 */

/** One Representation (a rendition). */
export interface DashRepresentation {
  /** Also the folder name: `$RepresentationID$/seg-$Number$.m4s`. */
  id: string;
  bandwidth: number;
  codecs: string;
  width?: number;
  height?: number;
  frameRate?: number;
  sampleRate?: number;
  channels?: number;
}

/** One segment on the timeline, in the adaptation set's timescale. */
export interface DashTimelineEntry {
  /** `$Number$` (the HLS media sequence number). */
  number: number;
  /** Decode time of the first sample (`S@t`). */
  start: number;
  /** `S@d`. */
  duration: number;
}

/** Renditions sharing one segment timeline (aligned GOPs, so every video rendition cuts alike). */
export interface DashAdaptationSet {
  contentType: 'video' | 'audio';
  timescale: number;
  representations: DashRepresentation[];
  /** Consecutive numbers, oldest first. */
  segments: DashTimelineEntry[];
  /** Media time that maps to the Period start (the first decode time of the session). Default 0. */
  presentationTimeOffset?: number;
  lang?: string;
  /** SegmentTemplate@initialization of this set (default `MpdOptions.initializationTemplate`). */
  initialization?: string;
  /** ProducerReferenceTime (§5.12): the wall clock (epoch ms) at which media time `presentationTime` was produced. */
  producerReference?: { wallClockMs: number; presentationTime: number };
}

/** What the MPD describes. */
export interface MpdState {
  /** `dynamic` while live; `static` for recordings and VOD. */
  type: 'dynamic' | 'static';
  /**
   * Wall clock (epoch ms) of media time `presentationTimeOffset`: a segment [t, t+d) becomes available
   * at availabilityStartTime + (t + d − PTO) / timescale − availabilityTimeOffset.
   */
  availabilityStartTimeMs: number;
  publishTimeMs: number;
  adaptationSets: DashAdaptationSet[];
  /** Seconds; static MPDs only (default: the longest timeline). */
  mediaPresentationDuration?: number;
  /** Side-loaded WebVTT subtitles, one AdaptationSet each (static MPDs). */
  textTracks?: DashTextTrack[];
  /** Every audio and video AdaptationSet is encrypted this way (ContentProtection). */
  encryption?: EncryptionInfo;
}

/** A whole-file WebVTT subtitle track (`contentType="text"`, BaseURL). */
export interface DashTextTrack {
  id: string;
  lang: string;
  label: string;
  /** Relative to the MPD. */
  url: string;
}

/** Tunables of the MPD (seconds unless stated). */
export interface MpdOptions {
  /** Default: the longest segment. */
  minimumUpdatePeriod?: number;
  /** The DVR window. Default: the longest timeline listed. */
  timeShiftBufferDepth?: number;
  /** Default: 3 × the longest segment, like HLS HOLD-BACK. */
  suggestedPresentationDelay?: number;
  /** Default: the longest segment. */
  minBufferTime?: number;
  /** Default: the longest segment listed. */
  maxSegmentDuration?: number;
  /** Clock sync for players (e.g. `{ schemeIdUri: 'urn:mpeg:dash:utc:http-iso:2014', value: '/time' }`). */
  utcTiming?: { schemeIdUri: string; value: string };
  /**
   * Low-latency DASH: how much earlier than its end a segment may be requested (segment duration − part
   * duration lets players fetch a segment once its first part exists). Only valid if the origin serves
   * an in-progress `seg-N.m4s` as a chunked response that grows as parts complete, which is how LL-DASH
   * players (dash.js low-latency mode) read it. An origin that answers 404 until the segment is whole
   * must leave this unset: players would then request segments before they exist. Written with
   * availabilityTimeComplete="false", as the DASH-IF low-latency modes specify.
   */
  availabilityTimeOffset?: number;
  /** ServiceDescription Latency@target for low-latency players, seconds. */
  targetLatency?: number;
  /** ServiceDescription Latency@min / @max, seconds, and PlaybackRate the player may use to hold the target. */
  latencyRange?: { min: number; max: number };
  playbackRate?: { min: number; max: number };
  initializationTemplate?: string;
  mediaTemplate?: string;
}

const PROFILES = 'urn:mpeg:dash:profile:isoff-live:2011,urn:mpeg:dash:profile:cmaf:2019';

/** xs:duration in seconds with millisecond precision, e.g. `PT2.005S`. */
function duration(seconds: number): string {
  return `PT${Number(seconds.toFixed(3))}S`;
}

const iso = (ms: number) => new Date(ms).toISOString();

function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function attrs(pairs: [string, string | number | undefined][]): string {
  return pairs
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => ` ${k}="${escapeXml(String(v))}"`)
    .join('');
}

/** S elements: runs of equal, contiguous segments collapse into `r` repeats; a gap restates `t`. */
function timeline(segments: DashTimelineEntry[]): string[] {
  const out: string[] = [];
  let run: { t?: number; d: number; r: number } | undefined;
  let next: number | undefined;
  for (const s of segments) {
    if (run && s.start === next && s.duration === run.d) {
      run.r++;
    } else {
      if (run) out.push(`<S${attrs([['t', run.t], ['d', run.d], ['r', run.r || undefined]])}/>`);
      run = { t: s.start === next ? undefined : s.start, d: s.duration, r: 0 };
    }
    next = s.start + s.duration;
  }
  if (run) out.push(`<S${attrs([['t', run.t], ['d', run.d], ['r', run.r || undefined]])}/>`);
  return out;
}

/** Builds the MPD. */
export function toMpd(state: MpdState, opts: MpdOptions = {}): string {
  const dynamic = state.type === 'dynamic';
  let longestSegment = 0;
  let longestTimeline = 0;
  for (const set of state.adaptationSets) {
    set.segments.forEach((s, i) => {
      if (i > 0 && s.number !== set.segments[i - 1].number + 1) throw new RangeError(`${set.contentType} segment numbers must be consecutive at ${s.number}`);
      longestSegment = Math.max(longestSegment, s.duration / set.timescale);
    });
    const total = set.segments.reduce((a, s) => a + s.duration, 0) / set.timescale;
    longestTimeline = Math.max(longestTimeline, total);
  }
  const maxSegment = opts.maxSegmentDuration ?? longestSegment;

  const mpd: [string, string | number | undefined][] = [
    ['xmlns', 'urn:mpeg:dash:schema:mpd:2011'],
    ['profiles', PROFILES],
    ['type', state.type],
  ];
  if (state.encryption) mpd.push(...Object.entries(DASH_CENC_NAMESPACES));
  if (dynamic) {
    mpd.push(
      ['availabilityStartTime', iso(state.availabilityStartTimeMs)],
      ['publishTime', iso(state.publishTimeMs)],
      ['minimumUpdatePeriod', duration(opts.minimumUpdatePeriod ?? maxSegment)],
      ['timeShiftBufferDepth', duration(opts.timeShiftBufferDepth ?? longestTimeline)],
      ['suggestedPresentationDelay', duration(opts.suggestedPresentationDelay ?? 3 * maxSegment)],
    );
  } else {
    mpd.push(['publishTime', iso(state.publishTimeMs)], ['mediaPresentationDuration', duration(state.mediaPresentationDuration ?? longestTimeline)]);
  }
  mpd.push(['maxSegmentDuration', duration(maxSegment)], ['minBufferTime', duration(opts.minBufferTime ?? maxSegment)]);

  const lines = ['<?xml version="1.0" encoding="UTF-8"?>', `<MPD${attrs(mpd)}>`];
  if (dynamic && opts.targetLatency !== undefined) {
    const range = opts.latencyRange;
    lines.push(
      '  <ServiceDescription id="0">',
      `    <Latency${attrs([['target', Math.round(opts.targetLatency * 1000)], ['max', range && Math.round(range.max * 1000)], ['min', range && Math.round(range.min * 1000)]])}/>`,
    );
    if (opts.playbackRate) lines.push(`    <PlaybackRate${attrs([['max', opts.playbackRate.max], ['min', opts.playbackRate.min]])}/>`);
    lines.push('  </ServiceDescription>');
  }
  lines.push(`  <Period id="0" start="PT0S">`);
  state.adaptationSets.forEach((set, i) => adaptationSet(lines, set, i, dynamic, opts, state.encryption));
  (state.textTracks ?? []).forEach((t, i) => {
    lines.push(
      `    <AdaptationSet${attrs([['id', state.adaptationSets.length + i], ['contentType', 'text'], ['mimeType', 'text/vtt'], ['lang', t.lang]])}>`,
      '      <Role schemeIdUri="urn:mpeg:dash:role:2011" value="subtitle"/>',
      `      <Label>${escapeXml(t.label)}</Label>`,
      `      <Representation${attrs([['id', t.id], ['bandwidth', 256]])}>`,
      `        <BaseURL>${escapeXml(t.url)}</BaseURL>`,
      '      </Representation>',
      '    </AdaptationSet>',
    );
  });
  lines.push('  </Period>');
  if (opts.utcTiming) lines.push(`  <UTCTiming${attrs([['schemeIdUri', opts.utcTiming.schemeIdUri], ['value', opts.utcTiming.value]])}/>`);
  lines.push('</MPD>');
  return lines.join('\n') + '\n';
}

function adaptationSet(lines: string[], set: DashAdaptationSet, id: number, dynamic: boolean, opts: MpdOptions, encryption?: EncryptionInfo): void {
  const video = set.contentType === 'video';
  const reps = set.representations;
  const head: [string, string | number | undefined][] = [
    ['id', id],
    ['contentType', set.contentType],
    ['mimeType', video ? 'video/mp4' : 'audio/mp4'],
    ['segmentAlignment', 'true'],
    ['startWithSAP', 1],
    ['lang', set.lang],
  ];
  if (video) {
    head.push(
      ['maxWidth', Math.max(...reps.map((r) => r.width ?? 0)) || undefined],
      ['maxHeight', Math.max(...reps.map((r) => r.height ?? 0)) || undefined],
    );
  }
  lines.push(`    <AdaptationSet${attrs(head)}>`);
  // ContentProtection precedes the other descriptors (RepresentationBaseType element order).
  if (encryption) lines.push(...dashContentProtection(encryption, '      '));
  if (dynamic && set.producerReference) {
    const pr = set.producerReference;
    lines.push(`      <ProducerReferenceTime${attrs([['id', 0], ['type', 'encoder'], ['wallClockTime', iso(pr.wallClockMs)], ['presentationTime', pr.presentationTime]])}>`);
    if (opts.utcTiming) lines.push(`        <UTCTiming${attrs([['schemeIdUri', opts.utcTiming.schemeIdUri], ['value', opts.utcTiming.value]])}/>`);
    lines.push('      </ProducerReferenceTime>');
  }
  const ato = dynamic ? opts.availabilityTimeOffset : undefined;
  const template: [string, string | number | undefined][] = [
    ['timescale', set.timescale],
    ['initialization', set.initialization ?? opts.initializationTemplate ?? DASH_INIT_TEMPLATE],
    ['media', opts.mediaTemplate ?? DASH_MEDIA_TEMPLATE],
    ['startNumber', set.segments[0]?.number ?? 0],
    ['presentationTimeOffset', set.presentationTimeOffset || undefined],
    ['availabilityTimeOffset', ato !== undefined ? Number(ato.toFixed(3)) : undefined],
    ['availabilityTimeComplete', ato !== undefined ? 'false' : undefined],
  ];
  lines.push(`      <SegmentTemplate${attrs(template)}>`, '        <SegmentTimeline>');
  for (const s of timeline(set.segments)) lines.push(`          ${s}`);
  lines.push('        </SegmentTimeline>', '      </SegmentTemplate>');
  for (const r of reps) {
    const a: [string, string | number | undefined][] = [
      ['id', r.id],
      ['bandwidth', Math.round(r.bandwidth)],
      ['codecs', r.codecs],
      ['width', r.width],
      ['height', r.height],
      ['frameRate', r.frameRate !== undefined ? frameRate(r.frameRate) : undefined],
      ['sar', video ? '1:1' : undefined],
      ['audioSamplingRate', r.sampleRate],
    ];
    if (r.channels) {
      lines.push(
        `      <Representation${attrs(a)}>`,
        `        <AudioChannelConfiguration schemeIdUri="urn:mpeg:dash:23003:3:audio_channel_configuration:2011" value="${r.channels}"/>`,
        '      </Representation>',
      );
    } else {
      lines.push(`      <Representation${attrs(a)}/>`);
    }
  }
  lines.push('    </AdaptationSet>');
}

/** FrameRateType: an integer, or a ratio for NTSC rates (30000/1001). */
function frameRate(fps: number): string {
  if (Number.isInteger(fps)) return String(fps);
  const ntsc = Math.round(fps * 1.001);
  if (Math.abs(fps - ntsc / 1.001) < 0.01) return `${ntsc * 1000}/1001`;
  return `${Math.round(fps * 1000)}/1000`;
}
