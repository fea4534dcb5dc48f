import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { uniqueName } from '../test-support/env.js';
import type { LiveState } from './live-state.js';

/**
 * Two views of one shared state, as two processes would have: for Redis two instances on one
 * server; for the in-process adapter the same instance twice (one process is all it serves).
 */
export interface LiveStateSubject {
  a: LiveState;
  b: LiveState;
  cleanup?: () => Promise<void>;
}

/** Collects notifications and waits for them. */
function listener() {
  const got: string[] = [];
  return {
    got,
    handler: (m: string) => void got.push(m),
    async waitFor(n: number, timeoutMs = 5000) {
      const deadline = Date.now() + timeoutMs;
      while (got.length < n) {
        if (Date.now() > deadline) throw new Error(`expected ${n} notifications, got ${JSON.stringify(got)}`);
        await sleep(5);
      }
    },
  };
}

/**
 * The LiveState port's contract, run against every adapter (memory, Redis): values shared between
 * processes, ttl expiry, atomic counters with a fixed window, and notifications across processes.
 */
export function liveStateContract(name: string, open: () => Promise<LiveStateSubject>): void {
  describe(`LiveState contract: ${name}`, () => {
    let subject: LiveStateSubject;
    let a: LiveState;
    let b: LiveState;
    const key = (k: string) => uniqueName(`${k}-`);

    beforeAll(async () => {
      subject = await open();
      ({ a, b } = subject);
    });

    afterAll(async () => {
      await a?.close();
      if (b !== a) await b?.close();
      await subject?.cleanup?.();
    });

    it('stores, overwrites and deletes values visible to every process', async () => {
      const k = key('v');
      expect(await b.get(k)).toBeNull();
      await a.set(k, 'one');
      expect(await b.get(k)).toBe('one');
      await b.set(k, 'two ✓');
      expect(await a.get(k)).toBe('two ✓');
      await a.del(k);
      expect(await b.get(k)).toBeNull();
      await a.del(k); // deleting a missing key is fine
    });

    it('expires values after their ttl; a later set without ttl keeps the value', async () => {
      const short = key('ttl');
      const kept = key('kept');
      // Generous margins: CI machines stall; only "gone after the ttl" is timing-critical, and stalls help it.
      await a.set(short, 'x', 500);
      await a.set(kept, 'y', 500);
      await a.set(kept, 'z'); // no ttl: clears the earlier one
      expect(await b.get(short)).toBe('x');
      await sleep(800);
      expect(await b.get(short)).toBeNull();
      expect(await b.get(kept)).toBe('z');
    });

    it('counts atomically across processes and expires the counter a fixed ttl after creation', async () => {
      const k = key('n');
      const results = await Promise.all(Array.from({ length: 40 }, (_, i) => (i % 2 ? a : b).incr(k, 10_000)));
      expect(results.sort((x, y) => x - y)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
      expect(await a.get(k)).toBe('40');

      const window = key('window');
      // Second hit half-way through a 1 s window; checked 1.25 s after the first: a window that the
      // second hit had extended would still be open then, a fixed one has closed.
      expect(await a.incr(window, 1000)).toBe(1);
      await sleep(500);
      expect(await b.incr(window, 1000)).toBe(2);
      await sleep(750);
      expect(await a.incr(window, 1000)).toBe(1);
    });

    it('notifies listeners in another process, per channel, until they unlisten', async () => {
      const channel = key('ch');
      const first = listener();
      const second = listener();
      const elsewhere = listener();
      const unlistenFirst = await b.listen(channel, first.handler);
      const unlistenSecond = await b.listen(channel, second.handler);
      const unlistenElsewhere = await b.listen(key('other'), elsewhere.handler);
      await a.notify(channel, 'part 1.2 ready');
      await first.waitFor(1);
      await second.waitFor(1);
      expect(first.got).toEqual(['part 1.2 ready']);

      await unlistenFirst();
      await a.notify(channel, 'part 1.3 ready');
      await second.waitFor(2);
      await sleep(50);
      expect(first.got).toEqual(['part 1.2 ready']);
      expect(second.got).toEqual(['part 1.2 ready', 'part 1.3 ready']);
      expect(elsewhere.got).toEqual([]);

      await unlistenSecond();
      await unlistenSecond(); // twice is harmless
      await a.notify(channel, 'nobody listens');
      await unlistenElsewhere();
    });

    it('keeps notifying the other listeners when one throws', async () => {
      const channel = key('throw');
      const good = listener();
      const unlistenBad = await b.listen(channel, () => {
        throw new Error('listener bug');
      });
      const unlistenGood = await b.listen(channel, good.handler);
      await a.notify(channel, 'm1');
      await a.notify(channel, 'm2');
      await good.waitFor(2);
      expect(good.got).toEqual(['m1', 'm2']);
      await unlistenBad();
      await unlistenGood();
    });

    it('appends to logs that every process reads from any position, trimmed to the newest entries', async () => {
      const log = key('log');
      expect(await b.readLog(log, 0)).toEqual([]);
      for (let seq = 1; seq <= 5; seq++) await a.append(log, seq, `event ${seq} ✓`, { maxLen: 100, ttlMs: 10_000 });
      expect(await b.readLog(log, 0)).toEqual([1, 2, 3, 4, 5].map((seq) => ({ seq, data: `event ${seq} ✓` })));
      expect((await b.readLog(log, 3)).map((e) => e.seq)).toEqual([4, 5]);
      expect(await b.readLog(log, 5)).toEqual([]);
      // A seq that does not move forward is refused and changes nothing.
      await expect(a.append(log, 5, 'again', { maxLen: 100, ttlMs: 10_000 })).rejects.toThrow();
      expect((await b.readLog(log, 4)).map((e) => e.data)).toEqual(['event 5 ✓']);

      const trimmed = key('trim');
      for (let seq = 1; seq <= 1200; seq++) await a.append(trimmed, seq * 2, String(seq), { maxLen: 300, ttlMs: 10_000 });
      const kept = await b.readLog(trimmed, 0);
      // At least the newest maxLen stay; trimming is approximate (whole batches), never unbounded.
      expect(kept.length).toBeGreaterThanOrEqual(300);
      expect(kept.length).toBeLessThan(600);
      expect(kept.at(-1)).toEqual({ seq: 2400, data: '1200' });
      expect(kept.every((e, i) => i === 0 || e.seq === kept[i - 1].seq + 2)).toBe(true);
      await a.del(trimmed);
      expect(await b.readLog(trimmed, 0)).toEqual([]);
    });

    it('grants leases up to a limit across processes, renews holders, frees slots on release and expiry', async () => {
      const set = key('leases');
      const limit = { limit: 2, ttlMs: 600 };
      expect(await a.claimLease(set, 'tv', limit)).toEqual({ granted: true, holders: ['tv'] });
      expect(await b.claimLease(set, 'phone', limit)).toEqual({ granted: true, holders: ['tv', 'phone'] });
      // Full: a third member is refused and told who holds the slots; a holder renews.
      expect(await a.claimLease(set, 'laptop', limit)).toEqual({ granted: false, holders: ['tv', 'phone'] });
      expect((await b.claimLease(set, 'tv', limit)).granted).toBe(true);
      expect(await a.leases(set)).toEqual(['phone', 'tv']);
      await b.releaseLease(set, 'phone');
      await b.releaseLease(set, 'phone'); // twice is harmless
      expect(await a.claimLease(set, 'laptop', limit)).toEqual({ granted: true, holders: ['tv', 'laptop'] });
      // Only 'laptop' renews; 'tv' expires and its slot is free again.
      await sleep(350);
      await a.claimLease(set, 'laptop', limit);
      await sleep(350);
      expect(await b.leases(set)).toEqual(['laptop']);
      expect((await b.claimLease(set, 'phone', limit)).granted).toBe(true);
      // Concurrent claims never overshoot the limit.
      const race = key('race');
      const claims = await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 ? a : b).claimLease(race, `m${i}`, { limit: 3, ttlMs: 5000 })));
      expect(claims.filter((c) => c.granted)).toHaveLength(3);
      expect(await a.leases(race)).toHaveLength(3);
    });

    it('announces an append to listeners after the entry is readable, and expires idle logs', async () => {
      const log = key('alog');
      const channel = key('ach');
      const seen: string[] = [];
      const unlisten = await b.listen(channel, (m) => {
        void b.readLog(log, 0).then((entries) => seen.push(`${m}:${entries.length}`));
      });
      await a.append(log, 1, 'x', { maxLen: 10, ttlMs: 500, notify: { channel, message: 'one' } });
      const deadline = Date.now() + 5000;
      while (seen.length < 1 && Date.now() < deadline) await sleep(5);
      expect(seen).toEqual(['one:1']);
      await unlisten();
      await sleep(800);
      expect(await b.readLog(log, 0)).toEqual([]);
    });
  });
}
