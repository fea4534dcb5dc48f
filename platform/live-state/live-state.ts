import type { Unsubscribe } from '../bus/bus.js';

/**
 * Shared, short-lived state that several processes must agree on: which parts exist now,
 * blocking-reload wake-ups, rate-limit counters. In-process (default) or Redis.
 */
export interface LiveState {
  get(key: string): Promise<string | null>;
  /** ttlMs omitted = no expiry. */
  set(key: string, value: string, ttlMs?: number): Promise<void>;
  del(key: string): Promise<void>;
  /** Atomically adds 1 and returns the new value; the ttl is set when the counter is created. */
  incr(key: string, ttlMs: number): Promise<number>;
  /** Fire-and-forget notification to every process subscribed to channel. */
  notify(channel: string, message: string): Promise<void>;
  /** Receives notifications on channel until unsubscribed. */
  listen(channel: string, handler: (message: string) => void): Promise<Unsubscribe>;
  close(): Promise<void>;
}
