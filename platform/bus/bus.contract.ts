import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { createLogger, type Logger } from '../logger.js';
import { uniqueName } from '../test-support/env.js';
import type { Bus, Handler } from './bus.js';
import { BusClosedError } from './memory-bus.js';

/** Payload used by the contract. */
export interface TestMsg {
  n: number;
  text?: string;
  nested?: { list: number[]; flag: boolean };
}

/** Any topic name carries TestMsg. */
export type TestTopics = Record<string, TestMsg>;

/** The adapter under test; durableGroups says whether a failed grouped message is redelivered. */
export interface BusSubject {
  bus: Bus<TestTopics>;
  durableGroups: boolean;
  cleanup?: () => Promise<void>;
}

/** Timing knobs: real brokers need longer to settle than the in-process bus. */
export interface BusContractOptions {
  /** How long to wait for expected deliveries (default 10 s). */
  deliveryTimeoutMs?: number;
  /** How long nothing more must arrive before "no more deliveries" holds (default 300 ms). */
  quietMs?: number;
}

/** Collects delivered messages; waitFor polls until enough arrived. */
function inbox(fail?: (m: TestMsg) => boolean) {
  const items: TestMsg[] = [];
  const handler: Handler<TestMsg> = async (m) => {
    if (fail?.(m)) throw new Error(`handler refuses ${m.n}`);
    items.push(m);
  };
  return { items, handler, ns: () => items.map((m) => m.n) };
}

/** A logger whose lines the test can read back. */
function capturingLogger(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  return { logger: createLogger('warn', { write: (line: string) => void lines.push(line) }), lines };
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

/**
 * The Bus port's contract, run unchanged against every adapter (memory, Redis Streams, Kafka):
 * delivery in publish order, fan-out, consumer groups sharing work exactly once, unsubscribe,
 * handler failures that do not stop later deliveries (and are redelivered where groups are durable),
 * and close().
 */
export function busContract(name: string, open: (logger: Logger) => Promise<BusSubject>, opts: BusContractOptions = {}): void {
  const timeout = opts.deliveryTimeoutMs ?? 10_000;
  const quietMs = opts.quietMs ?? 300;

  /** Polls until cond() holds, failing after the delivery timeout with what was seen. */
  async function until(cond: () => boolean, what: () => unknown): Promise<void> {
    const deadline = Date.now() + timeout;
    while (!cond()) {
      if (Date.now() > deadline) throw new Error(`not delivered in ${timeout} ms; got ${JSON.stringify(what())}`);
      await sleep(10);
    }
  }

  describe(`Bus contract: ${name}`, () => {
    let subject: BusSubject;
    let bus: Bus<TestTopics>;
    const log = capturingLogger();

    beforeAll(async () => {
      subject = await open(log.logger);
      bus = subject.bus;
    });

    afterAll(async () => {
      await bus?.close();
      await subject?.cleanup?.();
    });

    it('delivers JSON payloads in publish order, only for the subscribed topic', async () => {
      const topic = uniqueName('test.order.');
      const other = uniqueName('test.other.');
      const box = inbox();
      const unsub = await bus.subscribe(topic, box.handler);
      for (const n of range(50)) {
        await bus.publish(topic, { n, text: 'ünïcode ✓', nested: { list: [n, n + 1], flag: n % 2 === 0 } });
        if (n === 10) await bus.publish(other, { n: -1 });
      }
      await until(() => box.items.length >= 50, box.ns);
      expect(box.ns()).toEqual(range(50));
      expect(box.items[7]).toEqual({ n: 7, text: 'ünïcode ✓', nested: { list: [7, 8], flag: false } });
      await unsub();
    });

    it('fans out every message to each plain subscriber', async () => {
      const topic = uniqueName('test.fanout.');
      const a = inbox();
      const b = inbox();
      const unsubA = await bus.subscribe(topic, a.handler);
      const unsubB = await bus.subscribe(topic, b.handler);
      for (const n of range(10)) await bus.publish(topic, { n });
      await until(() => a.items.length >= 10 && b.items.length >= 10, () => [a.ns(), b.ns()]);
      await sleep(quietMs);
      expect(a.ns()).toEqual(range(10));
      expect(b.ns()).toEqual(range(10));
      await Promise.all([unsubA(), unsubB()]);
    });

    it('gives each message to exactly one member of a group, and to every group and plain subscriber', async () => {
      const topic = uniqueName('test.group.');
      const m1 = inbox();
      const m2 = inbox();
      const otherGroup = inbox();
      const plain = inbox();
      const unsubs = [
        await bus.subscribe(topic, m1.handler, { group: 'workers' }),
        await bus.subscribe(topic, m2.handler, { group: 'workers' }),
        await bus.subscribe(topic, otherGroup.handler, { group: 'auditors' }),
        await bus.subscribe(topic, plain.handler),
      ];
      for (const n of range(20)) await bus.publish(topic, { n });
      const shared = () => [...m1.ns(), ...m2.ns()];
      await until(() => shared().length >= 20 && otherGroup.items.length >= 20 && plain.items.length >= 20, () => [m1.ns(), m2.ns()]);
      await sleep(quietMs); // duplicates, if any, would arrive now
      expect(shared().sort((x, y) => x - y)).toEqual(range(20));
      expect(otherGroup.ns()).toEqual(range(20));
      expect(plain.ns()).toEqual(range(20));
      await Promise.all(unsubs.map((u) => u()));
    });

    it('stops delivering to a subscriber once unsubscribed', async () => {
      const topic = uniqueName('test.unsub.');
      const leaving = inbox();
      const staying = inbox();
      const leave = await bus.subscribe(topic, leaving.handler);
      const stay = await bus.subscribe(topic, staying.handler);
      await bus.publish(topic, { n: 1 });
      await until(() => leaving.items.length === 1 && staying.items.length === 1, () => [leaving.ns(), staying.ns()]);
      await leave();
      await bus.publish(topic, { n: 2 });
      await until(() => staying.items.length === 2, staying.ns);
      await sleep(quietMs);
      expect(leaving.ns()).toEqual([1]);
      await stay();
    });

    it('keeps delivering after a plain handler throws, and logs the failure', async () => {
      const topic = uniqueName('test.throw.');
      const box = inbox((m) => m.n === 1);
      const unsub = await bus.subscribe(topic, box.handler);
      for (const n of range(4)) await bus.publish(topic, { n });
      await until(() => box.items.length >= 3, box.ns);
      expect(box.ns()).toEqual([0, 2, 3]);
      expect(log.lines.some((l) => l.includes('bus handler failed') && l.includes('handler refuses 1'))).toBe(true);
      await unsub();
    });

    it('keeps delivering after a grouped handler throws; durable adapters redeliver the failed message', async () => {
      const topic = uniqueName('test.retry.');
      let failedOnce = false;
      const box = inbox((m) => {
        if (m.n !== 1 || failedOnce) return false;
        failedOnce = true;
        return true;
      });
      const unsub = await bus.subscribe(topic, box.handler, { group: 'retry' });
      for (const n of range(4)) await bus.publish(topic, { n });
      if (subject.durableGroups) {
        await until(() => box.items.length >= 4, box.ns);
        await sleep(quietMs);
        expect(box.ns().sort()).toEqual([0, 1, 2, 3]); // 1 handled once, after one failure
      } else {
        await until(() => box.items.length >= 3, box.ns);
        await sleep(quietMs);
        expect(box.ns()).toEqual([0, 2, 3]);
      }
      expect(failedOnce).toBe(true);
      await unsub();
    });

    it('close() stops subscriptions and refuses further use', async () => {
      const second = await open(capturingLogger().logger);
      const topic = uniqueName('test.close.');
      const box = inbox();
      await second.bus.subscribe(topic, box.handler);
      await second.bus.subscribe(topic, box.handler, { group: 'closing' });
      await second.bus.publish(topic, { n: 1 });
      await until(() => box.items.length === 2, box.ns);
      await second.bus.close();
      await bus.publish(topic, { n: 2 }); // through the other instance: the closed one must not see it
      await sleep(quietMs);
      expect(box.ns()).toEqual([1, 1]);
      await expect(second.bus.publish(topic, { n: 3 })).rejects.toBeInstanceOf(BusClosedError);
      await expect(second.bus.subscribe(topic, box.handler)).rejects.toBeInstanceOf(BusClosedError);
      await second.bus.close(); // idempotent
      // second.cleanup is not called: it shares the first instance's backing state, cleaned in afterAll.
    });
  });
}
