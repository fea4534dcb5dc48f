import { EventEmitter } from 'node:events';
import type { Unsubscribe } from '../bus/bus.js';
import type { LiveState } from './live-state.js';

/** In-process LiveState for one-process mode and tests. */
export class MemoryLiveState implements LiveState {
  private readonly values = new Map<string, { value: string; expiresAt: number }>();
  private readonly channels = new EventEmitter();

  constructor() {
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

  async get(key: string): Promise<string | null> {
    return this.live(key)?.value ?? null;
  }

  async set(key: string, value: string, ttlMs?: number): Promise<void> {
    this.values.set(key, { value, expiresAt: ttlMs ? Date.now() + ttlMs : Infinity });
  }

  async del(key: string): Promise<void> {
    this.values.delete(key);
  }

  async incr(key: string, ttlMs: number): Promise<number> {
    const entry = this.live(key);
    const next = (entry ? Number(entry.value) : 0) + 1;
    this.values.set(key, { value: String(next), expiresAt: entry?.expiresAt ?? Date.now() + ttlMs });
    return next;
  }

  async notify(channel: string, message: string): Promise<void> {
    this.channels.emit(channel, message);
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
