import crypto from 'node:crypto';
import type { StoragePolicy } from './cache-control.js';

/** Flat `[name, value, name, value, ...]` header list, as `res.writeHead(status, list)` takes it. */
export type HeaderList = string[];

/** Headers every edge response carries: CORS for browser players (Fetch standard, CORS protocol). */
export const CORS_HEADERS: HeaderList = [
  'access-control-allow-origin',
  '*',
  'access-control-expose-headers',
  'Age, Content-Length, Content-Range, Date, ETag, Accept-Ranges, X-Cache',
];

/**
 * Hop-by-hop headers (RFC 9110 §7.6.1) and those the edge owns itself: Date/Age are recomputed,
 * CORS is the edge's, cookies are never relayed from a shared cache.
 */
const DROPPED = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'date',
  'age',
  'set-cookie',
  'content-length',
  'etag',
  'accept-ranges',
  'content-range',
  'x-cache',
]);

/** Response headers as undici returns them (lower-case names). */
export type UpstreamHeaders = Record<string, string | string[] | undefined>;

/** The origin's headers minus hop-by-hop and edge-owned ones, as a flat list. */
export function relayedHeaders(h: UpstreamHeaders): HeaderList {
  const out: HeaderList = [];
  const connection = typeof h.connection === 'string' ? h.connection.toLowerCase().split(/\s*,\s*/) : [];
  for (const name in h) {
    const v = h[name];
    if (v === undefined || DROPPED.has(name) || name.startsWith('access-control-') || connection.includes(name)) continue;
    if (Array.isArray(v)) for (const one of v) out.push(name, one);
    else out.push(name, v);
  }
  return out;
}

/** First value of a header from undici's header record. */
export function headerValue(h: UpstreamHeaders, name: string): string | undefined {
  const v = h[name];
  return Array.isArray(v) ? v[0] : v;
}

/** A strong validator from the bytes, for origins that send none (RFC 9110 §8.8.3). */
export function etagOf(body: Buffer): string {
  return `"${crypto.createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`;
}

/** What is needed to build an entry (also what the disk tier persists). */
export interface EntryInit {
  key: string;
  status: number;
  /** Relayed origin headers (no length, validator, CORS, Age). */
  headers: HeaderList;
  body: Buffer;
  etag: string;
  /** Epoch ms the response was received. */
  storedAt: number;
  /** Age the origin reported, seconds. */
  ageAtStore: number;
  freshUntil: number;
  usableUntil: number;
  immutable: boolean;
  lastModified?: string;
}

/** Per-entry estimate of key, header and object overhead, so many tiny playlists still count. */
const ENTRY_OVERHEAD = 512;

/**
 * One cached response. Its response head is built once and reused for every hit; only the Age value
 * changes, so the head is rebuilt at most once per second per entry (RFC 9111 §5.1).
 */
export class CacheEntry implements EntryInit {
  readonly key: string;
  readonly status: number;
  readonly headers: HeaderList;
  readonly body: Buffer;
  readonly etag: string;
  readonly storedAt: number;
  readonly ageAtStore: number;
  readonly freshUntil: number;
  readonly usableUntil: number;
  readonly immutable: boolean;
  readonly lastModified?: string;
  /** Bytes charged to the cache bound. */
  readonly size: number;
  /** Relayed headers + validator + ranges + CORS: the part shared by 200, 206 and 304 heads. */
  readonly base: HeaderList;
  private head: HeaderList = [];
  private headAge = -1;

  constructor(init: EntryInit) {
    this.key = init.key;
    this.status = init.status;
    this.headers = init.headers;
    this.body = init.body;
    this.etag = init.etag;
    this.storedAt = init.storedAt;
    this.ageAtStore = init.ageAtStore;
    this.freshUntil = init.freshUntil;
    this.usableUntil = init.usableUntil;
    this.immutable = init.immutable;
    this.lastModified = init.lastModified;
    this.size = init.body.length + init.key.length * 2 + ENTRY_OVERHEAD;
    this.base = [...init.headers, 'etag', init.etag, 'accept-ranges', 'bytes', ...CORS_HEADERS];
  }

  /** Builds an entry from a completed origin response. */
  static fromResponse(
    key: string,
    status: number,
    upstream: UpstreamHeaders,
    body: Buffer,
    policy: StoragePolicy,
    now: number,
  ): CacheEntry {
    const originEtag = headerValue(upstream, 'etag');
    // A weak origin validator cannot back byte ranges (RFC 9110 §13.1.4); use our strong one then.
    const etag = originEtag && !originEtag.startsWith('W/') ? originEtag : etagOf(body);
    const age = Number(headerValue(upstream, 'age') ?? 0);
    const freshUntil = now + policy.freshMs;
    return new CacheEntry({
      key,
      status,
      headers: relayedHeaders(upstream),
      body,
      etag,
      storedAt: now,
      ageAtStore: Number.isFinite(age) && age > 0 ? Math.floor(age) : 0,
      freshUntil,
      usableUntil: freshUntil + policy.staleIfErrorMs,
      immutable: policy.immutable,
      lastModified: headerValue(upstream, 'last-modified'),
    });
  }

  /** The same response with another body (a capped manifest): its own validator, the same freshness. */
  static derivedFrom(entry: CacheEntry, body: Buffer): CacheEntry {
    return new CacheEntry({
      key: entry.key, status: entry.status, headers: entry.headers, body, etag: etagOf(body), storedAt: entry.storedAt, ageAtStore: entry.ageAtStore,
      freshUntil: entry.freshUntil, usableUntil: entry.usableUntil, immutable: entry.immutable, lastModified: entry.lastModified,
    });
  }

  /** Current Age in whole seconds. */
  age(now: number): number {
    return this.ageAtStore + Math.max(0, Math.floor((now - this.storedAt) / 1000));
  }

  /** The full 200 head for a hit; cached until the Age second changes. */
  headFor(now: number): HeaderList {
    const age = this.age(now);
    if (age !== this.headAge) {
      this.head = [...this.base, 'content-length', String(this.body.length), 'age', String(age), 'x-cache', 'HIT'];
      this.headAge = age;
    }
    return this.head;
  }

  /** A one-off head with a different X-Cache value and extra fields (stale, 206, 304). */
  customHead(now: number, xCache: string, extra: HeaderList, withLength = true): HeaderList {
    const h = [...this.base, 'age', String(this.age(now)), 'x-cache', xCache, ...extra];
    if (withLength) h.push('content-length', String(this.body.length));
    return h;
  }
}
