/**
 * The edge cache's public contract: its configuration and the playback-token format that
 * control-api must produce for signed playback (see playback-auth.ts for the signer/verifier).
 */

/**
 * Edge configuration. The first block maps 1:1 onto platform Config (`ports.edge`, `bindHost`,
 * `edge.originUrls`, `edge.cacheBytes`, `edge.playbackSigningKey`); the optional rest are edge tuning
 * knobs with defaults (see `resolveEdgeConfig`), proposed env names in brackets.
 */
export interface EdgeConfig {
  /** [EDGE_PORT] 0 picks a free port. */
  port: number;
  /** [BIND_HOST] */
  bindHost: string;
  /** [ORIGIN_URLS] Tried in order: the first healthy one serves, the next ones are failover. */
  originUrls: string[];
  /** [EDGE_CACHE_BYTES] Bound of the in-memory tier (bodies plus an estimate of per-entry overhead). */
  cacheBytes: number;
  /** [PLAYBACK_SIGNING_KEY] HS256 key for playback tokens. */
  playbackSigningKey?: string;
  /** [EDGE_REQUIRE_TOKEN] When true, every /live and /vod request needs a valid playback token. */
  requireToken?: boolean;
  /** [EDGE_DISK_CACHE_DIR] Optional second tier for long-lived objects (immutable media); survives restarts. */
  diskCacheDir?: string;
  /** [EDGE_DISK_CACHE_BYTES] Bound of the disk tier; default 10 × cacheBytes. */
  diskCacheBytes?: number;
  /** [EDGE_STALE_IF_ERROR] Seconds a stale object may be served while no origin answers (RFC 5861); default 30. */
  staleIfErrorSeconds?: number;
  /** [EDGE_HEALTH_INTERVAL_MS] Period of GET /healthz on each origin; default 2000. */
  healthIntervalMs?: number;
  /** [EDGE_CONNECT_TIMEOUT_MS] Default 2000. */
  connectTimeoutMs?: number;
  /**
   * [EDGE_UPSTREAM_TIMEOUT_MS] Max wait for an origin's response head, and max silence inside a body.
   * Must exceed the origin's blocking-reload hold (ORIGIN_BLOCKING_TIMEOUT_MS); default 15000.
   */
  upstreamTimeoutMs?: number;
  /** [EDGE_MAX_OBJECT_BYTES] Larger objects are streamed through but not cached; default min(cacheBytes / 4, 64 MiB). */
  maxObjectBytes?: number;
  /** Floor of the cache lifetime of a 200 blocking-reload playlist (its content never changes); default 6. */
  blockingReloadTtlSeconds?: number;
}

/** EdgeConfig with every default filled in. */
export type ResolvedEdgeConfig = Required<Omit<EdgeConfig, 'playbackSigningKey' | 'diskCacheDir'>> &
  Pick<EdgeConfig, 'playbackSigningKey' | 'diskCacheDir'>;

/**
 * Playback token format (JWT, RFC 7519), shared with control-api:
 * - header `{"alg":"HS256","typ":"playback+jwt"}`; HMAC-SHA256 with PLAYBACK_SIGNING_KEY (utf-8 bytes);
 * - claims `iss` `streamforge`, `aud` `streamforge-playback`, `sub` = the stream id (`/live/{sub}/...`)
 *   or asset id (`/vod/{sub}/...`), `iat` and `exp` (epoch seconds, both required, at most a day apart);
 * - carried as `?token=<jwt>`, in the path as `/t/<jwt>/...`, or as `Authorization: Bearer <jwt>`.
 * No other algorithm, type, issuer or audience is accepted, so `alg: none`, key confusion and other
 * JWTs (an access token) fail.
 */
export interface PlaybackTokenClaims {
  iss: string;
  aud: string;
  sub: string;
  exp: number;
  iat: number;
}

/** The only JWT algorithm playback tokens use, their type, issuer, audience and longest lifetime. */
export { PLAYBACK_TOKEN_ALGORITHM, PLAYBACK_TOKEN_AUDIENCE, PLAYBACK_TOKEN_ISSUER, PLAYBACK_TOKEN_MAX_TTL_SECONDS, PLAYBACK_TOKEN_TYPE } from '../platform/index.js';

/** Values of the `cache` label of edge_requests_total. */
export type CacheOutcome = 'hit' | 'miss' | 'stale' | 'coalesced' | 'bypass';
