import type http from 'node:http';
import { problem } from '../platform/index.js';
import { CORS_HEADERS, type CacheEntry, type HeaderList } from './cache-entry.js';

/** What a response sent: its status and body bytes. */
export interface Served {
  status: number;
  bytes: number;
}

/** A satisfiable single byte range, inclusive (RFC 9110 §14.1.2). */
export interface ByteRange {
  start: number;
  end: number;
}

/**
 * Parses a Range header against a representation of `size` bytes. Returns undefined to ignore it
 * (malformed, not bytes, or several ranges: RFC 9110 §14.2 lets a server answer those with the full
 * 200), or 'unsatisfiable' (416).
 */
export function parseRange(header: string, size: number): ByteRange | 'unsatisfiable' | undefined {
  const m = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header);
  if (!m || (m[1] === '' && m[2] === '')) return undefined;
  if (m[1] === '') {
    // Suffix range: the last N bytes.
    const n = Number(m[2]);
    if (n === 0 || size === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(m[1]);
  const end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (m[2] !== '' && Number(m[2]) < start) return undefined;
  if (start >= size) return 'unsatisfiable';
  return { start, end };
}

/** If-None-Match evaluation: `*` or any listed tag, compared weakly (RFC 9110 §13.1.2). */
export function etagMatches(header: string, etag: string): boolean {
  const trimmed = header.trim();
  if (trimmed === '*') return true;
  const opaque = etag.startsWith('W/') ? etag.slice(2) : etag;
  if (trimmed === etag || trimmed === opaque) return true;
  for (const raw of trimmed.split(',')) {
    const t = raw.trim();
    if ((t.startsWith('W/') ? t.slice(2) : t) === opaque) return true;
  }
  return false;
}

function notModifiedSince(ims: string | undefined, lastModified: string | undefined): boolean {
  if (!ims || !lastModified) return false;
  const since = Date.parse(ims);
  const lm = Date.parse(lastModified);
  return Number.isFinite(since) && Number.isFinite(lm) && lm <= since;
}

/**
 * Answers from a complete response: conditional (304), single range (206/416), HEAD, or the full body.
 * The full 200 of a hit reuses the entry's pre-built head; the other cases build theirs.
 */
export function respondWithEntry(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  entry: CacheEntry,
  now: number,
  xCache: 'HIT' | 'STALE' | 'MISS',
): Served {
  const headOnly = req.method === 'HEAD';
  if (entry.status === 200) {
    const h = req.headers;
    const inm = h['if-none-match'];
    // RFC 9110 §13.2.2: If-None-Match takes precedence over If-Modified-Since.
    if (inm !== undefined ? etagMatches(inm, entry.etag) : notModifiedSince(h['if-modified-since'], entry.lastModified)) {
      res.writeHead(304, entry.customHead(now, xCache, [], false));
      res.end();
      return { status: 304, bytes: 0 };
    }
    const range = h.range;
    // If-Range with anything but our current strong tag means "send it all" (RFC 9110 §13.1.5).
    if (range !== undefined && (h['if-range'] === undefined || h['if-range'] === entry.etag)) {
      const size = entry.body.length;
      const r = parseRange(range, size);
      if (r === 'unsatisfiable') {
        return sendProblem(res, 416, 'RANGE_NOT_SATISFIABLE', `range ${range} is outside the ${size} bytes`, ['content-range', `bytes */${size}`], headOnly);
      }
      if (r) {
        const len = r.end - r.start + 1;
        res.writeHead(206, entry.customHead(now, xCache, ['content-range', `bytes ${r.start}-${r.end}/${size}`, 'content-length', String(len)], false));
        if (headOnly) {
          res.end();
          return { status: 206, bytes: 0 };
        }
        res.end(entry.body.subarray(r.start, r.end + 1));
        return { status: 206, bytes: len };
      }
    }
  }
  res.writeHead(entry.status, xCache === 'HIT' ? entry.headFor(now) : entry.customHead(now, xCache, []));
  if (headOnly) {
    res.end();
    return { status: entry.status, bytes: 0 };
  }
  res.end(entry.body);
  return { status: entry.status, bytes: entry.body.length };
}

/** Sends an application/problem+json error (RFC 9457) with CORS, never cached. */
export function sendProblem(
  res: http.ServerResponse,
  status: number,
  code: string,
  detail: string,
  extra: HeaderList = [],
  headOnly = false,
): Served {
  const body = Buffer.from(JSON.stringify(problem(status, code, detail)));
  res.writeHead(status, [
    'content-type',
    'application/problem+json',
    'cache-control',
    'no-store',
    'content-length',
    String(body.length),
    ...CORS_HEADERS,
    ...extra,
  ]);
  res.end(headOnly ? undefined : body);
  return { status, bytes: headOnly ? 0 : body.length };
}

/** The CORS preflight answer (Fetch standard §3.2.3), the same for every path. */
export const PREFLIGHT_HEADERS: HeaderList = [
  ...CORS_HEADERS,
  'access-control-allow-methods',
  'GET, HEAD, OPTIONS',
  'access-control-allow-headers',
  'Authorization, Range, If-None-Match, If-Modified-Since, If-Range, Cache-Control',
  'access-control-max-age',
  '86400',
  'content-length',
  '0',
];
