/**
 * Shared-cache storage and freshness rules (RFC 9111 §3, §4.2; RFC 8246 immutable; RFC 5861
 * stale-if-error), reduced to what an edge in front of our origin needs.
 */

/** The Cache-Control response directives the edge acts on. */
export interface CacheDirectives {
  noStore: boolean;
  noCache: boolean;
  private: boolean;
  immutable: boolean;
  maxAge?: number;
  sMaxAge?: number;
  staleIfError?: number;
}

/** Parses a Cache-Control header value; unknown directives are ignored (RFC 9111 §5.2.3). */
export function parseCacheControl(header: string | undefined): CacheDirectives {
  const d: CacheDirectives = { noStore: false, noCache: false, private: false, immutable: false };
  if (!header) return d;
  for (const raw of header.split(',')) {
    const eq = raw.indexOf('=');
    const name = (eq < 0 ? raw : raw.slice(0, eq)).trim().toLowerCase();
    const value = eq < 0 ? undefined : raw.slice(eq + 1).trim().replace(/^"|"$/g, '');
    switch (name) {
      case 'no-store':
        d.noStore = true;
        break;
      case 'no-cache':
        // A qualified no-cache="field" only restricts those fields; treat it as unqualified (stricter).
        d.noCache = true;
        break;
      case 'private':
        d.private = true;
        break;
      case 'immutable':
        d.immutable = true;
        break;
      case 'max-age':
        d.maxAge = seconds(value) ?? d.maxAge;
        break;
      case 's-maxage':
        d.sMaxAge = seconds(value) ?? d.sMaxAge;
        break;
      case 'stale-if-error':
        d.staleIfError = seconds(value) ?? d.staleIfError;
        break;
    }
  }
  return d;
}

function seconds(v: string | undefined): number | undefined {
  if (v === undefined || !/^\d{1,10}$/.test(v)) return undefined;
  return Number(v);
}

/** What the edge does with one origin response. */
export interface StoragePolicy {
  /** Whether the response may be kept at all. */
  store: boolean;
  /** How long it is fresh (served without asking the origin), from when it was received. */
  freshMs: number;
  /** How long past freshness it may still be served while every origin fails. */
  staleIfErrorMs: number;
  immutable: boolean;
}

/** Inputs of `storagePolicy` taken from the origin response. */
export interface ResponseFacts {
  status: number;
  cacheControl?: string;
  /** The Age the origin (or a cache before it) reported, seconds. */
  age?: number;
  vary?: string;
  setCookie: boolean;
}

/** Edge-wide defaults for `storagePolicy`. */
export interface PolicyDefaults {
  staleIfErrorMs: number;
  /** Minimum lifetime of a 200 blocking-reload playlist; 0 for other requests. */
  blockingReloadTtlMs: number;
}

/**
 * Decides storage and freshness. Only 200s are stored (the only status our origin makes cacheable);
 * `private`, `no-store`, `Vary: *` and Set-Cookie forbid storage in a shared cache (RFC 9111 §3).
 * `no-cache` responses are stored but never fresh: each use goes to the origin (coalesced), and the
 * copy only serves stale-if-error. Without max-age the edge applies no heuristic freshness: live
 * playlists must not be guessed fresh. A blocking-reload response for (msn, part) never changes
 * (RFC 8216bis §6.2.5.2, DESIGN "Live media rules"), so it gets at least `blockingReloadTtlMs`.
 */
export function storagePolicy(facts: ResponseFacts, defaults: PolicyDefaults): StoragePolicy {
  const d = parseCacheControl(facts.cacheControl);
  const store =
    facts.status === 200 && !d.noStore && !d.private && !facts.setCookie && facts.vary?.trim() !== '*';
  if (!store) return { store: false, freshMs: 0, staleIfErrorMs: 0, immutable: false };
  const lifetime = d.sMaxAge ?? d.maxAge ?? 0;
  let freshMs = d.noCache ? 0 : Math.max(0, lifetime - (facts.age ?? 0)) * 1000;
  if (defaults.blockingReloadTtlMs > 0) freshMs = Math.max(freshMs, defaults.blockingReloadTtlMs);
  const staleIfErrorMs = d.staleIfError !== undefined ? d.staleIfError * 1000 : defaults.staleIfErrorMs;
  return { store, freshMs, staleIfErrorMs, immutable: d.immutable && freshMs > 0 };
}
