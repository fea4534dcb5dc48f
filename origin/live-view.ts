import { LRUCache } from 'lru-cache';
import type { Unsubscribe } from '../platform/index.js';
import type { CatalogChange, LiveCatalog, LoadedRendition, RenditionState, StreamState } from '../packager/index.js';
import { foldRenditionEvent } from '../packager/index.js';

interface Waiter {
  ready: (s: RenditionState) => boolean;
  resolve: (s: RenditionState | null) => void;
  timer: NodeJS.Timeout;
}

/** A rendition this origin follows: the fold of its log, and when it last knew it was current. */
interface Fold extends LoadedRendition {
  syncedAtMs: number;
  healing?: Promise<void>;
}

/** The origin holds as many requests as it may: answered 503 at once, with Retry-After. */
export class OriginBusyError extends Error {
  constructor(readonly held: number) {
    super(`the origin already holds ${held} blocking requests`);
  }
}

/** Stream state is re-read after this even without an announcement. */
const STREAM_TTL_MS = 2000;
/** A rendition not in the catalog is asked for again after this. */
const MISSING_TTL_MS = 500;
/** A followed rendition that heard nothing for this long reads its log tail on the next request (lost wake-ups heal). */
const SYNC_MS = 1000;
/** Fallback re-check for held requests, in case a pub/sub wake-up was lost (Redis pub/sub is at-most-once). */
const RECHECK_MS = 1000;

/**
 * The origin's read side of the live catalog. Each rendition a viewer asks for is loaded once (its facts
 * and its log) and then followed: every announcement carries its event, which is folded in place, so
 * in steady state the origin reads nothing. An announcement that skips ahead, or a quiet second, makes
 * it read the log from where it was. Also the waiting room for blocking playlist and preload-hint requests.
 */
export class LiveView {
  // Bounded: an origin serving for weeks sees many streams come and go.
  private readonly streams = new LRUCache<string, Promise<StreamState | null>>({ max: 10_000, ttl: STREAM_TTL_MS });
  private readonly folds = new LRUCache<string, Promise<Fold | null>>({ max: 4000, ttl: 10 * 60_000, updateAgeOnGet: true });
  private readonly waiters = new Map<string, Set<Waiter>>();
  private readonly rechecks = new Map<string, NodeJS.Timeout>();
  private unwatch?: Unsubscribe;

  /** Requests held now, over every rendition. */
  private held = 0;

  /** `maxHeld` bounds the requests held at once (waiters, their timers and sockets). */
  constructor(
    private readonly catalog: LiveCatalog,
    private readonly maxHeld = Infinity,
  ) {}

  async start(): Promise<void> {
    this.unwatch = await this.catalog.watch((change) => this.onChange(change));
  }

  /** Number of requests currently held. */
  get heldCount(): number {
    return this.held;
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

  /** The rendition's state now (a live object, folded in place: render from it before the next await). */
  async rendition(streamId: string, rendition: string): Promise<RenditionState | null> {
    const fold = await this.fold(`${streamId} ${rendition}`, streamId, rendition);
    if (!fold) return null;
    if (Date.now() - fold.syncedAtMs > SYNC_MS) void this.heal(`${streamId} ${rendition}`, fold);
    return fold.state;
  }

  private fold(key: string, streamId: string, rendition: string): Promise<Fold | null> {
    let p = this.folds.get(key);
    if (!p) {
      const loading: Promise<Fold | null> = this.catalog.loadRendition(streamId, rendition).then((r) => (r ? { ...r, syncedAtMs: Date.now() } : null));
      p = loading;
      this.folds.set(key, loading);
      loading.then(
        (f) => f || (this.folds.get(key, { allowStale: true }) === loading && this.folds.set(key, loading, { ttl: MISSING_TTL_MS })),
        () => this.folds.get(key, { allowStale: true }) === loading && this.folds.delete(key),
      );
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
    if (this.held >= this.maxHeld) throw new OriginBusyError(this.held);
    const key = `${streamId} ${rendition}`;
    this.held++;
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
          setInterval(() => void this.recheck(key, streamId, rendition), RECHECK_MS),
        );
      }
      set.add(waiter);
    });
  }

  private removeWaiter(key: string, w: Waiter): void {
    const set = this.waiters.get(key);
    if (!set?.delete(w)) return;
    this.held--;
    if (set.size === 0) {
      this.waiters.delete(key);
      clearInterval(this.rechecks.get(key));
      this.rechecks.delete(key);
    }
  }

  private onChange(change: CatalogChange): void {
    const { streamId, rendition } = change;
    if (rendition === '*') {
      this.streams.delete(streamId);
      for (const k of [...this.waiters.keys()]) if (k.startsWith(`${streamId} `)) void this.recheck(k, streamId, k.slice(streamId.length + 1));
      return;
    }
    const { epoch, event: ev } = change as Exclude<CatalogChange, { rendition: '*' }>;
    const key = `${streamId} ${rendition}`;
    const p = this.folds.peek(key);
    if (!p) {
      // Not followed here: load it only if someone is waiting for it.
      if (this.waiters.has(key)) void this.recheck(key, streamId, rendition);
      return;
    }
    void p.then((fold) => {
      if (this.folds.peek(key) !== p) return;
      if (!fold || fold.meta.epoch !== epoch || !ev) {
        // A new session (or a rendition that appeared): read it afresh.
        this.folds.delete(key);
        if (this.waiters.has(key)) void this.recheck(key, streamId, rendition);
        return;
      }
      if (ev.n <= fold.state.seq) return;
      if (ev.n === fold.state.seq + 1) {
        foldRenditionEvent(fold.state, ev);
        fold.syncedAtMs = Date.now();
        this.wake(key, fold.state);
      } else {
        // Announcements were missed: read the log from where this fold is.
        void this.heal(key, fold);
      }
    });
  }

  /** Reads the log after the fold's seq (one request at a time per rendition) and wakes waiters. */
  private heal(key: string, fold: Fold): Promise<void> {
    fold.healing ??= this.catalog
      .catchUp(fold.meta, fold.state)
      .then((applied) => {
        fold.syncedAtMs = Date.now();
        if (applied > 0) this.wake(key, fold.state);
      })
      .catch(() => undefined)
      .finally(() => (fold.healing = undefined));
    return fold.healing;
  }

  /** A held request's periodic check: catch up from the log (or load the rendition) and wake. */
  private async recheck(key: string, streamId: string, rendition: string): Promise<void> {
    const fold = await this.fold(key, streamId, rendition).catch(() => null);
    if (!fold) return;
    await this.heal(key, fold);
    this.wake(key, fold.state);
  }

  private wake(key: string, s: RenditionState): void {
    const set = this.waiters.get(key);
    if (!set) return;
    for (const w of [...set]) {
      // An ended stream releases every waiter: nothing more will come.
      if (s.ended || w.ready(s)) {
        clearTimeout(w.timer);
        this.removeWaiter(key, w);
        w.resolve(s);
      }
    }
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
    this.held = 0;
    this.rechecks.clear();
  }
}
