import type { StoragePolicy } from './cache-control.js';
import { CORS_HEADERS, headerValue, relayedHeaders, type CacheEntry, type HeaderList, type UpstreamHeaders } from './cache-entry.js';
import type { UpstreamResponse } from './origin-pool.js';

/** Receives one upstream response as it streams in. Calls are synchronous and in order. */
export interface FlightListener {
  /** The origin answered; `flight.head` is set. */
  onHead(flight: Flight): void;
  /** A body chunk arrived (late joiners first get every chunk buffered so far). */
  onData(chunk: Buffer): void;
  /** The body is complete; `flight.entry` is set when the body was buffered. */
  onEnd(flight: Flight): void;
  /** The fetch failed, before the head (`flight.head` undefined) or mid-body. */
  onError(err: Error, flight: Flight): void;
}

/** The response head shared by every waiter of a flight. */
export interface FlightHead {
  status: number;
  upstream: UpstreamHeaders;
  policy: StoragePolicy;
  /** Pre-serialised head written as-is to every waiter. */
  list: HeaderList;
}

/** One upstream fetch and everyone waiting for it. */
export class Flight {
  head?: FlightHead;
  origin = 'none';
  /** Body chunks received so far, kept while the object is small enough to cache. */
  readonly chunks: Buffer[] = [];
  bytes = 0;
  buffered = true;
  done = false;
  /** The completed response as a cache entry (stored or not), when buffered and wanted. */
  entry?: CacheEntry;
  readonly listeners: FlightListener[] = [];
  readonly abort = new AbortController();
  readonly startedAt = performance.now();

  constructor(readonly key: string) {}
}

/** What the coalescer needs from its owner. */
export interface CoalescerHooks {
  fetch(path: string, signal: AbortSignal): Promise<UpstreamResponse>;
  /** Storage policy for this key's response (cacheability and freshness). */
  policy(key: string, status: number, headers: UpstreamHeaders): StoragePolicy;
  /** The body is complete and buffered: build (and maybe store) the entry, before waiters are released. */
  complete(flight: Flight, body: Buffer): CacheEntry | undefined;
  /** Upstream timing, per origin and status ('error' when it failed). */
  observe(origin: string, status: string, seconds: number): void;
  maxObjectBytes: number;
}

/**
 * Request coalescing (collapsed forwarding): concurrent misses for one key share one upstream fetch.
 * Chunks are fanned out to every waiter as they arrive and buffered for late joiners, who get the
 * buffered bytes and then the live tail: nobody waits for the whole object, nobody polls. This covers
 * blocking-reload playlists (the key includes the delivery directives) and parts still being produced.
 */
export class Coalescer {
  private readonly inflight = new Map<string, Flight>();

  constructor(private readonly hooks: CoalescerHooks) {}

  /** Flights under way now. */
  get size(): number {
    return this.inflight.size;
  }

  /** Joins the flight for `key`, starting it if there is none (check `get(key)` first to tell which). */
  join(key: string, listener: FlightListener): Flight {
    const existing = this.inflight.get(key);
    if (existing) {
      existing.listeners.push(listener);
      if (existing.head) {
        listener.onHead(existing);
        for (const c of existing.chunks) listener.onData(c);
      }
      return existing;
    }
    const flight = new Flight(key);
    flight.listeners.push(listener);
    this.inflight.set(key, flight);
    void this.run(flight);
    return flight;
  }

  /** Stops delivering to a listener (its client went away); the fetch goes on to fill the cache. */
  leave(flight: Flight | undefined, listener: FlightListener): void {
    if (!flight) return;
    const i = flight.listeners.indexOf(listener);
    if (i >= 0) flight.listeners.splice(i, 1);
  }

  /** The flight a key is being fetched by, if any. */
  get(key: string): Flight | undefined {
    return this.inflight.get(key);
  }

  /** Aborts every flight (shutdown). */
  close(): void {
    for (const f of this.inflight.values()) f.abort.abort();
    this.inflight.clear();
  }

  private async run(flight: Flight): Promise<void> {
    let upstream: UpstreamResponse;
    try {
      upstream = await this.hooks.fetch(flight.key, flight.abort.signal);
    } catch (err) {
      this.fail(flight, err as Error);
      return;
    }
    flight.origin = upstream.origin;
    const policy = this.hooks.policy(flight.key, upstream.status, upstream.headers);
    flight.head = { status: upstream.status, upstream: upstream.headers, policy, list: flightHead(upstream.headers) };
    for (const l of flight.listeners.slice()) l.onHead(flight);
    // Per chunk, the live array (no copy): listeners leave only from 'close' events, never inside a call.
    const ls = flight.listeners;
    const body = upstream.body;
    body.on('data', (chunk: Buffer) => {
      if (flight.buffered) {
        flight.chunks.push(chunk);
        flight.bytes += chunk.length;
        if (flight.bytes > this.hooks.maxObjectBytes) {
          // Too big to cache: stream it through, and let new requests start their own fetch.
          flight.buffered = false;
          flight.chunks.length = 0;
          this.forget(flight);
        }
      }
      for (let i = 0; i < ls.length; i++) ls[i].onData(chunk);
    });
    body.on('error', (err: Error) => this.fail(flight, err));
    body.on('end', () => {
      if (flight.done) return;
      flight.done = true;
      this.hooks.observe(flight.origin, String(upstream.status), (performance.now() - flight.startedAt) / 1000);
      if (flight.buffered) {
        const whole = flight.chunks.length === 1 ? flight.chunks[0] : Buffer.concat(flight.chunks, flight.bytes);
        flight.entry = this.hooks.complete(flight, whole);
      }
      // The entry is in the cache before the flight leaves the map: a new request finds one or the other.
      this.forget(flight);
      for (const l of ls.slice()) l.onEnd(flight);
    });
  }

  private fail(flight: Flight, err: Error): void {
    if (flight.done) return;
    flight.done = true;
    this.forget(flight);
    this.hooks.observe(flight.origin, 'error', (performance.now() - flight.startedAt) / 1000);
    const ls = flight.listeners.slice();
    for (const l of ls) l.onError(err, flight);
  }

  private forget(flight: Flight): void {
    if (this.inflight.get(flight.key) === flight) this.inflight.delete(flight.key);
  }
}

/**
 * The head streamed to waiters: relayed origin headers, the origin's length and strong validator when
 * it sent them (ours is only known once the body is complete), CORS, and X-Cache.
 */
function flightHead(h: UpstreamHeaders): HeaderList {
  const list = relayedHeaders(h);
  const len = headerValue(h, 'content-length');
  if (len !== undefined) list.push('content-length', len);
  const etag = headerValue(h, 'etag');
  if (etag !== undefined) list.push('etag', etag);
  list.push(...CORS_HEADERS, 'x-cache', 'MISS');
  return list;
}
