import type { LiveState } from '../platform/index.js';
import { RateLimitedError } from './http-errors.js';

/**
 * Fixed-window counters in LiveState (shared by every control-api process through Redis). The window
 * index is part of the key, so the counter needs no reset and Retry-After is exact: the seconds left
 * until the window rolls over.
 */
export class FixedWindowLimiter {
  constructor(
    private readonly deps: { liveState: LiveState; now?: () => number },
    private readonly config: { prefix: string; max: number; windowSeconds: number },
  ) {}

  /** Counts one attempt for each key and throws 429 when any of them is over the limit. */
  async hit(keys: readonly string[], what: string): Promise<void> {
    const now = this.deps.now?.() ?? Date.now();
    const windowMs = this.config.windowSeconds * 1000;
    const window = Math.floor(now / windowMs);
    // Every key is counted even when an earlier one is over: an attacker rotating IPs still burns the
    // per-account budget, and one rotating accounts still burns the per-IP budget.
    const counts = await Promise.all(
      keys.map((k) => this.deps.liveState.incr(`${this.config.prefix}:${k}:${window}`, windowMs + 1000)),
    );
    if (counts.some((c) => c > this.config.max)) {
      const retryAfter = Math.max(1, Math.ceil(((window + 1) * windowMs - now) / 1000));
      throw new RateLimitedError(`too many ${what} attempts; try again in ${retryAfter} s`, retryAfter);
    }
  }
}
