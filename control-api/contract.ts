/**
 * control-api's public contract: the shapes its HTTP API answers with, what the live pipeline gets back
 * when it asks whether a stream key may publish, and the bus topics control-api publishes.
 * HTTP field names here are public (DESIGN.md "Contracts"): extend, never rename.
 */
import type { Rung } from '../platform/index.js';
import type { VodTracks } from '../packager/contract.js';
import type { QosBatch } from './analytics/qos.js';
import type { EncryptionMode } from '../packager/contract.js';

export type { EncryptionMode } from '../packager/contract.js';

/** What an account may do: viewers watch, creators also stream and upload, admins also administer. */
export type AccountRole = 'viewer' | 'creator' | 'admin';

/** An account as the API returns it (never the password hash). */
export interface AccountView {
  id: string;
  email: string;
  displayName: string;
  role: AccountRole;
  /** ISO 8601. */
  createdAt: string;
}

/** Answer to login and refresh; `expiresIn` is the access token lifetime in seconds. */
export interface TokenPair {
  accessToken: string;
  refreshToken: string;
  expiresIn: number;
  tokenType: 'Bearer';
}

/**
 * Maturity scale of profiles: the MPAA film ratings, lowest first. A profile sees titles rated at or
 * below its ceiling. Kids profiles are capped at PG-13 (default PG); standard profiles default to NC-17.
 */
export const MATURITY_RATINGS = ['G', 'PG', 'PG-13', 'R', 'NC-17'] as const;

/** One rating of MATURITY_RATINGS. */
export type MaturityRating = (typeof MATURITY_RATINGS)[number];

/** Profile flavour: kids profiles get a capped maturity ceiling. */
export type ProfileKind = 'standard' | 'kids';

/** A viewing profile of an account (the PIN itself is never returned). */
export interface ProfileView {
  id: string;
  name: string;
  kind: ProfileKind;
  maturityCeiling: MaturityRating;
  hasPin: boolean;
  /** Name of a built-in avatar. */
  avatar: string;
  createdAt: string;
}

/** Lifecycle of a live stream: idle until a publisher connects, live while media flows, ended after. */
export type LiveStreamStatus = 'idle' | 'live' | 'ended';

/** Whether playback URLs work as they are or need a signed token from the edge. */
export type PlaybackPolicy = 'public' | 'signed';

/** What an edge learns about a media id: its playback policy, or `gone` (deleted or never existed: 404). */
export type MediaPolicy = PlaybackPolicy | 'gone';

/** One rung of a per-stream transcoding ladder (the same shape as the platform default ladder). */
export type LadderRung = Rung;

/** Absolute playback URLs at the edge: an HLS multivariant playlist and a DASH MPD. */
export interface PlaybackUrls {
  hls: string;
  dash: string;
}

/** A live stream as the API returns it; `streamKey` is present only on create and rotate-key. */
export interface LiveStreamView {
  id: string;
  title: string;
  /** The secret OBS puts in "Stream Key"; shown once. */
  streamKey?: string;
  /** First characters of the key, to tell keys apart in a UI; not enough to publish. */
  streamKeyPrefix: string;
  /** OBS "Server": `rtmp://HOST[:PORT]/live`. */
  rtmpUrl: string;
  /** WHIP endpoint (the stream key is the Bearer token). */
  whipUrl: string;
  playback: PlaybackUrls;
  status: LiveStreamStatus;
  enabled: boolean;
  passthrough: boolean;
  /** Per-stream ladder, or null for the platform default. */
  ladder: LadderRung[] | null;
  playbackPolicy: PlaybackPolicy;
  /** How its media is encrypted (`none`, `cbcs`, `cenc`). */
  encryption: EncryptionMode;
  /** Encrypted: a new key every this many segments (0: one key per session). */
  keyRotationSegments: number;
  /** Recordings of this stream, newest first. */
  recentAssetIds: string[];
  createdAt: string;
  updatedAt: string;
  lastLiveAt: string | null;
  /** Why the last live session failed (e.g. `PROBE_NO_VIDEO`); null after a session that started fine. */
  lastError: LiveStreamError | null;
  /** Incoming stream health while a publisher is connected, else null. */
  ingest: IngestHealth | null;
}

/** What the publisher is sending right now, from ingest's periodic statistics. */
export interface IngestHealth {
  bitrateKbps: number;
  fps: number;
  /** Frames the packager could not keep up with, this session. */
  droppedFrames: number;
  /** ISO 8601 of the measurement. */
  at: string;
}

/** A live session failure as the creator sees it. */
export interface LiveStreamError {
  code: string;
  message: string;
  /** ISO 8601. */
  at: string;
}

/** Processing state of an asset (a recording or an upload). */
export type AssetStatus = 'preparing' | 'ready' | 'errored';

/** An on-demand asset as the API returns it. */
export interface AssetView {
  id: string;
  title: string;
  description: string | null;
  status: AssetStatus;
  /** Seconds, once known. */
  duration: number | null;
  liveStreamId: string | null;
  /** The upload it was made from (null for recordings). */
  uploadId: string | null;
  playbackPolicy: PlaybackPolicy;
  /** How its media is encrypted (`none`, `cbcs`, `cenc`): encrypted media plays only with a licence from the key server. */
  encryption: EncryptionMode;
  playback: PlaybackUrls;
  /** Video rungs, audio languages and captions, once ready (null for recordings and while preparing). */
  tracks: VodTracks | null;
  /** Poster, sprite sheet and WebVTT thumbnail track (`#xywh=`) at the edge, once ready. */
  thumbnails: { poster: string; sprite: string; vtt: string } | null;
  progress: { percent: number };
  /** When the first segments became playable (ISO 8601), while preparing or after. */
  playableFrom: string | null;
  readyAt: string | null;
  /** Why the asset could not be made. */
  errors: { code: string; message: string } | null;
  createdAt: string;
}

/** Why a publish was refused. */
/** Why a publish is refused; `quota-live-sessions`: the account already has QUOTA_LIVE_SESSIONS streams live. */
export type PublishRejection = 'unknown-key' | 'disabled' | 'already-live' | 'quota-live-sessions';

/** Answer to "may this stream key publish?" (asked by ingest on RTMP publish / WHIP offer). */
export type PublishAuthorization =
  | {
      ok: true;
      streamId: string;
      accountId: string;
      /** Present when the stream overrides the platform ladder. */
      ladder?: LadderRung[];
      passthrough: boolean;
      playbackPolicy: PlaybackPolicy;
      /** Sample encryption of the session's media and the licence server (absent: clear). */
      encryption?: { scheme: 'cbcs' | 'cenc'; licenseUrl: string; rotationSegments: number };
    }
  | { ok: false; reason: PublishRejection };

/** What the live pipeline tells control-api when a recording becomes an asset. */
export interface RecordingAssetInput {
  liveStreamId: string;
  /** Chosen by the pipeline when storage keys already use it; generated otherwise. */
  id?: string;
  title?: string;
  status?: AssetStatus;
  durationSeconds?: number;
}

/** Header carrying config.internalToken on the /internal/v1 routes (service-to-service). */
export const INTERNAL_TOKEN_HEADER = 'x-internal-token';

/** Bus topics control-api publishes (`module.noun.pastTense`). */
export interface ControlApiTopics {
  [topic: string]: object;
  'control.stream.created': { streamId: string; accountId: string; atMs: number };
  /** Ingest drops a live publisher of a deleted stream. */
  'control.stream.deleted': { streamId: string; accountId: string; atMs: number };
  /** The old key no longer authorizes new publishes; a session already live continues. */
  'control.stream.keyRotated': { streamId: string; accountId: string; atMs: number };
  /** Ingest drops a live publisher of a disabled stream. */
  'control.stream.disabled': { streamId: string; accountId: string; atMs: number };
  'control.stream.enabled': { streamId: string; accountId: string; atMs: number };
  'control.stream.statusChanged': { streamId: string; accountId: string; status: LiveStreamStatus; atMs: number };
  'control.asset.created': { assetId: string; accountId: string; liveStreamId: string | null; atMs: number };
  /** A notification was stored for an account: every control-api process writes it to that account's sockets. */
  /** Viewer QoS beacons (POST /v1/qos), for the analytics aggregator's consumer group. */
  'qos.beacons': QosBatch;
  'control.notification.created': { accountId: string; notification: { id: string; seq: number; kind: string; data: Record<string, unknown>; createdAt: string; readAt: string | null } };
}

/**
 * What control-api offers the live pipeline, in process (ControlApiServer) or over HTTP
 * (ControlApiClient, for split deployments): main.ts wires whichever fits.
 */
export interface LiveStreamControl {
  /** May this stream key publish now? */
  authorizePublish(streamKey: string): Promise<PublishAuthorization>;
  /** Reports a stream's status; false when the stream does not exist. */
  setStreamStatus(streamId: string, status: LiveStreamStatus): Promise<boolean>;
  /** Registers a recording as an asset; undefined when the stream does not exist. */
  createRecordingAsset(input: RecordingAssetInput): Promise<AssetView | undefined>;
  /** Updates an asset's processing state; false when the asset does not exist. */
  setAssetStatus(assetId: string, status: AssetStatus, durationSeconds?: number): Promise<boolean>;
}

/** A VOD transcode job control-api queues when an upload completes: the stored upload of an asset. */
export interface VodJob {
  assetId: string;
  uploadId: string;
  /** The upload on the worker's filesystem. */
  file: string;
  /** Epoch ms the upload completed (for seconds-to-playable). */
  uploadedAtMs: number;
  /**
   * Encryption of the packaged media; the key comes from the KeyProvider. `licenseUrl`: the ClearKey
   * licence server (cbcs, cenc; it goes in the MPD), or for aes-128 the key URL prefix (`…/v1/keys/`).
   */
  encryption?: { scheme: 'cbcs' | 'cenc' | 'aes-128'; licenseUrl: string };
}

/** pg-boss queue of VOD transcodes. */
export const VOD_QUEUE = 'vod-transcode';

/** pg-boss queue of recommendation refreshes (one per RECS_REFRESH_MINUTES cluster-wide, or on demand). */
export const RECS_QUEUE = 'recs-refresh';

/** pg-boss queue of caption changes: the VOD worker rewrites the asset's manifests with them. */
export const VOD_CAPTIONS_QUEUE = 'vod-captions';

/** One caption track of an asset. */
export interface CaptionTrack {
  language: string;
  label: string;
}

/** A captions job: every caption track the asset has now (stored at `vod/{assetId}/{captionFolder}/captions.vtt`). */
export interface VodCaptionsJob {
  assetId: string;
  captions: CaptionTrack[];
}

/** Folder of an asset's caption track for a language. */
export function captionFolder(language: string): string {
  return `subs-${language.replace(/[^A-Za-z0-9-]/g, '').slice(0, 24)}`;
}

/** What a catalog title is: a film, a show (holding seasons of episodes), or one episode. */
export type TitleType = 'movie' | 'series' | 'episode';

/** What the active profile did with a title (present on viewer reads that carry a profile). */
export interface TitleViewerState {
  liked: boolean;
  /** The profile's rating, 1-5. */
  rating: number | null;
  inWatchlist: boolean;
  progress: { positionSeconds: number; finished: boolean; updatedAt: string } | null;
}

/** A catalog title as the API returns it. */
export interface TitleView {
  id: string;
  type: TitleType;
  name: string;
  description: string;
  /** Genre slugs (GET /v1/genres). */
  genres: string[];
  /** YYYY-MM-DD. */
  releaseDate: string | null;
  year: number | null;
  maturityRating: MaturityRating;
  /** Audio languages (BCP 47). */
  languages: string[];
  subtitleLanguages: string[];
  cast: string[];
  tags: string[];
  assetId: string | null;
  seriesId: string | null;
  season: number | null;
  episode: number | null;
  downloadable: boolean;
  /** Plan id a viewer needs (subscriptions), or null for every plan. */
  requiredPlan: string | null;
  status: 'draft' | 'published';
  publishedAt: string | null;
  /** Of the asset, copied when the title is published. */
  durationSeconds: number | null;
  poster: string | null;
  likes: number;
  rating: { average: number | null; count: number };
  createdAt: string;
  updatedAt: string;
  viewer?: TitleViewerState;
  /** Series only: episodes by season, in order. */
  seasons?: { season: number; episodes: TitleView[] }[];
}
