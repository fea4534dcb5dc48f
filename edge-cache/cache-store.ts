import { LRUCache } from 'lru-cache';
import { CacheEntry } from './cache-entry.js';
import type { DiskTier } from './disk-tier.js';

/** Bounds and hooks of the store. */
export interface CacheStoreOptions {
  maxBytes: number;
  /** Larger objects are not kept (they would push out most of the working set). */
  maxObjectBytes: number;
  /** Called once per entry pushed out by the byte bound (not for replacement or expiry). */
  onEvict?: () => void;
  /** Objects fresh for at least this long also go to the disk tier; default 60 s. */
  diskMinFreshMs?: number;
}

/**
 * The memory tier: an LRU bounded in bytes (lru-cache maxSize + sizeCalculation). Each entry lives
 * until it is no longer usable even as stale-if-error (lru-cache TTL), or until evicted. Freshness is
 * decided by the caller from `freshUntil`, so stale copies stay available for origin outages.
 */
export class CacheStore {
  private readonly lru: LRUCache<string, CacheEntry>;
  private readonly pendingDisk = new Map<string, Promise<CacheEntry | undefined>>();
  private readonly diskMinFreshMs: number;

  constructor(
    private readonly options: CacheStoreOptions,
    private readonly disk?: DiskTier,
  ) {
    this.diskMinFreshMs = options.diskMinFreshMs ?? 60_000;
    this.lru = new LRUCache<string, CacheEntry>({
      maxSize: options.maxBytes,
      maxEntrySize: Math.min(options.maxBytes, options.maxObjectBytes + 64 * 1024),
      sizeCalculation: (e) => e.size,
      dispose: (_e, _k, reason) => {
        if (reason === 'evict') options.onEvict?.();
      },
    });
  }

  /** Bytes charged to the memory bound now. */
  get bytes(): number {
    return this.lru.calculatedSize;
  }

  /** Entries in memory now. */
  get size(): number {
    return this.lru.size;
  }

  /** The memory entry (fresh or stale-but-usable), marking it recently used. */
  get(key: string): CacheEntry | undefined {
    return this.lru.get(key);
  }

  /** Whether an entry may be stored at all. */
  accepts(bodyBytes: number): boolean {
    return bodyBytes <= this.options.maxObjectBytes;
  }

  /** Stores an entry in memory (and, when long-lived, on disk). */
  set(entry: CacheEntry, now: number): void {
    const ttl = entry.usableUntil - now;
    if (ttl <= 0 || !this.accepts(entry.body.length)) return;
    this.lru.set(entry.key, entry, { ttl });
    if (this.disk && entry.freshUntil - now >= this.diskMinFreshMs) this.disk.write(entry);
  }

  /** Removes an entry from memory. */
  delete(key: string): void {
    this.lru.delete(key);
  }

  /** Whether a disk tier is configured (so a memory miss is worth an async look). */
  get hasDisk(): boolean {
    return this.disk !== undefined;
  }

  /**
   * Looks the key up on disk and promotes a hit into memory. Concurrent lookups of one key share one
   * read (the same coalescing rule as origin fetches).
   */
  fromDisk(key: string, now: number): Promise<CacheEntry | undefined> {
    const disk = this.disk;
    if (!disk) return Promise.resolve(undefined);
    let p = this.pendingDisk.get(key);
    if (!p) {
      p = disk
        .read(key, now)
        .then((init) => {
          if (!init) return undefined;
          const entry = new CacheEntry(init);
          const ttl = entry.usableUntil - Date.now();
          if (ttl > 0 && this.accepts(entry.body.length)) this.lru.set(key, entry, { ttl });
          return entry;
        })
        .finally(() => this.pendingDisk.delete(key));
      this.pendingDisk.set(key, p);
    }
    return p;
  }
}
