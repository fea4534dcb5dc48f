import { LRUCache } from 'lru-cache';
import type { Unsubscribe } from '../platform/index.js';
import type { LiveCatalog, RenditionState, StreamState } from '../packager/index.js';

interface Waiter {
  ready: (s: RenditionState) => boolean;
  resolve: (s: RenditionState | null) => void;
  timer: NodeJS.Timeout;
}

/** Cached state is re-read after this even without a wake-up (a lost pub/sub message heals itself). */
const CACHE_TTL_MS = 2000;

/** Fallback re-check for held requests, in case a pub/sub wake-up was lost (Redis pub/sub is at-most-once). */
const RECHECK_MS = 1000;

/**
 * The origin's read side of the live catalog: cached stream/rendition state, invalidated by the
 * catalog's change announcements, and the waiting room for blocking playlist and preload-hint requests.
 */
export class LiveView {
  // Bounded: an origin serving for weeks sees many streams come and go.
  private readonly streams = new LRUCache<string, Promise<StreamState | null>>({ max: 10_000, ttl: CACHE_TTL_MS });
  private readonly renditions = new LRUCache<string, Promise<RenditionState | null>>({ max: 50_000, ttl: CACHE_TTL_MS });
  private readonly waiters = new Map<string, Set<Waiter>>();
  private readonly rechecks = new Map<string, NodeJS.Timeout>();
  private unwatch?: Unsubscribe;

  constructor(private readonly catalog: LiveCatalog) {}

  async start(): Promise<void> {
    this.unwatch = await this.catalog.watch((streamId, rendition) => this.onChanged(streamId, rendition));
  }

  /** Number of requests currently held. */
  get heldCount(): number {
    let n = 0;
    for (const set of this.waiters.values()) n += set.size;
    return n;
  }

  stream(streamId: string): Promise<StreamState | null> {
    let p = this.streams.get(streamId);
    if (!p) {
      p = this.catalog.getStream(streamId);
      this.streams.set(streamId, p);
      p.catch(() => this.streams.delete(streamId));
    }
    return p;
  }

  rendition(streamId: string, rendition: string): Promise<RenditionState | null> {
    const key = `${streamId} ${rendition}`;
    let p = this.renditions.get(key);
    if (!p) {
      p = this.catalog.getRendition(streamId, rendition);
      this.renditions.set(key, p);
      p.catch(() => this.renditions.delete(key));
    }
    return p;
  }

  /**
   * Resolves with the rendition state once ready(state) holds, or null after timeoutMs.
   * Resolves immediately when it already holds.
   */
  async waitFor(
    streamId: string,
    rendition: string,
    ready: (s: RenditionState) => boolean,
    timeoutMs: number,
  ): Promise<RenditionState | null> {
    const now = await this.rendition(streamId, rendition);
    if (now && ready(now)) return now;
    const key = `${streamId} ${rendition}`;
    return new Promise((resolve) => {
      const waiter: Waiter = {
        ready,
        resolve,
        timer: setTimeout(() => {
          this.removeWaiter(key, waiter);
          resolve(null);
        }, timeoutMs),
      };
      let set = this.waiters.get(key);
      if (!set) {
        set = new Set();
        this.waiters.set(key, set);
        this.rechecks.set(
          key,
          setInterval(() => this.onChanged(streamId, rendition), RECHECK_MS),
        );
      }
      set.add(waiter);
    });
  }

  private removeWaiter(key: string, w: Waiter): void {
    const set = this.waiters.get(key);
    if (!set) return;
    set.delete(w);
    if (set.size === 0) {
      this.waiters.delete(key);
      clearInterval(this.rechecks.get(key));
      this.rechecks.delete(key);
    }
  }

  private onChanged(streamId: string, rendition: string): void {
    if (rendition === '*') {
      this.streams.delete(streamId);
      for (const k of [...this.renditions.keys()]) if (k.startsWith(`${streamId} `)) this.renditions.delete(k);
      for (const k of [...this.waiters.keys()]) if (k.startsWith(`${streamId} `)) this.wake(k, streamId, k.slice(streamId.length + 1));
      return;
    }
    const key = `${streamId} ${rendition}`;
    this.renditions.delete(key);
    this.wake(key, streamId, rendition);
  }

  private wake(key: string, streamId: string, rendition: string): void {
    if (!this.waiters.has(key)) return;
    void this.rendition(streamId, rendition).then((s) => {
      const set = this.waiters.get(key);
      if (!s || !set) return;
      for (const w of [...set]) {
        // An ended stream releases every waiter: nothing more will come.
        if (s.ended || w.ready(s)) {
          clearTimeout(w.timer);
          this.removeWaiter(key, w);
          w.resolve(s);
        }
      }
    });
  }

  async close(): Promise<void> {
    await this.unwatch?.();
    for (const [key, set] of this.waiters) {
      for (const w of set) {
        clearTimeout(w.timer);
        w.resolve(null);
      }
      clearInterval(this.rechecks.get(key));
    }
    this.waiters.clear();
    this.rechecks.clear();
  }
}
