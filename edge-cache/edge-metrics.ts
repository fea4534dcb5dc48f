import { Counter, Gauge, Histogram } from 'prom-client';
import type { Registry } from '../platform/index.js';
import type { CacheOutcome } from './contract.js';

/** Why the edge refused a token (bounded: the label of edge_token_refusals_total). */
export const REFUSAL_REASONS = ['missing', 'invalid', 'expired', 'wrong_media', 'rendition'] as const;

const OUTCOMES: readonly CacheOutcome[] = ['hit', 'miss', 'stale', 'coalesced', 'bypass'];
const OUTCOME_INDEX: Record<CacheOutcome, number> = { hit: 0, miss: 1, stale: 2, coalesced: 3, bypass: 4 };

/** Live values the gauges read at scrape time. */
export interface EdgeGaugeSources {
  cacheBytes(): number;
  origins(): { origin: string; up: boolean }[];
}

/**
 * The edge's Prometheus metrics, on an injected registry. The request path only bumps plain numbers
 * (prom-client hashes label objects on every inc, too slow per request at cache-hit rates); the
 * counters are filled from those numbers at scrape time by their collect() hooks.
 */
export class EdgeMetrics {
  /** Requests by (status * 8 + outcome index). */
  private readonly requestCounts = new Map<number, number>();
  private readonly totals = { bytesServed: 0, coalesced: 0, evictions: 0 };
  private readonly upstreamSeconds: Histogram<'origin' | 'status'>;
  private readonly refusals: Counter<'reason'>;

  constructor(registry: Registry, sources: EdgeGaugeSources) {
    const registers = [registry];
    const counts = this.requestCounts;
    new Counter({
      name: 'edge_requests_total',
      help: 'Media requests answered by the edge, by status and cache outcome',
      labelNames: ['status', 'cache'],
      registers,
      collect() {
        this.reset();
        for (const [k, n] of counts) this.inc({ status: String(k >> 3), cache: OUTCOMES[k & 7] }, n);
      },
    });
    new Gauge({
      name: 'edge_cache_hit_ratio',
      help: 'Share of media requests answered without an upstream fetch of their own (hit, stale, coalesced)',
      registers,
      collect() {
        let served = 0;
        let total = 0;
        for (const [k, n] of counts) {
          const o = OUTCOMES[k & 7];
          if (o === 'bypass') continue;
          total += n;
          if (o !== 'miss') served += n;
        }
        this.set(total === 0 ? 0 : served / total);
      },
    });
    const totals = this.totals;
    new Counter({
      name: 'edge_bytes_served_total',
      help: 'Body bytes sent to viewers',
      registers,
      collect() {
        this.reset();
        this.inc(totals.bytesServed);
      },
    });
    new Counter({
      name: 'edge_coalesced_waiters_total',
      help: 'Requests that joined an upstream fetch already under way instead of starting one',
      registers,
      collect() {
        this.reset();
        this.inc(totals.coalesced);
      },
    });
    new Counter({
      name: 'edge_cache_evictions_total',
      help: 'Entries pushed out of the memory tier by its byte bound',
      registers,
      collect() {
        this.reset();
        this.inc(totals.evictions);
      },
    });
    new Gauge({
      name: 'edge_cache_bytes',
      help: 'Bytes held by the memory tier (bodies plus per-entry overhead estimate)',
      registers,
      collect() {
        this.set(sources.cacheBytes());
      },
    });
    new Gauge({
      name: 'edge_origin_up',
      help: 'Whether each origin passed its last health check (1) or not (0)',
      labelNames: ['origin'],
      registers,
      collect() {
        for (const o of sources.origins()) this.set({ origin: o.origin }, o.up ? 1 : 0);
      },
    });
    this.refusals = new Counter({
      name: 'edge_token_refusals_total',
      help: 'Media requests refused for their playback token: missing, invalid, expired, wrong_media, rendition (above the plan\'s resolution cap)',
      labelNames: ['reason'],
      registers,
    });
    for (const reason of REFUSAL_REASONS) this.refusals.inc({ reason }, 0);
    this.upstreamSeconds = new Histogram({
      name: 'edge_upstream_request_duration_seconds',
      help: 'Upstream fetches from start to the end of the body (blocking reloads include the hold)',
      labelNames: ['origin', 'status'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 16],
      registers,
    });
  }

  /** Counts one answered media request. */
  request(status: number, outcome: CacheOutcome, bytes: number): void {
    const k = (status << 3) | OUTCOME_INDEX[outcome];
    this.requestCounts.set(k, (this.requestCounts.get(k) ?? 0) + 1);
    this.totals.bytesServed += bytes;
  }

  /** Counts a request that joined a flight. */
  /** A request refused for its token (refusals are rare: a labelled inc is fine here). */
  tokenRefused(reason: (typeof REFUSAL_REASONS)[number]): void {
    this.refusals.inc({ reason });
  }

  coalescedWaiter(): void {
    this.totals.coalesced++;
  }

  /** Counts an LRU eviction. */
  eviction(): void {
    this.totals.evictions++;
  }

  /** Records one upstream fetch. */
  upstream(origin: string, status: string, seconds: number): void {
    this.upstreamSeconds.observe({ origin, status }, seconds);
  }
}
