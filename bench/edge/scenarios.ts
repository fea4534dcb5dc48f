/**
 * The benchmark's scenarios against one cache at a time (edge or nginx, same client code for both):
 * a wrk hit run, a burst of concurrent cold requests, and a burst of blocked playlist requests released
 * at once by the origin.
 */
import { BENCH_PATHS, countRequests } from './bench-origin.js';
import { openConnections, RawConnection, type RawResponse } from './raw-http.js';
import { cpuSeconds, summarize, type LatencySummary } from './stats.js';
import { runWrk, type WrkOptions, type WrkResult } from './wrk.js';

/** A cache under test. */
export interface Target {
  name: 'edge' | 'nginx';
  port: number;
  /** Header that says HIT on a cache hit. */
  cacheHeader: 'x-cache' | 'x-cache-status';
  /** Processes whose CPU time counts as the server's. */
  pids(): number[];
}

/** Origin helpers (stats and release), over one connection of their own. */
export class OriginControl {
  private readonly conn: RawConnection;

  constructor(port: number) {
    this.conn = new RawConnection('127.0.0.1', port);
  }

  /** Connects the control connection. */
  connect(): Promise<void> {
    return this.conn.connect();
  }

  /** Upstream request counts by URL. */
  async stats(): Promise<{ requests: Record<string, number> }> {
    const r = await this.conn.get('/stats', true);
    return JSON.parse(r.body!.toString('utf8')) as { requests: Record<string, number> };
  }

  /** Releases the held playlist `msn`; returns how many requests were held and the release time. */
  async release(msn: number): Promise<{ released: number; at: number }> {
    const r = await this.conn.get(`/control/release?msn=${msn}`, true);
    return JSON.parse(r.body!.toString('utf8')) as { released: number; at: number };
  }

  /** Closes the control connection. */
  close(): void {
    this.conn.close();
  }
}

/** wrk against `path` after checking the object is served and cached; CPU of the server measured too. */
export interface HitRun extends WrkResult {
  /** Server CPU time during the measured run / its duration (1.0 = one core). */
  serverCores: number;
}

/** Fails unless `path` comes back 200 with `bytes` bytes and, asked again, as a cache hit. */
export async function checkCached(t: Target, path: string, bytes: number): Promise<void> {
  const c = new RawConnection('127.0.0.1', t.port);
  await c.connect();
  try {
    let r: RawResponse | undefined;
    for (let i = 0; i < 2; i++) r = await c.get(path);
    if (r!.status !== 200 || r!.bytes !== bytes) throw new Error(`${t.name} ${path}: status ${r!.status}, ${r!.bytes} bytes (want 200, ${bytes})`);
    if (r!.headers[t.cacheHeader] !== 'HIT') throw new Error(`${t.name} ${path}: second request was ${t.cacheHeader}=${r!.headers[t.cacheHeader]}, not a hit`);
  } finally {
    c.close();
  }
}

/** A warm-up run then a measured wrk run of cache hits on `path`. */
export async function hitRun(t: Target, path: string, wrk: Omit<WrkOptions, 'url' | 'seconds'>, warmSeconds: number, seconds: number): Promise<HitRun> {
  const url = `http://127.0.0.1:${t.port}${path}`;
  if (warmSeconds > 0) await runWrk({ ...wrk, url, seconds: warmSeconds });
  const cpu0 = cpuSeconds(t.pids());
  const r = await runWrk({ ...wrk, url, seconds });
  const cpu = cpuSeconds(t.pids()) - cpu0;
  return { ...r, serverCores: cpu / r.seconds };
}

/** What a burst of concurrent requests for one uncached key did. */
export interface BurstResult {
  requests: number;
  ok: number;
  errors: number;
  /** Requests that reached the origin for the key. */
  upstreamFetches: number;
  /** Request written → last byte, ms. */
  latencyMs: LatencySummary;
}

/**
 * Opens `n` connections (warmed with a cached request so every one is accepted and idle), then
 * writes one request for the same cold key on each in one go.
 */
export async function coldBurst(t: Target, origin: OriginControl, n: number, path: string, bytes: number): Promise<BurstResult> {
  const conns = await warmConnections(t, n);
  try {
    const responses = await Promise.allSettled(conns.map((c) => c.get(path)));
    const ok = responses.filter((r) => r.status === 'fulfilled' && r.value.status === 200 && r.value.bytes === bytes) as PromiseFulfilledResult<RawResponse>[];
    return {
      requests: n,
      ok: ok.length,
      errors: n - ok.length,
      upstreamFetches: countRequests(await origin.stats(), path),
      latencyMs: summarize(ok.map((r) => r.value.doneAt - r.value.sentAt)),
    };
  } finally {
    for (const c of conns) c.close();
  }
}

/** What releasing a held playlist to many waiters did. */
export interface ReleaseResult extends BurstResult {
  /** Requests the origin was holding when released (upstream requests for the key). */
  heldAtOrigin: number;
  /** Origin release → each waiter's last byte, ms (p50/p99/max = the last waiter). */
  afterReleaseMs: LatencySummary;
}

/**
 * `n` concurrent blocking-reload requests for a playlist the origin holds; after `holdMs` (every
 * request has reached the cache) the origin releases it and stamps the time; measured to each last byte.
 */
export async function blockedBurst(t: Target, origin: OriginControl, n: number, msn: number, holdMs: number): Promise<ReleaseResult> {
  const conns = await warmConnections(t, n);
  try {
    const path = BENCH_PATHS.blocked(msn);
    const pending = Promise.allSettled(conns.map((c) => c.get(path)));
    await new Promise((r) => setTimeout(r, holdMs));
    const { released, at } = await origin.release(msn);
    const responses = await pending;
    const ok = responses.filter((r) => r.status === 'fulfilled' && r.value.status === 200) as PromiseFulfilledResult<RawResponse>[];
    return {
      requests: n,
      ok: ok.length,
      errors: n - ok.length,
      upstreamFetches: countRequests(await origin.stats(), path),
      heldAtOrigin: released,
      latencyMs: summarize(ok.map((r) => r.value.doneAt - r.value.sentAt)),
      afterReleaseMs: summarize(ok.map((r) => r.value.doneAt - at)),
    };
  } finally {
    for (const c of conns) c.close();
  }
}

/** `n` open connections, each having served one cached playlist (so the server accepted them all). */
async function warmConnections(t: Target, n: number): Promise<RawConnection[]> {
  const conns = await openConnections('127.0.0.1', t.port, n);
  for (let i = 0; i < conns.length; i += 200) {
    await Promise.all(conns.slice(i, i + 200).map((c) => c.get(BENCH_PATHS.playlist)));
  }
  return conns;
}
