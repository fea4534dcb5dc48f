import type { LiveState } from '../../platform/index.js';
import { RateLimitedError } from '../http/http-errors.js';

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

/**
 * Login throttling without lock-out (OWASP ASVS 5.0 §6.3): only failures count, per (account, client
 * IP) and per client IP. A pair past `freeFailures` waits a delay that doubles with every further
 * failure (up to the window); an IP past `ipFailures` failures on any accounts waits out the window.
 * The real user, from an address that has not failed, always gets in. Refused attempts write nothing,
 * so a flood of them cannot grow the limiter's keys.
 */
export class LoginThrottle {
  constructor(
    private readonly deps: { liveState: LiveState; now?: () => number },
    private readonly config: { prefix: string; freeFailures: number; ipFailures: number; windowSeconds: number },
  ) {}

  private keys(account: string, ip: string) {
    const p = this.config.prefix;
    return { pair: `${p}:pair:${account}:${ip}`, last: `${p}:last:${account}:${ip}`, ip: `${p}:ip:${ip}` };
  }

  /** Throws 429 with the seconds to wait when this account and address may not try now. */
  async check(account: string, ip: string): Promise<void> {
    const k = this.keys(account, ip);
    const now = this.deps.now?.() ?? Date.now();
    const [pair, last, ipCount] = await Promise.all([k.pair, k.last, k.ip].map((key) => this.deps.liveState.get(key)));
    if (Number(ipCount ?? 0) >= this.config.ipFailures) {
      throw new RateLimitedError(`too many failed logins from this address; try again in ${this.config.windowSeconds} s`, this.config.windowSeconds);
    }
    const failures = Number(pair ?? 0);
    if (failures < this.config.freeFailures) return;
    const delayMs = Math.min(2 ** (failures - this.config.freeFailures) * 1000, this.config.windowSeconds * 1000);
    const waitMs = Number(last ?? 0) + delayMs - now;
    if (waitMs > 0) {
      const retryAfter = Math.ceil(waitMs / 1000);
      throw new RateLimitedError(`too many failed logins; try again in ${retryAfter} s`, retryAfter);
    }
  }

  /** Records a failed attempt. */
  async failed(account: string, ip: string): Promise<void> {
    const k = this.keys(account, ip);
    const ttlMs = this.config.windowSeconds * 1000;
    const now = this.deps.now?.() ?? Date.now();
    await Promise.all([this.deps.liveState.incr(k.pair, ttlMs), this.deps.liveState.incr(k.ip, ttlMs), this.deps.liveState.set(k.last, String(now), ttlMs)]);
  }

  /** A correct password: this pair starts afresh (the address's count stays). */
  async succeeded(account: string, ip: string): Promise<void> {
    const k = this.keys(account, ip);
    await Promise.all([this.deps.liveState.del(k.pair), this.deps.liveState.del(k.last)]);
  }
}
