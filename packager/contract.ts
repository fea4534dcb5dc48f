/**
 * The packager's public contract: what it publishes on the bus and the live catalog state the origin
 * reads to render playlists and answer blocking reloads (RFC 8216bis §6.2.5.2).
 */
import type { EncryptionInfo } from './manifest/encryption-info.js';

/** One part of a segment, as listed by EXT-X-PART. */
export interface PartEntry {
  /** Seconds. */
  duration: number;
  independent: boolean;
}

/** A complete segment in the live window. */
export interface SegmentEntry {
  msn: number;
  /** Seconds. */
  duration: number;
  /** Ingest wall clock of the segment's first sample, epoch ms (EXT-X-PROGRAM-DATE-TIME). */
  programDateTimeMs: number;
  /** First segment after a publisher reconnect or transcoder restart (EXT-X-DISCONTINUITY). */
  discontinuity?: boolean;
  /** Media time of the first sample, in the track timescale (DASH SegmentTimeline `t`). */
  startTime: number;
  /** Parts, kept only for recent segments (the spec lets older ones drop their EXT-X-PART lines). */
  parts?: PartEntry[];
  /** Init segment of this segment when it is not the session's first (`RenditionState.initName`): a new EXT-X-MAP. */
  initName?: string;
  /** Encrypted: the key ID of this segment (32 hex digits), which changes when live keys rotate (a new EXT-X-KEY). */
  kid?: string;
}

/** Everything the origin needs to render one rendition's media playlist. */
export interface RenditionState {
  streamId: string;
  rendition: string;
  kind: 'video' | 'audio';
  /** Track timescale (ticks per second). */
  timescale: number;
  /** Init segment file name within the rendition folder, versioned per session (`init-<n>.mp4`). */
  initName: string;
  /** EXT-X-PART-INF PART-TARGET, seconds. */
  partTarget: number;
  /** EXT-X-TARGETDURATION, whole seconds. */
  targetDuration: number;
  /** Number of discontinuities that scrolled out of the window (EXT-X-DISCONTINUITY-SEQUENCE). */
  discontinuitySequence: number;
  /** Complete segments, oldest first (DVR window). */
  segments: SegmentEntry[];
  /** The segment being produced now: its msn and its finished parts. */
  current: { msn: number; programDateTimeMs: number; startTime: number; discontinuity?: boolean; initName?: string; kid?: string; parts: PartEntry[] };
  /** No more media will come (the session ended). */
  ended: boolean;
  /** Epoch ms of the last change. */
  updatedAtMs: number;
  /** Sequence number of the last catalog event folded into this state (0: none yet). */
  seq: number;
  /** The packaging session whose log this state folds (RenditionMeta.epoch). */
  epoch?: string;
  /** The next part opens the next segment (the last part of `current` is out): EXT-X-PRELOAD-HINT names it. */
  hint?: { msn: number; part: number };
}

/** The facts of a rendition that do not change during a session: what an origin needs before any event. */
export interface RenditionMeta extends Pick<RenditionState, 'streamId' | 'rendition' | 'kind' | 'timescale' | 'initName' | 'partTarget'> {
  /** Segment target (the ladder's GOP), seconds. */
  segmentTarget: number;
  /** Seconds of segments the playlists keep. */
  dvrWindowSeconds: number;
  /** Media sequence number of the first segment. */
  firstMsn: number;
  /** EXT-X-TARGETDURATION, fixed for the session. */
  targetDuration?: number;
  /** The packaging session these events belong to: a new session starts a new log. */
  epoch: string;
}

/**
 * One change of a rendition, as appended to the live catalog's log (~100 bytes of JSON). `n` counts
 * from 1 per session without gaps, so a reader that sees n jump knows it missed something and reads
 * the log from where it was. A closed segment's event is self-contained (timing, window start,
 * discontinuity sequence), so a reader that starts late rebuilds the window from the log alone.
 */
export type RenditionEvent =
  /**
   * Part `i` of segment `msn` is stored: duration `d` seconds; `x` independent; the first part fixes the
   * segment's timing; `h` says it was the segment's last, so the next part is part 0 of the next segment;
   * `map` names the segment's init segment when it is not the session's first; `k` the segment's key ID when encrypted.
   */
  | { n: number; e: 'part'; msn: number; i: number; d: number; x?: 1; t?: number; pdt?: number; dc?: 1; h?: 1; map?: string; k?: string }
  /** Segment `msn` is stored and complete; the window now starts at `first`, with discontinuity sequence `ds`, target duration `td`; `map` as for parts. */
  | { n: number; e: 'seg'; msn: number; d: number; t: number; pdt: number; dc?: 1; first: number; ds: number; td: number; map?: string; k?: string }
  /** The session ended: no more media. */
  | { n: number; e: 'end' };

/** What the multivariant playlist and MPD say about one rendition. */
export interface RenditionInfo {
  name: string;
  kind: 'video' | 'audio';
  codec: string;
  bandwidth: number;
  averageBandwidth?: number;
  width?: number;
  height?: number;
  frameRate?: number;
  sampleRate?: number;
  channels?: number;
  timescale: number;
}

/** A live stream's session as the origin sees it. */
export interface StreamState {
  streamId: string;
  sessionId: string;
  /** Epoch ms when the first sample was ingested (DASH availabilityStartTime). */
  startedAtMs: number;
  renditions: RenditionInfo[];
  /** Every output of the ladder: the multivariant playlist waits until each has announced itself. */
  expectedRenditions: string[];
  partTarget: number;
  segmentTarget: number;
  dvrWindowSeconds: number;
  ended: boolean;
  /** The video is the publisher's own (passthrough): segments follow its GOPs, not the segment target. */
  sourceGops?: boolean;
  /**
   * The session is encrypted: method, licence server and the first key (EXT-X-SESSION-KEY, DASH
   * ContentProtection). With rotation each segment names its own key ID (SegmentEntry.kid).
   */
  encryption?: EncryptionInfo;
}

/** Bus topics the packager publishes. */
export interface PackagerTopics {
  [topic: string]: object;
  'packager.session.started': { streamId: string; sessionId: string; startedAtMs: number };
  'packager.session.ended': { streamId: string; sessionId: string; endedAtMs: number };
  /** Packaging could not start or gave up: `code` is stable (`PROBE_NO_VIDEO`, `TRANSCODER_FAILED`, ...). */
  'packager.session.failed': { streamId: string; sessionId: string; code: string; reason: string; atMs: number };
  /** A VOD job's progress (at most about once a second, and whenever it becomes playable). */
  'vod.asset.progress': { assetId: string; percent: number; speed: number; playable: boolean; atMs: number };
  /** Every rendition and manifest of the asset is stored. */
  'vod.asset.ready': { assetId: string; durationSeconds: number; tracks: VodTracks; thumbnails?: { poster: string; sprite: string; vtt: string }; atMs: number };
  /** The asset cannot be made: `code` is stable (MEDIA_TRUNCATED, MEDIA_PLAYLIST, TRANSCODE_FAILED, ...). */
  'vod.asset.errored': { assetId: string; code: string; message: string; atMs: number };
  /** The asset's manifests now list these caption tracks. */
  'vod.asset.captions': { assetId: string; captions: { language: string; label: string }[]; atMs: number };
  'packager.recording.ready': {
    streamId: string;
    sessionId: string;
    assetId: string;
    durationSeconds: number;
    startedAtMs: number;
    endedAtMs: number;
  };
}

/** What an on-demand asset is made of, as GET /v1/assets/:id lists it. */
export interface VodTracks {
  video: { name: string; width: number; height: number; bandwidth: number; averageBandwidth?: number; codec: string; frameRate?: number }[];
  audio: { name: string; language: string; label: string; codec: string; channels?: number }[];
  captions: { language: string; label: string }[];
}

/** The VOD job and its queue are control-api's (it sends them); the worker here runs them. */
export { VOD_QUEUE, VOD_CAPTIONS_QUEUE, captionFolder, type VodJob, type VodCaptionsJob, type CaptionTrack } from '../control-api/contract.js';
export { randomContentKey, encryptionInfoFor, type ContentKeyGrant, type EncryptionMode, type KeyProvider, type KeyRequest } from './crypto/key-provider.js';
