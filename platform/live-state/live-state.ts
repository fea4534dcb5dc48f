import type { Unsubscribe } from '../bus/bus.js';

/** One entry of an append-only log. */
export interface LogEntry {
  /** The entry's sequence number, strictly increasing within its log. */
  seq: number;
  data: string;
}

/** How a log is kept, and who hears of an append. */
export interface AppendOptions {
  /** Keep at least this many of the newest entries; older ones may be trimmed. */
  maxLen: number;
  /** The whole log expires this long after its last append. */
  ttlMs: number;
  /** Published after the entry is stored, in the same round trip (storage first, then the announcement). */
  notify?: { channel: string; message: string };
}

/** The answer to a lease claim: whether the member holds a lease now, and every live holder (itself included when granted). */
export interface LeaseClaim {
  granted: boolean;
  holders: string[];
}

/**
 * Shared, short-lived state that several processes must agree on: which parts exist now,
 * blocking-reload wake-ups, rate-limit counters, and short append-only logs (the live catalog). In-process (default) or Redis.
 */
export interface LiveState {
  get(key: string): Promise<string | null>;
  /** ttlMs omitted = no expiry. */
  set(key: string, value: string, ttlMs?: number): Promise<void>;
  del(key: string): Promise<void>;
  /** Atomically adds 1 and returns the new value; the ttl is set when the counter is created. */
  incr(key: string, ttlMs: number): Promise<number>;
  /**
   * Appends data to the log under seq, which must be greater than every seq already in it (else it
   * rejects), trims the log to about the newest maxLen entries and resets its ttl.
   */
  append(log: string, seq: number, data: string, opts: AppendOptions): Promise<void>;
  /** Entries with a seq greater than afterSeq, oldest first (an empty list for a missing log). */
  readLog(log: string, afterSeq: number): Promise<LogEntry[]>;
  /**
   * Claims (or renews) a lease for member in a bounded set, atomically across processes: leases
   * expire ttlMs after their last claim; a member already holding one is renewed, a new one is
   * granted only while fewer than limit live leases exist. Concurrent-stream limits rest on it.
   */
  claimLease(set: string, member: string, opts: { limit: number; ttlMs: number }): Promise<LeaseClaim>;
  /** Ends member's lease (a missing one is fine). */
  releaseLease(set: string, member: string): Promise<void>;
  /** The members holding a live lease, oldest claim first. */
  leases(set: string): Promise<string[]>;
  /** Fire-and-forget notification to every process subscribed to channel. */
  notify(channel: string, message: string): Promise<void>;
  /** Receives notifications on channel until unsubscribed. */
  listen(channel: string, handler: (message: string) => void): Promise<Unsubscribe>;
  close(): Promise<void>;
}
