import { LRUCache } from 'lru-cache';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger, Registry } from '../platform/index.js';
import { storagePolicy } from './cache-control.js';
import { CacheEntry, headerValue, type UpstreamHeaders } from './cache-entry.js';
import { CacheStore } from './cache-store.js';
import { Coalescer, type Flight } from './coalescer.js';
import type { CacheOutcome, EdgeConfig, ResolvedEdgeConfig } from './contract.js';
import { DiskTier } from './disk-tier.js';
import { resolveEdgeConfig } from './edge-config.js';
import { EdgeMetrics } from './edge-metrics.js';
import { PREFLIGHT_HEADERS, respondWithEntry, sendProblem, type Served } from './entry-responder.js';
import { OriginPool, UpstreamError } from './origin-pool.js';
import { PlaybackAuth, VERDICT_RESPONSE, type RenditionCap } from './playback-auth.js';
import { CappedManifests, isRenditionList, renditionOf } from './rendition-cap.js';
import { CmcdMetrics, cmcdOf } from './cmcd.js';
import { bearerToken, parseTarget, type MediaTarget } from './request-target.js';
import { CompleteWaiter, StreamWaiter, type WaiterHost } from './waiters.js';

/** What the edge is built from. */
export interface EdgeDeps {
  logger: Logger;
  /** The process's registry (never prom-client's global one). */
  metrics: Registry;
  /**
   * A stream's or asset's playback policy: `signed` needs a playback token. Consulted unless
   * EDGE_REQUIRE_TOKEN is on (then every request needs one); answers are cached briefly. A look-up
   * that fails is answered 503, and signed media on an edge without PLAYBACK_SIGNING_KEY is refused.
   */
  playbackPolicy?: (mediaId: string) => Promise<'signed' | 'public' | 'gone'>;
}

/**
 * The edge cache: serves `/live/...` and `/vod/...` from memory (and optionally disk), coalescing
 * misses into one upstream fetch per key, failing over between origins, serving stale on outages,
 * and enforcing playback tokens before anything reaches an origin. Plain node:http: the hit path is a
 * map look-up and one write of a pre-built head plus a shared body Buffer.
 */
export class EdgeServer implements WaiterHost {
  private readonly config: ResolvedEdgeConfig;
  private readonly log: Logger;
  private readonly server: http.Server;
  private readonly store: CacheStore;
  private readonly disk?: DiskTier;
  private readonly pool: OriginPool;
  private readonly coalescer: Coalescer;
  private readonly auth?: PlaybackAuth;
  private readonly metrics: EdgeMetrics;
  private readonly registry: Registry;
  private readonly policies?: PolicyCache;
  private readonly capped = new CappedManifests();
  private readonly cmcd: CmcdMetrics;

  constructor(deps: EdgeDeps, config: EdgeConfig) {
    this.config = resolveEdgeConfig(config);
    const c = this.config;
    this.log = deps.logger.child({ mod: 'edge-cache' });
    this.registry = deps.metrics;
    this.metrics = new EdgeMetrics(deps.metrics, {
      cacheBytes: () => this.store.bytes,
      origins: () => this.pool.states(),
    });
    if (c.diskCacheDir) this.disk = new DiskTier({ logger: this.log }, c.diskCacheDir, c.diskCacheBytes);
    this.store = new CacheStore(
      { maxBytes: c.cacheBytes, maxObjectBytes: c.maxObjectBytes, onEvict: () => this.metrics.eviction() },
      this.disk,
    );
    this.pool = new OriginPool(
      { logger: this.log },
      {
        urls: c.originUrls,
        connectTimeoutMs: c.connectTimeoutMs,
        upstreamTimeoutMs: c.upstreamTimeoutMs,
        healthIntervalMs: c.healthIntervalMs,
      },
    );
    const staleIfErrorMs = c.staleIfErrorSeconds * 1000;
    const blockingTtlMs = c.blockingReloadTtlSeconds * 1000;
    this.coalescer = new Coalescer({
      fetch: (path, signal) => this.pool.fetch(path, signal),
      policy: (key, status, headers) => storagePolicy(factsOf(status, headers), {
        staleIfErrorMs,
        // The key carries _HLS_msn exactly when the request was a blocking reload (request-target.ts).
        blockingReloadTtlMs: key.includes('?_HLS_msn=') ? blockingTtlMs : 0,
      }),
      complete: (flight, body) => this.complete(flight, body),
      observe: (origin, status, seconds) => this.metrics.upstream(origin, status, seconds),
      maxObjectBytes: c.maxObjectBytes,
    });
    // With a signing key, tokens are checked for every request (EDGE_REQUIRE_TOKEN) or for the streams
    // and assets whose playback policy is signed (deps.playbackPolicy; see README.md). Without a key,
    // signed media is refused: it is never served as if it were public.
    if (c.playbackSigningKey && (c.requireToken || deps.playbackPolicy)) this.auth = new PlaybackAuth(c.playbackSigningKey);
    if (!c.requireToken && deps.playbackPolicy) this.policies = new PolicyCache(deps.playbackPolicy);
    this.cmcd = new CmcdMetrics(deps.metrics);
    this.server = http.createServer({ noDelay: true }, (req, res) => this.onRequest(req, res));
    // Longer than typical load-balancer idle timeouts, so the edge never closes a connection they reuse.
    this.server.keepAliveTimeout = 65_000;
  }

  /** Indexes the disk tier, checks the origins once, then listens. */
  async start(): Promise<void> {
    await this.disk?.start();
    await this.pool.start();
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.config.port, this.config.bindHost, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    this.log.info({ port: this.address().port, origins: this.config.originUrls, auth: Boolean(this.auth) }, 'edge listening');
  }

  /** Stops listening, aborts upstream fetches, closes connections and flushes disk writes. */
  async close(): Promise<void> {
    this.coalescer.close();
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    await closed;
    await this.pool.close();
    await this.disk?.close();
  }

  /** The bound address (port 0 in config picks a free one). */
  address(): AddressInfo {
    return this.server.address() as AddressInfo;
  }

  /** Entries and bytes in the memory tier, flights under way (for tests and diagnostics). */
  stats(): { entries: number; bytes: number; inflight: number } {
    return { entries: this.store.size, bytes: this.store.bytes, inflight: this.coalescer.size };
  }

  /** Metrics of a finished response. */
  finished(served: Served, outcome: CacheOutcome): void {
    this.metrics.request(served.status, outcome, served.bytes);
  }

  /** Every origin failed: a stale copy within its stale-if-error window, else a 502/504 problem. */
  upstreamFailed(req: http.IncomingMessage, res: http.ServerResponse, key: string, err: Error, outcome: CacheOutcome): void {
    if (res.destroyed) return;
    const now = Date.now();
    const stale = this.store.get(key);
    if (stale && now < stale.usableUntil) {
      this.finished(respondWithEntry(req, res, stale, now, 'STALE'), 'stale');
      return;
    }
    const headOnly = req.method === 'HEAD';
    if (err instanceof UpstreamError) {
      // Viewers learn that the origins failed, not where they are; the log has the addresses.
      this.log.warn({ key, reason: err.message }, 'no origin could serve a request');
      this.finished(sendProblem(res, err.status, err.code, err.publicDetail, [], headOnly), outcome);
    } else {
      this.log.warn({ err, key }, 'upstream fetch failed');
      this.finished(sendProblem(res, 502, 'ORIGIN_UNAVAILABLE', 'the origin fetch failed', [], headOnly), outcome);
    }
  }

  private onRequest(req: http.IncomingMessage, res: http.ServerResponse): void {
    try {
      this.route(req, res);
    } catch (err) {
      this.log.error({ err }, 'request failed');
      if (!res.headersSent) sendProblem(res, 500, 'INTERNAL', 'internal error');
      else res.destroy();
    }
  }

  private route(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = req.url ?? '/';
    const method = req.method;
    if (method === 'OPTIONS') {
      res.writeHead(204, PREFLIGHT_HEADERS);
      res.end();
      return;
    }
    const target = parseTarget(url);
    if (target === undefined) {
      if (url === '/healthz' || url.startsWith('/healthz?')) return this.sendHealth(res);
      if (url === '/metrics') return void this.sendMetrics(res);
      if (url === '/time') return this.sendTime(res);
      return this.finished(sendProblem(res, 404, 'NOT_FOUND', 'the edge serves /live/{streamId}/... and /vod/{assetId}/...'), 'bypass');
    }
    // CMCD only costs a parse when the player sends it (a header, or the query parameter).
    if (req.headers['cmcd-request'] !== undefined || req.headers['cmcd-object'] !== undefined || req.headers['cmcd-status'] !== undefined || req.headers['cmcd-session'] !== undefined || url.includes('CMCD=')) {
      const c = cmcdOf(url, req.headers);
      if (c) this.cmcd.observe(c);
    }
    const headOnly = method === 'HEAD';
    if (method !== 'GET' && !headOnly) {
      return this.finished(sendProblem(res, 405, 'METHOD_NOT_ALLOWED', `${method} is not supported`, ['allow', 'GET, HEAD, OPTIONS']), 'bypass');
    }
    if (typeof target === 'string') {
      return this.finished(sendProblem(res, 400, 'BAD_DELIVERY_DIRECTIVE', target, [], headOnly), 'bypass');
    }
    if (this.policies) {
      // Per-stream policy: known answers are synchronous; an unknown id waits for one look-up.
      const policy = this.policies.cached(target.mediaId);
      if (policy === undefined) {
        this.policies.lookup(target.mediaId).then(
          () => this.route(req, res),
          (err: unknown) => {
            this.log.error({ err }, 'playback policy look-up failed');
            this.finished(sendProblem(res, 503, 'POLICY_UNAVAILABLE', 'playback policy could not be checked', ['retry-after', '1'], headOnly), 'bypass');
          },
        );
        return;
      }
      if (policy === 'public') {
        // Public media plays without a token; one presented with a plan's resolution cap still caps it.
        const token = this.auth && (target.token ?? bearerToken(req.headers.authorization));
        const cap = token && this.auth!.check(target.mediaId, token) === 'ok' ? this.auth!.capOf(token) : undefined;
        return cap ? this.serveCapped(req, res, target, cap) : this.serveMedia(req, res, target);
      }
      // Deleted (or never existed): nothing is served, cached copies included.
      if (policy === 'gone') return this.finished(sendProblem(res, 404, 'NOT_FOUND', 'no such stream or asset', [], headOnly), 'bypass');
      if (!this.auth) {
        return this.finished(sendProblem(res, 503, 'PLAYBACK_SIGNING_UNAVAILABLE', 'this media needs signed playback, which this edge is not configured for', [], headOnly), 'bypass');
      }
    }
    if (this.auth) {
      const token = target.token ?? bearerToken(req.headers.authorization);
      const verdict = this.auth.check(target.mediaId, token);
      if (verdict !== 'ok') {
        this.metrics.tokenRefused(verdict === 'wrong-subject' ? 'wrong_media' : verdict);
        const r = VERDICT_RESPONSE[verdict];
        const challenge = r.status === 401 ? 'Bearer realm="playback"' : 'Bearer realm="playback", error="invalid_token"';
        return this.finished(sendProblem(res, r.status, r.code, r.detail, ['www-authenticate', challenge], headOnly), 'bypass');
      }
      const cap = this.auth.capOf(token!);
      if (cap) return this.serveCapped(req, res, target, cap);
    }
    this.serveMedia(req, res, target);
  }

  /**
   * A request under a plan's resolution cap: a rendition it leaves out is 403, a manifest is served
   * without the taller renditions (derived from the one cached copy), anything else as usual.
   */
  private serveCapped(req: http.IncomingMessage, res: http.ServerResponse, t: MediaTarget, cap: RenditionCap): void {
    const rendition = renditionOf(t.key);
    if (rendition !== undefined && cap.excluded.has(rendition)) {
      this.metrics.tokenRefused('rendition');
      return this.finished(sendProblem(res, 403, 'RENDITION_NOT_ALLOWED', `this playback is capped at ${cap.maxh} lines: rendition ${rendition} is above it`, [], req.method === 'HEAD'), 'bypass');
    }
    if (!isRenditionList(t.key)) return this.serveMedia(req, res, t);
    const now = Date.now();
    const entry = this.store.get(t.key);
    if (entry !== undefined && now < entry.freshUntil) return this.finished(respondWithEntry(req, res, this.capped.of(entry, cap.maxh), now, 'HIT'), 'hit');
    this.fetchFor(req, res, t.key, (e) => this.capped.of(e, cap.maxh));
  }

  private serveMedia(req: http.IncomingMessage, res: http.ServerResponse, t: MediaTarget): void {
    const now = Date.now();
    const entry = this.store.get(t.key);
    if (entry !== undefined) {
      if (now < entry.freshUntil) return this.finished(respondWithEntry(req, res, entry, now, 'HIT'), 'hit');
      // No origin is up: answer stale at once rather than make the viewer wait for connect failures.
      if (!this.pool.anyHealthy() && now < entry.usableUntil) {
        return this.finished(respondWithEntry(req, res, entry, now, 'STALE'), 'stale');
      }
    } else if (this.store.hasDisk && this.coalescer.get(t.key) === undefined) {
      this.store.fromDisk(t.key, now).then(
        (e) => {
          const later = Date.now();
          if (e && later < e.freshUntil) this.finished(respondWithEntry(req, res, e, later, 'HIT'), 'hit');
          else this.fetchFor(req, res, t.key);
        },
        (err: unknown) => {
          this.log.warn({ err }, 'disk cache read failed');
          this.fetchFor(req, res, t.key);
        },
      );
      return;
    }
    this.fetchFor(req, res, t.key);
  }

  /** Joins (or starts) the upstream fetch for `key`. */
  private fetchFor(req: http.IncomingMessage, res: http.ServerResponse, key: string, view?: (entry: CacheEntry) => CacheEntry): void {
    if (res.destroyed) return;
    const joining = this.coalescer.get(key) !== undefined;
    const h = req.headers;
    // A derived view (a capped manifest) needs the whole object, as HEAD, Range and conditionals do.
    const whole =
      view !== undefined || req.method === 'HEAD' || h.range !== undefined || h['if-none-match'] !== undefined || h['if-modified-since'] !== undefined;
    const waiter = whole ? new CompleteWaiter(this, req, res, view) : new StreamWaiter(this, req, res);
    if (joining) {
      waiter.outcome = 'coalesced';
      this.metrics.coalescedWaiter();
    }
    const flight: Flight = this.coalescer.join(key, waiter);
    res.once('close', () => {
      if (!waiter.done) this.coalescer.leave(flight, waiter);
    });
  }

  /**
   * A flight's body is complete: build its entry when it is kept or a waiter needs the whole object
   * (HEAD, Range, conditional), and keep it when the origin allows.
   */
  private complete(flight: Flight, body: Buffer): CacheEntry | undefined {
    const head = flight.head!;
    if (!head.policy.store && !flight.listeners.some((l) => l instanceof CompleteWaiter)) return undefined;
    const now = Date.now();
    const entry = CacheEntry.fromResponse(flight.key, head.status, head.upstream, body, head.policy, now);
    if (head.policy.store) this.store.set(entry, now);
    return entry;
  }

  /** DASH UTCTiming (urn:mpeg:dash:utc:http-iso:2014): this server's clock, never cached. */
  private sendTime(res: http.ServerResponse): void {
    const body = new Date().toISOString();
    res.writeHead(200, ['content-type', 'text/plain', 'cache-control', 'no-store', 'access-control-allow-origin', '*', 'content-length', String(body.length)]);
    res.end(body);
  }

  private sendHealth(res: http.ServerResponse): void {
    const body = JSON.stringify({ status: 'ok', origins: this.pool.states() });
    res.writeHead(200, ['content-type', 'application/json', 'cache-control', 'no-store', 'content-length', String(Buffer.byteLength(body))]);
    res.end(body);
  }

  private async sendMetrics(res: http.ServerResponse): Promise<void> {
    try {
      const text = await this.registry.metrics();
      res.writeHead(200, ['content-type', this.registry.contentType, 'cache-control', 'no-store']);
      res.end(text);
    } catch (err) {
      this.log.error({ err }, 'metrics failed');
      sendProblem(res, 500, 'INTERNAL', 'metrics collection failed');
    }
  }
}

function factsOf(status: number, h: UpstreamHeaders) {
  const age = Number(headerValue(h, 'age'));
  return {
    status,
    cacheControl: Array.isArray(h['cache-control']) ? h['cache-control'].join(', ') : h['cache-control'],
    age: Number.isFinite(age) ? age : undefined,
    vary: headerValue(h, 'vary'),
    setCookie: h['set-cookie'] !== undefined,
  };
}

/** How long a stream's playback policy is trusted before it is looked up again. */
const POLICY_TTL_MS = 5000;

/** Cached answers of "what is this media's playback policy?", with one look-up in flight per id. */
class PolicyCache {
  private readonly known = new LRUCache<string, 'signed' | 'public' | 'gone'>({ max: 100_000, ttl: POLICY_TTL_MS });
  private readonly pending = new Map<string, Promise<void>>();

  constructor(private readonly policyOf: (mediaId: string) => Promise<'signed' | 'public' | 'gone'>) {}

  cached(mediaId: string): 'signed' | 'public' | 'gone' | undefined {
    return this.known.get(mediaId);
  }

  lookup(mediaId: string): Promise<void> {
    let p = this.pending.get(mediaId);
    if (!p) {
      p = this.policyOf(mediaId)
        .then((policy) => void this.known.set(mediaId, policy))
        .finally(() => this.pending.delete(mediaId));
      this.pending.set(mediaId, p);
    }
    return p;
  }
}
