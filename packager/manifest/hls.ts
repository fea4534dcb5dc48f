/**
 * Pure LL-HLS playlist builders (RFC 8216bis, draft-pantos-hls-rfc8216bis). They print what they are
 * given; the live timeline decides what is in the window.
 */
import { hlsKeyTag, hlsSessionKeyTag, type EncryptionInfo } from './encryption-info.js';

/** One EXT-X-PART. */
export interface HlsPart {
  uri: string;
  /** Seconds. */
  duration: number;
  independent?: boolean;
}

/** One complete segment. */
export interface HlsSegment {
  msn: number;
  uri: string;
  /** Seconds (EXTINF). */
  duration: number;
  /** EXT-X-PROGRAM-DATE-TIME, epoch ms. */
  programDateTimeMs?: number;
  /** Preceded by EXT-X-DISCONTINUITY. */
  discontinuity?: boolean;
  parts?: HlsPart[];
  /** Identity of the segment for `MediaPlaylistOptions.memo` (the caller's own segment object). */
  key?: object;
  /**
   * The segment's init segment URI when it may differ from `MediaPlaylistState.mapUri`: restated as
   * EXT-X-MAP after the segment's EXT-X-DISCONTINUITY (where an init can change), and used as the
   * playlist's first EXT-X-MAP when this is the first segment listed.
   */
  map?: string;
  /** The segment's key when it may differ from its predecessor's (live key rotation): a new EXT-X-KEY before it. */
  encryption?: EncryptionInfo;
}

/** Rendered lines of segments listed without parts, per segment identity: text that can no longer change. */
export type SegmentTextMemo = WeakMap<object, string>;

/** The segment being produced: its finished parts, listed after the last EXTINF. */
export interface HlsPendingSegment {
  parts: HlsPart[];
  programDateTimeMs?: number;
  discontinuity?: boolean;
  /** As HlsSegment.map. */
  map?: string;
  /** As HlsSegment.encryption. */
  encryption?: EncryptionInfo;
}

/** EXT-X-RENDITION-REPORT for a sibling rendition (§4.4.5.4). */
export interface HlsRenditionReport {
  /** Relative to this media playlist, e.g. `../480p/index.m3u8`. */
  uri: string;
  lastMsn: number;
  lastPart?: number;
}

/** Everything a media playlist shows. */
export interface MediaPlaylistState {
  /** EXT-X-TARGETDURATION, whole seconds, fixed for the life of the playlist. */
  targetDuration: number;
  /** EXT-X-PART-INF PART-TARGET, seconds; omit for a playlist without parts. */
  partTarget?: number;
  /** MSN of `segments[0]`. */
  mediaSequence: number;
  discontinuitySequence: number;
  /** EXT-X-MAP URI. */
  mapUri: string;
  segments: HlsSegment[];
  pending?: HlsPendingSegment;
  /** URI of the next part (EXT-X-PRELOAD-HINT TYPE=PART). */
  preloadHintUri?: string;
  renditionReports?: HlsRenditionReport[];
  /** No more segments: EXT-X-ENDLIST, and only whole segments are listed. */
  ended?: boolean;
  playlistType?: 'VOD' | 'EVENT';
  /** The segments are encrypted: EXT-X-KEY after EXT-X-MAP (the init segment stays clear). */
  encryption?: EncryptionInfo;
}

/** Per-request choices. */
export interface MediaPlaylistOptions {
  /** The client sent `_HLS_skip=YES`: answer with a Playlist Delta Update (§6.2.5.1). */
  skip?: boolean;
  /** PART-HOLD-BACK, seconds; default 3 × PART-TARGET (§4.4.3.8: at least 2×, should be 3×). */
  partHoldBack?: number;
  /** CAN-SKIP-UNTIL (the Skip Boundary), seconds; default 6 × target duration, the minimum; 0 disables. */
  canSkipUntil?: number;
  /** Advertise CAN-BLOCK-RELOAD=YES; default true. */
  canBlockReload?: boolean;
  /** Segments ending further than this from the playlist end lose their EXT-X-PART lines; default 3 target durations (§6.2.2). */
  partRetentionSeconds?: number;
  /** Reuse (and fill) the text of segments listed without parts, keyed by `HlsSegment.key`. */
  memo?: SegmentTextMemo;
}

/** Decimal formatting, fixed precision so output is stable byte for byte. */
const dec = (n: number, digits: number) => n.toFixed(digits);
const iso = (ms: number) => new Date(ms).toISOString();

/** Builds a media playlist: a full one, or a delta update when `opts.skip` is set. */
export function toMediaPlaylist(state: MediaPlaylistState, opts: MediaPlaylistOptions = {}): string {
  state.segments.forEach((s, i) => {
    if (s.msn !== state.mediaSequence + i) throw new RangeError(`segment ${i} has msn ${s.msn}, expected ${state.mediaSequence + i}`);
  });
  const live = !state.ended;
  // An ended playlist lists whole segments only: parts exist to cut live latency (§4.4.5.3: no hint with ENDLIST).
  const partTarget = live ? state.partTarget : undefined;
  const canSkipUntil = live ? (opts.canSkipUntil ?? 6 * state.targetDuration) : 0;

  // Distance of each segment's end from the end of the last complete segment.
  const ends: number[] = [];
  let total = 0;
  for (const s of state.segments) ends.push((total += s.duration));
  const pendingDuration = live ? (state.pending?.parts ?? []).reduce((a, p) => a + p.duration, 0) : 0;

  // §6.2.5.1: a delta update replaces the segments further than the Skip Boundary from the end.
  let skipped = 0;
  if (opts.skip && canSkipUntil > 0) {
    while (skipped < state.segments.length && total - ends[skipped] > canSkipUntil + 1e-9) skipped++;
  }

  const lines = ['#EXTM3U', `#EXT-X-VERSION:${skipped > 0 ? 9 : 6}`, `#EXT-X-TARGETDURATION:${state.targetDuration}`];
  if (state.playlistType) lines.push(`#EXT-X-PLAYLIST-TYPE:${state.playlistType}`);
  if (live) {
    const control: string[] = [];
    if (opts.canBlockReload ?? true) control.push('CAN-BLOCK-RELOAD=YES');
    if (partTarget) control.push(`PART-HOLD-BACK=${dec(opts.partHoldBack ?? 3 * partTarget, 3)}`);
    if (canSkipUntil > 0) control.push(`CAN-SKIP-UNTIL=${dec(canSkipUntil, 3)}`);
    if (control.length) lines.push(`#EXT-X-SERVER-CONTROL:${control.join(',')}`);
  }
  if (partTarget) lines.push(`#EXT-X-PART-INF:PART-TARGET=${dec(partTarget, 3)}`);
  lines.push(`#EXT-X-MEDIA-SEQUENCE:${state.mediaSequence}`, `#EXT-X-DISCONTINUITY-SEQUENCE:${state.discontinuitySequence}`);
  // EXT-X-SKIP replaces the skipped segments' lines and tags; the MAP follows it so it applies to what is listed.
  if (skipped > 0) lines.push(`#EXT-X-SKIP:SKIPPED-SEGMENTS=${skipped}`);
  // The init of the first segment listed: after a skip (or once the window slid past an init change)
  // that can be a later one than the session's first.
  const firstListed = skipped < state.segments.length ? state.segments[skipped] : state.pending;
  lines.push(`#EXT-X-MAP:URI="${firstListed?.map ?? state.mapUri}"`);
  // The key of the first segment listed; each later change of key ID gets its own EXT-X-KEY (§4.4.4.4).
  const headerKey = firstListed?.encryption ?? state.encryption;
  if (headerKey) lines.push(hlsKeyTag(headerKey));
  let kid = headerKey?.kid;
  let iv = headerKey?.iv;
  const keyChange = (s: { encryption?: EncryptionInfo }): string | undefined => {
    if (!s.encryption || (s.encryption.kid === kid && s.encryption.iv === iv)) return undefined;
    kid = s.encryption.kid;
    iv = s.encryption.iv;
    return hlsKeyTag(s.encryption);
  };

  const retention = opts.partRetentionSeconds ?? 3 * state.targetDuration;
  const playlistEnd = total + pendingDuration;
  const memo = opts.memo;
  state.segments.forEach((s, i) => {
    if (i < skipped) return;
    // Older segments drop their parts (§6.2.2: EXT-X-PART lines more than 3 target durations from the end).
    const withParts = Boolean(partTarget && s.parts && playlistEnd - ends[i] < retention);
    if (!withParts && memo && s.key) {
      // A key line depends only on the segment before (or the header, for the first listed): stable, so memoised with it.
      const key = keyChange(s);
      let text = memo.get(s.key);
      if (text === undefined) {
        const own: string[] = [];
        segmentTags(own, s, key);
        own.push(`#EXTINF:${dec(s.duration, 5)},`, s.uri);
        memo.set(s.key, (text = own.join('\n')));
      }
      lines.push(text);
      return;
    }
    segmentTags(lines, s, keyChange(s));
    if (withParts) partLines(lines, s.parts!);
    lines.push(`#EXTINF:${dec(s.duration, 5)},`, s.uri);
  });
  if (partTarget && state.pending && state.pending.parts.length > 0) {
    // DISCONTINUITY and PDT of the parent segment go before its first part (§4.4.4.9).
    segmentTags(lines, state.pending, keyChange(state.pending));
    partLines(lines, state.pending.parts);
  }
  if (live && partTarget && state.preloadHintUri) lines.push(`#EXT-X-PRELOAD-HINT:TYPE=PART,URI="${state.preloadHintUri}"`);
  if (live) {
    for (const r of state.renditionReports ?? []) {
      lines.push(`#EXT-X-RENDITION-REPORT:URI="${r.uri}",LAST-MSN=${r.lastMsn}${r.lastPart !== undefined ? `,LAST-PART=${r.lastPart}` : ''}`);
    }
  } else {
    lines.push('#EXT-X-ENDLIST');
  }
  return lines.join('\n') + '\n';
}

function segmentTags(lines: string[], s: { discontinuity?: boolean; programDateTimeMs?: number; map?: string }, keyTag?: string): void {
  if (s.discontinuity) lines.push('#EXT-X-DISCONTINUITY');
  // §4.4.4.5: a changed Media Initialization Section is declared after the discontinuity it follows.
  if (s.discontinuity && s.map) lines.push(`#EXT-X-MAP:URI="${s.map}"`);
  if (keyTag) lines.push(keyTag);
  if (s.programDateTimeMs !== undefined) lines.push(`#EXT-X-PROGRAM-DATE-TIME:${iso(s.programDateTimeMs)}`);
}

function partLines(lines: string[], parts: HlsPart[]): void {
  for (const p of parts) lines.push(`#EXT-X-PART:DURATION=${dec(p.duration, 3)},URI="${p.uri}"${p.independent ? ',INDEPENDENT=YES' : ''}`);
}

/** A video variant of the multivariant playlist. */
export interface HlsVideoVariant {
  /** Media playlist URI relative to the multivariant playlist. */
  uri: string;
  /** Peak bits per second of the video alone; the audio group's peak is added (§4.4.6.2). */
  bandwidth: number;
  averageBandwidth?: number;
  codecs: string;
  width: number;
  height: number;
  frameRate?: number;
}

/** An audio rendition (EXT-X-MEDIA TYPE=AUDIO). */
export interface HlsAudioRendition {
  uri: string;
  name: string;
  /** Default `aud`. */
  groupId?: string;
  codecs: string;
  channels?: number;
  language?: string;
  default?: boolean;
  bandwidth?: number;
  averageBandwidth?: number;
}

/** An I-frame playlist for trick play (EXT-X-I-FRAME-STREAM-INF). */
export interface HlsIFrameVariant {
  uri: string;
  bandwidth: number;
  codecs: string;
  width: number;
  height: number;
}

/** A subtitle rendition (EXT-X-MEDIA TYPE=SUBTITLES) in group `subs`. */
export interface HlsSubtitleRendition {
  uri: string;
  name: string;
  language: string;
  default?: boolean;
}

/** Multivariant playlist options. */
export interface MultivariantOptions {
  /** Every segment starts with a keyframe (true for our aligned GOPs). Default true. */
  independentSegments?: boolean;
  /** The presentation is encrypted: EXT-X-SESSION-KEY, so players open the key session early. */
  sessionKey?: EncryptionInfo;
}

const quoted = (s: string) => `"${s.replace(/"/g, "'")}"`;

/** Builds the multivariant playlist: one audio group, then one EXT-X-STREAM-INF per video variant. */
export function toMultivariantPlaylist(renditions: { video: HlsVideoVariant[]; audio?: HlsAudioRendition[]; subtitles?: HlsSubtitleRendition[]; iframes?: HlsIFrameVariant[] }, opts: MultivariantOptions = {}): string {
  const lines = ['#EXTM3U'];
  if (opts.independentSegments ?? true) lines.push('#EXT-X-INDEPENDENT-SEGMENTS');
  if (opts.sessionKey) lines.push(hlsSessionKeyTag(opts.sessionKey));
  const audio = renditions.audio ?? [];
  audio.forEach((a, i) => {
    const attrs = [`TYPE=AUDIO`, `GROUP-ID=${quoted(a.groupId ?? 'aud')}`, `NAME=${quoted(a.name)}`];
    if (a.language) attrs.push(`LANGUAGE=${quoted(a.language)}`);
    const isDefault = a.default ?? i === 0;
    attrs.push(`DEFAULT=${isDefault ? 'YES' : 'NO'}`, 'AUTOSELECT=YES');
    if (a.channels) attrs.push(`CHANNELS=${quoted(String(a.channels))}`);
    attrs.push(`URI=${quoted(a.uri)}`);
    lines.push(`#EXT-X-MEDIA:${attrs.join(',')}`);
  });
  const subtitles = renditions.subtitles ?? [];
  for (const s of subtitles) {
    lines.push(`#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="subs",NAME=${quoted(s.name)},LANGUAGE=${quoted(s.language)},DEFAULT=${s.default ? 'YES' : 'NO'},AUTOSELECT=YES,URI=${quoted(s.uri)}`);
  }
  const group = audio[0]?.groupId ?? 'aud';
  const groupAudio = audio.filter((a) => (a.groupId ?? 'aud') === group);
  const audioPeak = Math.max(0, ...groupAudio.map((a) => a.bandwidth ?? 0));
  const audioAverage = Math.max(0, ...groupAudio.map((a) => a.averageBandwidth ?? a.bandwidth ?? 0));
  const audioCodecs = [...new Set(groupAudio.map((a) => a.codecs))];
  for (const v of renditions.video) {
    const attrs = [`BANDWIDTH=${Math.round(v.bandwidth + audioPeak)}`];
    if (v.averageBandwidth) attrs.push(`AVERAGE-BANDWIDTH=${Math.round(v.averageBandwidth + audioAverage)}`);
    attrs.push(`CODECS=${quoted([v.codecs, ...audioCodecs].join(','))}`, `RESOLUTION=${v.width}x${v.height}`);
    if (v.frameRate) attrs.push(`FRAME-RATE=${dec(v.frameRate, 3)}`);
    if (groupAudio.length) attrs.push(`AUDIO=${quoted(group)}`);
    if (subtitles.length) attrs.push('SUBTITLES="subs"');
    lines.push(`#EXT-X-STREAM-INF:${attrs.join(',')}`, v.uri);
  }
  for (const f of renditions.iframes ?? []) {
    lines.push(`#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=${Math.round(f.bandwidth)},CODECS=${quoted(f.codecs)},RESOLUTION=${f.width}x${f.height},URI=${quoted(f.uri)}`);
  }
  return lines.join('\n') + '\n';
}
