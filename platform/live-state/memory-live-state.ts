import { EventEmitter } from 'node:events';
import type { Unsubscribe } from '../bus/bus.js';
import type { Logger } from '../logger.js';
import type { AppendOptions, LeaseClaim, LiveState, LogEntry } from './live-state.js';

/** In-process LiveState for one-process mode and tests. */
export class MemoryLiveState implements LiveState {
  private readonly values = new Map<string, { value: string; expiresAt: number }>();
  private readonly logs = new Map<string, { entries: LogEntry[]; expiresAt: number }>();
  private readonly channels = new EventEmitter();
  /** Lease sets: member → expiry (ms since epoch), in claim order. */
  private readonly leaseSets = new Map<string, Map<string, number>>();
  private writes = 0;

  /** The logger (optional) hears about listeners that throw. */
  constructor(private readonly deps: { logger?: Logger } = {}) {
    this.channels.setMaxListeners(0);
  }

  private live(key: string) {
    const entry = this.values.get(key);
    if (entry && entry.expiresAt <= Date.now()) {
      this.values.delete(key);
      return undefined;
    }
    return entry;
  }

  /** Drops expired entries every 1000 writes, so keys nobody reads again (per-IP counters) do not pile up. */
  private sweep(): void {
    if (++this.writes % 1000 !== 0) return;
    const now = Date.now();
    for (const [key, entry] of this.values) if (entry.expiresAt <= now) this.values.delete(key);
  }

  async get(key: string): Promise<string | null> {
    return this.live(key)?.value ?? null;
  }

  async set(key: string, value: string, ttlMs?: number): Promise<void> {
    this.sweep();
    this.values.set(key, { value, expiresAt: ttlMs ? Date.now() + ttlMs : Infinity });
  }

  async del(key: string): Promise<void> {
    this.values.delete(key);
    this.logs.delete(key);
  }

  async incr(key: string, ttlMs: number): Promise<number> {
    this.sweep();
    const entry = this.live(key);
    const next = (entry ? Number(entry.value) : 0) + 1;
    this.values.set(key, { value: String(next), expiresAt: entry?.expiresAt ?? Date.now() + ttlMs });
    return next;
  }

  async append(log: string, seq: number, data: string, opts: AppendOptions): Promise<void> {
    let entry = this.logs.get(log);
    if (!entry || entry.expiresAt <= Date.now()) {
      entry = { entries: [], expiresAt: 0 };
      this.logs.set(log, entry);
    }
    const last = entry.entries.at(-1);
    if (last && seq <= last.seq) throw new RangeError(`log ${log}: seq ${seq} is not after ${last.seq}`);
    entry.entries.push({ seq, data });
    // Trim in batches (as Redis' MAXLEN ~ does), so an append stays O(1) amortised.
    if (entry.entries.length > opts.maxLen + Math.max(16, opts.maxLen >> 3)) entry.entries.splice(0, entry.entries.length - opts.maxLen);
    entry.expiresAt = Date.now() + opts.ttlMs;
    if (opts.notify) await this.notify(opts.notify.channel, opts.notify.message);
  }

  async readLog(log: string, afterSeq: number): Promise<LogEntry[]> {
    const entry = this.logs.get(log);
    if (!entry) return [];
    if (entry.expiresAt <= Date.now()) {
      this.logs.delete(log);
      return [];
    }
    const { entries } = entry;
    // Binary search for the first entry after afterSeq.
    let lo = 0;
    let hi = entries.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (entries[mid].seq <= afterSeq) lo = mid + 1;
      else hi = mid;
    }
    return entries.slice(lo);
  }

  /** The set's live leases, expired ones dropped. */
  private liveLeases(set: string): Map<string, number> {
    const leases = this.leaseSets.get(set) ?? new Map<string, number>();
    const now = Date.now();
    for (const [member, expiresAt] of leases) if (expiresAt <= now) leases.delete(member);
    if (leases.size === 0) this.leaseSets.delete(set);
    return leases;
  }

  async claimLease(set: string, member: string, opts: { limit: number; ttlMs: number }): Promise<LeaseClaim> {
    const leases = this.liveLeases(set);
    const granted = leases.has(member) || leases.size < opts.limit;
    if (granted) {
      // A renewal moves the member last, as a later claim (Redis scores it by expiry the same way).
      leases.delete(member);
      leases.set(member, Date.now() + opts.ttlMs);
      this.leaseSets.set(set, leases);
    }
    return { granted, holders: [...leases.keys()] };
  }

  async releaseLease(set: string, member: string): Promise<void> {
    this.leaseSets.get(set)?.delete(member);
  }

  async leases(set: string): Promise<string[]> {
    return [...this.liveLeases(set).keys()];
  }

  async notify(channel: string, message: string): Promise<void> {
    // Each listener on its own: one that throws neither fails notify() nor starves the others (as with Redis).
    for (const listener of this.channels.listeners(channel) as ((m: string) => void)[]) {
      try {
        listener(message);
      } catch (err) {
        this.deps.logger?.error({ err, channel }, 'live-state listener failed');
      }
    }
  }

  async listen(channel: string, handler: (message: string) => void): Promise<Unsubscribe> {
    this.channels.on(channel, handler);
    return async () => {
      this.channels.off(channel, handler);
    };
  }

  async close(): Promise<void> {
    this.channels.removeAllListeners();
    this.values.clear();
    this.logs.clear();
    this.leaseSets.clear();
  }
}
