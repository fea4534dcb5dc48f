import type { Readable } from 'node:stream';
import { Pool } from 'undici';
import type { Logger } from '../platform/index.js';
import type { UpstreamHeaders } from './cache-entry.js';

/** An origin response whose body has not been read yet. */
export interface UpstreamResponse {
  status: number;
  headers: UpstreamHeaders;
  body: Readable;
  /** The origin URL that answered. */
  origin: string;
}

/**
 * Every origin failed: carries the HTTP status the edge answers with (502, or 504 on timeouts). The
 * message names the origins and their errors, for logs; `publicDetail` is what a viewer is told, with
 * no internal address in it.
 */
export class UpstreamError extends Error {
  constructor(
    readonly status: 502 | 504,
    readonly code: 'ORIGIN_UNAVAILABLE' | 'ORIGIN_TIMEOUT' | 'ORIGIN_ERROR',
    message: string,
    readonly publicDetail: string,
  ) {
    super(message);
  }
}

/** Timeouts and health-check period of the pool. */
export interface OriginPoolOptions {
  urls: string[];
  connectTimeoutMs: number;
  upstreamTimeoutMs: number;
  healthIntervalMs: number;
}

interface Origin {
  url: string;
  pool: Pool;
  /** Health checks get their own connection, never queued behind held blocking requests. */
  healthPool: Pool;
  healthy: boolean;
}

const TIMEOUT_CODES = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);
/** Errors that say the origin process is not there (as opposed to one bad request). */
const DOWN_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_SOCKET']);

/**
 * The origins behind this edge, tried in configured order. Health comes from a periodic GET /healthz
 * on each (active) and from connection failures on real requests (passive: an origin is marked down at
 * once, and only a passing health check brings it back). A request goes to the healthy origins in
 * order and fails over to the next on a connect error, timeout or 5xx; when none is healthy it still
 * tries them all, so recovery is seen before the next health check.
 */
export class OriginPool {
  private readonly origins: Origin[];
  private readonly log: Logger;
  private timer?: NodeJS.Timeout;
  private checking?: Promise<void>;

  constructor(
    deps: { logger: Logger },
    private readonly options: OriginPoolOptions,
  ) {
    this.log = deps.logger.child({ part: 'origin-pool' });
    this.origins = options.urls.map((url) => ({
      url,
      healthy: true,
      pool: new Pool(url, {
        connect: { timeout: options.connectTimeoutMs },
        headersTimeout: options.upstreamTimeoutMs,
        bodyTimeout: options.upstreamTimeoutMs,
        keepAliveTimeout: 30_000,
        // Blocking-reload requests hold a connection each while they wait; leave plenty.
        connections: 512,
      }),
      healthPool: new Pool(url, { connect: { timeout: options.connectTimeoutMs }, connections: 1, keepAliveTimeout: 30_000 }),
    }));
  }

  /** Runs a first health round, then one every healthIntervalMs. */
  async start(): Promise<void> {
    await this.checkAll();
    this.timer = setInterval(() => void this.checkAll(), this.options.healthIntervalMs);
    this.timer.unref();
  }

  /** Stops checks and closes upstream connections (requests under way are aborted). */
  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.checking;
    await Promise.allSettled(this.origins.flatMap((o) => [o.pool.destroy(), o.healthPool.destroy()]));
  }

  /** Whether at least one origin passed its last check and has not failed since. */
  anyHealthy(): boolean {
    for (const o of this.origins) if (o.healthy) return true;
    return false;
  }

  /** Each origin and whether it is up (for edge_origin_up). */
  states(): { origin: string; up: boolean }[] {
    return this.origins.map((o) => ({ origin: o.url, up: o.healthy }));
  }

  /** GET `path` from the first origin that answers with a non-5xx status. */
  async fetch(path: string, signal: AbortSignal): Promise<UpstreamResponse> {
    const healthy = this.origins.filter((o) => o.healthy);
    const order = healthy.length > 0 ? healthy : this.origins;
    let timedOut = false;
    let unreachable = false;
    let last = 'no origin configured';
    for (const o of order) {
      try {
        const r = await o.pool.request({ path, method: 'GET', signal });
        // 503 + Retry-After is the origin's own answer (a blocking request that timed out, RFC 8216bis
        // §6.2.5.2): another origin would only hold the player as long again, so it is relayed.
        if (r.statusCode < 500 || (r.statusCode === 503 && r.headers['retry-after'] !== undefined)) {
          return { status: r.statusCode, headers: r.headers, body: r.body, origin: o.url };
        }
        last = `${o.url} answered ${r.statusCode}`;
        r.body.dump().catch(() => {});
      } catch (err) {
        if (signal.aborted) throw err;
        const code = (err as { code?: string }).code ?? '';
        if (TIMEOUT_CODES.has(code)) timedOut = true;
        if (DOWN_CODES.has(code)) this.markDown(o, code);
        unreachable = true;
        last = `${o.url}: ${code || (err as Error).message}`;
      }
    }
    if (timedOut) throw new UpstreamError(504, 'ORIGIN_TIMEOUT', `no origin answered in time (${last})`, 'no origin answered in time');
    throw new UpstreamError(502, unreachable ? 'ORIGIN_UNAVAILABLE' : 'ORIGIN_ERROR', `no origin could serve the request (${last})`, 'no origin could serve the request');
  }

  private markDown(o: Origin, reason: string): void {
    if (!o.healthy) return;
    o.healthy = false;
    this.log.warn({ origin: o.url, reason }, 'origin marked down');
  }

  private checkAll(): Promise<void> {
    this.checking ??= Promise.all(this.origins.map((o) => this.check(o))).then(() => {
      this.checking = undefined;
    });
    return this.checking;
  }

  private async check(o: Origin): Promise<void> {
    let up: boolean;
    try {
      const timeout = Math.min(this.options.healthIntervalMs, this.options.connectTimeoutMs);
      const r = await o.healthPool.request({
        path: '/healthz',
        method: 'GET',
        headersTimeout: timeout,
        bodyTimeout: timeout,
        signal: AbortSignal.timeout(timeout + this.options.connectTimeoutMs),
      });
      await r.body.dump();
      up = r.statusCode >= 200 && r.statusCode < 300;
    } catch {
      up = false;
    }
    if (up !== o.healthy) {
      if (up) this.log.info({ origin: o.url }, 'origin up');
      else this.log.warn({ origin: o.url }, 'origin failed its health check');
    }
    o.healthy = up;
  }
}
