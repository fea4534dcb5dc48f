/**
 * Turns a request URL into the cache key and the media id playback authorization checks. Parsing is
 * by hand (no URL object) because it runs on every request.
 */

/** A media request as the edge sees it. */
export interface MediaTarget {
  /** Cache key and upstream path: the path, plus (live media playlists only) the delivery directives in fixed order. */
  key: string;
  /** Stream id (`/live/{id}/...`) or asset id (`/vod/{id}/...`): what a playback token's `sub` must be. */
  mediaId: string;
  /** From the `/t/{token}` path prefix or the `token` query parameter (never in the key, never sent upstream). */
  token?: string;
  /** Whether the request carries `_HLS_msn` (RFC 8216bis §6.2.5.2 blocking playlist reload). */
  blocking: boolean;
}

/** Our names use only unreserved characters (origin/media-path.ts); anything else is refused. */
const MEDIA_PATH = /^\/(live|vod)\/([A-Za-z0-9_-]{1,64})\/[A-Za-z0-9_.\-/]{1,200}$/;
const MSN = /^\d{1,15}$/;
/** `/live/{streamId}/{rendition}/index.m3u8`: the only resource that takes delivery directives. */
const LIVE_MEDIA_PLAYLIST = /^\/live\/[A-Za-z0-9_-]{1,64}\/[A-Za-z0-9_-]{1,32}\/index\.m3u8$/;
/** Path form of signed playback URLs: `/t/{token}/live/{id}/...` (see README.md). */
export const TOKEN_PREFIX = '/t/';
const PART = /^\d{1,4}$/;

/**
 * Parses `req.url`. Returns undefined when the path names no media (404), a string describing a
 * malformed delivery directive (400), or the target. Dot segments, empty segments and percent-encoding
 * are refused so the id the edge authorizes is the id the origin serves. A `/t/{token}` path prefix is
 * taken off (it is never part of the key nor sent upstream) and becomes the target's token.
 */
export function parseTarget(url: string): MediaTarget | string | undefined {
  let pathToken: string | undefined;
  if (url.startsWith(TOKEN_PREFIX)) {
    // `/t/{token}/live/...`: the token rides in the path, so relative URIs in playlists and MPDs
    // (RFC 3986 §5.2) carry it to every child playlist, part and segment, even in players that cannot
    // add headers or query parameters (Safari's native HLS).
    const end = url.indexOf('/', TOKEN_PREFIX.length);
    if (end < 0) return undefined;
    pathToken = decodeToken(url.slice(TOKEN_PREFIX.length, end));
    if (!pathToken) return undefined;
    url = url.slice(end);
  }
  const target = parsePlain(url);
  if (pathToken !== undefined && typeof target === 'object') target.token = pathToken;
  return target;
}

function parsePlain(url: string): MediaTarget | string | undefined {
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);
  const m = MEDIA_PATH.exec(path);
  if (!m || path.includes('/.') || path.includes('//')) return undefined;
  const mediaId = m[2];
  if (q < 0) return { key: path, mediaId, blocking: false };
  // Delivery directives mean something to live media playlists only (RFC 8216bis §6.2.5): anywhere
  // else they are dropped with every other parameter, so `seg-5.m4s?_HLS_msn=<random>` can neither make
  // an origin fetch per value nor store a copy per value.
  const directives = m[1] === 'live' && LIVE_MEDIA_PLAYLIST.test(path);
  let msn: string | undefined;
  let part: string | undefined;
  let skip: string | undefined;
  let token: string | undefined;
  const query = url.slice(q + 1);
  let start = 0;
  while (start <= query.length) {
    let end = query.indexOf('&', start);
    if (end < 0) end = query.length;
    const eq = query.indexOf('=', start);
    if (eq > start && eq < end) {
      const name = query.slice(start, eq);
      const value = query.slice(eq + 1, end);
      if (name === 'token') token = decodeToken(value);
      else if (!directives) {
        // Not a live media playlist: only the token counts.
      } else if (name === '_HLS_msn') msn = value;
      else if (name === '_HLS_part') part = value;
      else if (name === '_HLS_skip') skip = value;
    }
    start = end + 1;
  }
  if (msn !== undefined && !MSN.test(msn)) return '_HLS_msn must be a non-negative integer';
  if (part !== undefined) {
    if (!PART.test(part)) return '_HLS_part must be a non-negative integer';
    // RFC 8216bis §6.2.5.2: _HLS_part without _HLS_msn is a client error.
    if (msn === undefined) return '_HLS_part requires _HLS_msn';
  }
  if (skip !== undefined && skip !== 'YES' && skip !== 'v2') return '_HLS_skip must be YES or v2';
  if (msn === undefined && skip === undefined) return { key: path, mediaId, token, blocking: false };
  let key = path;
  let sep = '?';
  if (msn !== undefined) {
    key += `?_HLS_msn=${Number(msn)}`;
    sep = '&';
    if (part !== undefined) key += `&_HLS_part=${Number(part)}`;
  }
  if (skip !== undefined) key += `${sep}_HLS_skip=${skip}`;
  return { key, mediaId, token, blocking: msn !== undefined };
}

function decodeToken(v: string): string | undefined {
  if (!v) return undefined;
  if (!v.includes('%')) return v;
  try {
    return decodeURIComponent(v);
  } catch {
    return v;
  }
}

/** The token of an `Authorization: Bearer <jwt>` header (RFC 6750 §2.1). */
export function bearerToken(header: string | undefined): string | undefined {
  if (!header || header.length < 8) return undefined;
  if (header.slice(0, 7).toLowerCase() !== 'bearer ') return undefined;
  const t = header.slice(7).trim();
  return t || undefined;
}
