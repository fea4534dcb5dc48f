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

/** Signs a playback token for one stream or asset, valid for ttlSeconds (at most a day). */
export function signPlaybackToken(key: string, claims: { sub: string; ttlSeconds: number }): string {
  if (!key) throw new Error('playback signing key is empty');
  if (!(claims.ttlSeconds > 0)) throw new Error('ttlSeconds must be positive');
  if (claims.ttlSeconds > PLAYBACK_TOKEN_MAX_TTL_SECONDS) throw new Error(`ttlSeconds must be at most ${PLAYBACK_TOKEN_MAX_TTL_SECONDS}`);
  return jwt.sign({ sub: claims.sub }, key, {
    algorithm: PLAYBACK_TOKEN_ALGORITHM,
    expiresIn: Math.ceil(claims.ttlSeconds),
    issuer: PLAYBACK_TOKEN_ISSUER,
    audience: PLAYBACK_TOKEN_AUDIENCE,
    header: { alg: PLAYBACK_TOKEN_ALGORITHM, typ: PLAYBACK_TOKEN_TYPE },
  });
}

/**
 * LiveState key holding a stream's or asset's playback policy when it is `signed`: control-api writes it,
 * edges read it, so a signed stream is enforced at every edge before any request reaches an origin.
 */
export function playbackPolicyKey(mediaId: string): string {
  return `playback-policy:${mediaId}`;
}
