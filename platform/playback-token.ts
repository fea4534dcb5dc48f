import jwt from 'jsonwebtoken';

/**
 * Playback tokens: JWT HS256 over PLAYBACK_SIGNING_KEY, explicitly typed (header `typ`
 * `playback+jwt`, RFC 8725 §3.11) with `iss`, `aud`, `sub` = stream or asset id, `iat` and `exp` at
 * most PLAYBACK_TOKEN_MAX_TTL_SECONDS later. control-api issues them; the edge verifies all of it
 * before anything reaches an origin, so no other JWT (an access token) passes for one.
 */
export const PLAYBACK_TOKEN_ALGORITHM = 'HS256';
/** Header `typ` of playback tokens. */
export const PLAYBACK_TOKEN_TYPE = 'playback+jwt';
/** `iss` and `aud` of playback tokens. */
export const PLAYBACK_TOKEN_ISSUER = 'streamforge';
export const PLAYBACK_TOKEN_AUDIENCE = 'streamforge-playback';
/** The longest a playback token may live (exp − iat); the edge refuses longer ones. */
export const PLAYBACK_TOKEN_MAX_TTL_SECONDS = 86_400;

/** The claims a playback token may carry besides its media (`sub`). */
export interface PlaybackTokenClaims {
  sub: string;
  /** The profile it was issued to. */
  pid?: string;
  /** The playback session (stream slot) it belongs to: licence requests renew it. */
  sid?: string;
  /** The tallest rendition it may fetch, in lines: the edge trims playlists and refuses taller renditions. */
  maxh?: number;
  /** The video renditions (folder names) above the cap, which the edge refuses. */
  xr?: string[];
}

/**
 * The renditions a resolution cap leaves out: every one taller than `maxh`, except that the shortest
 * always stays (a cap below every rung plays the smallest rather than nothing). control-api names
 * them in tokens; the edge trims playlists and MPDs by the same rule.
 */
export function renditionsOverCap<T extends { height: number }>(renditions: readonly T[], maxh: number): T[] {
  const over = renditions.filter((r) => r.height > maxh);
  if (over.length < renditions.length || over.length === 0) return over;
  const shortest = Math.min(...renditions.map((r) => r.height));
  return over.filter((r) => r.height !== shortest);
}

/** Signs a playback token for one stream or asset (and, when given, one profile), valid for ttlSeconds (at most a day). */
export function signPlaybackToken(key: string, claims: PlaybackTokenClaims & { ttlSeconds: number }): string {
  if (!key) throw new Error('playback signing key is empty');
  if (!(claims.ttlSeconds > 0)) throw new Error('ttlSeconds must be positive');
  if (claims.ttlSeconds > PLAYBACK_TOKEN_MAX_TTL_SECONDS) throw new Error(`ttlSeconds must be at most ${PLAYBACK_TOKEN_MAX_TTL_SECONDS}`);
  const { ttlSeconds: _ttl, ...rest } = claims;
  const payload = Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined));
  return jwt.sign(payload, key, {
    algorithm: PLAYBACK_TOKEN_ALGORITHM,
    expiresIn: Math.ceil(claims.ttlSeconds),
    issuer: PLAYBACK_TOKEN_ISSUER,
    audience: PLAYBACK_TOKEN_AUDIENCE,
    header: { alg: PLAYBACK_TOKEN_ALGORITHM, typ: PLAYBACK_TOKEN_TYPE },
  });
}

/** A verified playback token: the media it names, when it expires, the profile, session and resolution cap it was issued with. */
export interface VerifiedPlaybackToken {
  sub: string;
  expMs: number;
  /** The profile the token is bound to (encrypted media and catalog titles). */
  pid?: string;
  sid?: string;
  maxh?: number;
  xr?: string[];
}

/**
 * Verifies a playback token with an explicit algorithm allow-list, its type (RFC 8725 §3.11: a JWT made
 * for something else does not pass, whatever its key), issuer, audience, and a lifetime of at most a day.
 */
export function verifyPlaybackToken(key: string, token: string): VerifiedPlaybackToken | 'invalid' | 'expired' {
  if (token.length > 4096) return 'invalid';
  let verified: jwt.Jwt;
  try {
    verified = jwt.verify(token, key, { algorithms: [PLAYBACK_TOKEN_ALGORITHM], issuer: PLAYBACK_TOKEN_ISSUER, audience: PLAYBACK_TOKEN_AUDIENCE, complete: true });
  } catch (err) {
    return err instanceof jwt.TokenExpiredError ? 'expired' : 'invalid';
  }
  if (verified.header.typ !== PLAYBACK_TOKEN_TYPE || typeof verified.payload !== 'object') return 'invalid';
  const claims = verified.payload as { sub?: unknown; exp?: unknown; iat?: unknown; pid?: unknown; sid?: unknown; maxh?: unknown; xr?: unknown };
  // jsonwebtoken accepts tokens without exp; playback tokens must expire, and within a day of issue.
  if (typeof claims.sub !== 'string' || typeof claims.exp !== 'number' || typeof claims.iat !== 'number') return 'invalid';
  if (claims.exp - claims.iat > PLAYBACK_TOKEN_MAX_TTL_SECONDS) return 'invalid';
  if (claims.maxh !== undefined && !(Number.isInteger(claims.maxh) && (claims.maxh as number) > 0)) return 'invalid';
  return {
    sub: claims.sub,
    expMs: claims.exp * 1000,
    ...(typeof claims.pid === 'string' ? { pid: claims.pid } : {}),
    ...(typeof claims.sid === 'string' ? { sid: claims.sid } : {}),
    ...(typeof claims.maxh === 'number' ? { maxh: claims.maxh } : {}),
    ...(Array.isArray(claims.xr) && claims.xr.every((r) => typeof r === 'string') ? { xr: claims.xr as string[] } : {}),
  };
}

/**
 * LiveState key holding a stream's or asset's playback policy when it is `signed`: control-api writes it,
 * edges read it, so a signed stream is enforced at every edge before any request reaches an origin.
 */
export function playbackPolicyKey(mediaId: string): string {
  return `playback-policy:${mediaId}`;
}
