import { EventEmitter } from 'node:events';
import type { Unsubscribe } from '../bus/bus.js';
import type { Logger } from '../logger.js';
import type { LiveState } from './live-state.js';

/** In-process LiveState for one-process mode and tests. */
export class MemoryLiveState implements LiveState {
  private readonly values = new Map<string, { value: string; expiresAt: number }>();
  private readonly channels = new EventEmitter();
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
  }

  async incr(key: string, ttlMs: number): Promise<number> {
    this.sweep();
    const entry = this.live(key);
    const next = (entry ? Number(entry.value) : 0) + 1;
    this.values.set(key, { value: String(next), expiresAt: entry?.expiresAt ?? Date.now() + ttlMs });
    return next;
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
  }
}
