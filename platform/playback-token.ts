import jwt from 'jsonwebtoken';

/**
 * Playback tokens: JWT HS256 over PLAYBACK_SIGNING_KEY with `sub` = stream or asset id and a required
 * `exp`. control-api issues them; the edge verifies them before anything reaches an origin.
 */
export const PLAYBACK_TOKEN_ALGORITHM = 'HS256';

/** Signs a playback token for one stream or asset, valid for ttlSeconds. */
export function signPlaybackToken(key: string, claims: { sub: string; ttlSeconds: number }): string {
  if (!key) throw new Error('playback signing key is empty');
  if (!(claims.ttlSeconds > 0)) throw new Error('ttlSeconds must be positive');
  return jwt.sign({ sub: claims.sub }, key, { algorithm: PLAYBACK_TOKEN_ALGORITHM, expiresIn: Math.ceil(claims.ttlSeconds) });
}

/**
 * LiveState key holding a stream's or asset's playback policy when it is `signed`: control-api writes it,
 * edges read it, so a signed stream is enforced at every edge before any request reaches an origin.
 */
export function playbackPolicyKey(mediaId: string): string {
  return `playback-policy:${mediaId}`;
}
