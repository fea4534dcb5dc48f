import type { Logger } from '../logger.js';
import type { Bus, Handler, SubscribeOptions, TopicMap, Unsubscribe } from './bus.js';

/** One subscription: handlers run one at a time, in publish order. */
interface Subscriber {
  handler: Handler<object>;
  group?: string;
  active: boolean;
  /** Tail of this subscriber's delivery chain. */
  tail: Promise<void>;
}

/** Dependencies of every bus adapter. */
export interface BusDeps {
  logger: Logger;
}

/** Fails when used after close(). */
export class BusClosedError extends Error {
  readonly code = 'BUS_CLOSED';
  constructor() {
    super('bus is closed');
  }
}

/**
 * In-process bus for one-process mode and tests. Payloads go through JSON like on the wire, so code
 * that passes a Date or shares a mutable object finds out here, not in production. Not durable: a
 * message whose handler throws is logged and dropped, grouped or not.
 */
export class MemoryBus<T extends TopicMap> implements Bus<T> {
  private readonly topics = new Map<string, Subscriber[]>();
  /** Round-robin position per `topic\0group`. */
  private readonly nextMember = new Map<string, number>();
  private closed = false;
  private readonly logger: Logger;

  constructor(deps: BusDeps) {
    this.logger = deps.logger.child({ mod: 'bus', driver: 'memory' });
  }

  async publish<K extends keyof T & string>(topic: K, msg: T[K]): Promise<void> {
    if (this.closed) throw new BusClosedError();
    const json = JSON.stringify(msg);
    const subs = (this.topics.get(topic) ?? []).filter((s) => s.active);
    const groups = new Map<string, Subscriber[]>();
    for (const sub of subs) {
      if (sub.group === undefined) this.deliver(topic, sub, json);
      else groups.set(sub.group, [...(groups.get(sub.group) ?? []), sub]);
    }
    for (const [group, members] of groups) {
      const slot = `${topic}\0${group}`;
      const i = (this.nextMember.get(slot) ?? 0) % members.length;
      this.nextMember.set(slot, i + 1);
      this.deliver(topic, members[i], json);
    }
  }

  /** Queues json behind the subscriber's earlier messages; each handler call gets its own copy. */
  private deliver(topic: string, sub: Subscriber, json: string): void {
    sub.tail = sub.tail.then(async () => {
      if (!sub.active) return;
      try {
        await sub.handler(JSON.parse(json) as object);
      } catch (err) {
        this.logger.error({ err, topic, group: sub.group }, 'bus handler failed; message dropped (memory bus is not durable)');
      }
    });
  }

  async subscribe<K extends keyof T & string>(
    topic: K,
    handler: Handler<T[K]>,
    opts: SubscribeOptions = {},
  ): Promise<Unsubscribe> {
    if (this.closed) throw new BusClosedError();
    const sub: Subscriber = { handler: handler as Handler<object>, group: opts.group, active: true, tail: Promise.resolve() };
    this.topics.set(topic, [...(this.topics.get(topic) ?? []), sub]);
    return async () => {
      sub.active = false;
      this.topics.set(
        topic,
        (this.topics.get(topic) ?? []).filter((s) => s !== sub),
      );
      // Not awaiting sub.tail: a handler may unsubscribe itself, and would wait for its own end.
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    const all = [...this.topics.values()].flat();
    for (const sub of all) sub.active = false;
    this.topics.clear();
    await Promise.all(all.map((s) => s.tail));
  }
}
