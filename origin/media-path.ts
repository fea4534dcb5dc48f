/**
 * Strict parsing of origin request paths. Every accepted path maps to one storage key built from
 * validated pieces, so no request (`../`, `%2e%2e`, absolute, NUL, backslash) can read outside the media root.
 */

/** What a request path names. */
export type MediaPath =
  | { scope: 'live'; id: string; kind: 'master' }
  | { scope: 'live'; id: string; kind: 'mpd' }
  | { scope: 'live'; id: string; kind: 'media-playlist'; rendition: string }
  | { scope: 'live'; id: string; kind: 'init'; rendition: string; file: string }
  | { scope: 'live'; id: string; kind: 'segment'; rendition: string; file: string; msn: number }
  | { scope: 'live'; id: string; kind: 'part'; rendition: string; file: string; msn: number; part: number }
  | { scope: 'vod'; id: string; kind: 'file'; file: string }
  | { scope: 'vod'; id: string; kind: 'download'; rendition: string };

const ID = /^[A-Za-z0-9_-]{1,64}$/;
const RENDITION = /^[A-Za-z0-9_-]{1,32}$/;
const VOD_FILE = /^(?:[A-Za-z0-9_-]{1,32}\/)?[A-Za-z0-9_.-]{1,64}$/;

/** Parses a URL pathname (still percent-encoded); null when it names nothing we serve. */
export function parseMediaPath(pathname: string): MediaPath | null {
  // Only unreserved characters are legal in our names (RFC 3986 §2.3), which never need escaping: a
  // '%' anywhere is refused, as the edge refuses it, so `a%2Fb` cannot name a path the edge did not
  // authorize and %2e%2e cannot climb.
  if (pathname.includes('%')) return null;
  const path = pathname;
  if (path.includes('\0') || path.includes('\\') || path.includes('..') || path.includes('//')) return null;
  const seg = path.split('/');
  if (seg[0] !== '' || seg.length < 4) return null;
  const [, scope, id, ...rest] = seg;
  if (!ID.test(id)) return null;
  if (scope === 'vod') {
    const file = rest.join('/');
    // `/vod/{id}/{rendition}.mp4`: the rendition and the audio as one file for offline viewing.
    const download = rest.length === 1 ? /^([A-Za-z0-9_-]{1,32})\.mp4$/.exec(rest[0]) : null;
    if (download) return { scope, id, kind: 'download', rendition: download[1] };
    return VOD_FILE.test(file) && !file.split('/').some((s) => s.startsWith('.')) ? { scope, id, kind: 'file', file } : null;
  }
  if (scope !== 'live') return null;
  if (rest.length === 1) {
    if (rest[0] === 'master.m3u8') return { scope, id, kind: 'master' };
    if (rest[0] === 'manifest.mpd') return { scope, id, kind: 'mpd' };
    return null;
  }
  if (rest.length !== 2 || !RENDITION.test(rest[0])) return null;
  const [rendition, file] = rest;
  if (file === 'index.m3u8') return { scope, id, kind: 'media-playlist', rendition };
  if (/^init-\d{1,15}\.mp4$/.test(file)) return { scope, id, kind: 'init', rendition, file };
  let m = /^seg-(\d{1,15})\.m4s$/.exec(file);
  if (m) return { scope, id, kind: 'segment', rendition, file, msn: Number(m[1]) };
  m = /^part-(\d{1,15})\.(\d{1,4})\.m4s$/.exec(file);
  if (m) return { scope, id, kind: 'part', rendition, file, msn: Number(m[1]), part: Number(m[2]) };
  return null;
}

/** The storage key of a media object; only ever built from a parsed MediaPath. */
export function storageKeyOf(p: MediaPath): string | null {
  if (p.kind === 'file') return `vod/${p.id}/${p.file}`;
  if (p.kind === 'init' || p.kind === 'segment' || p.kind === 'part') return `live/${p.id}/${p.rendition}/${p.file}`;
  return null;
}

/** Blocking-reload query (RFC 8216bis §6.2.5.2), or an error message for a malformed one. */
export interface DeliveryDirectives {
  msn?: number;
  part?: number;
  skip?: 'YES' | 'v2';
}

/** Parses _HLS_msn/_HLS_part/_HLS_skip; returns a string describing the problem when malformed. */
export function parseDirectives(query: URLSearchParams): DeliveryDirectives | string {
  const out: DeliveryDirectives = {};
  const msn = query.get('_HLS_msn');
  const part = query.get('_HLS_part');
  const skip = query.get('_HLS_skip');
  if (msn !== null) {
    if (!/^\d{1,15}$/.test(msn)) return '_HLS_msn must be a non-negative integer';
    out.msn = Number(msn);
  }
  if (part !== null) {
    if (!/^\d{1,4}$/.test(part)) return '_HLS_part must be a non-negative integer';
    // §6.2.5.2: _HLS_part without _HLS_msn is a client error.
    if (out.msn === undefined) return '_HLS_part requires _HLS_msn';
    out.part = Number(part);
  }
  if (skip !== null) {
    if (skip !== 'YES' && skip !== 'v2') return '_HLS_skip must be YES or v2';
    out.skip = skip;
  }
  return out;
}
