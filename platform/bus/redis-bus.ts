import crypto from 'node:crypto';
import os from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import type { Logger } from '../logger.js';
import type { Bus, Handler, SubscribeOptions, TopicMap, Unsubscribe } from './bus.js';
import { BusClosedError, type BusDeps } from './memory-bus.js';

/** Where and how the Redis Streams bus keeps its streams. */
export interface RedisBusConfig {
  url: string;
  /** Stream key = prefix + topic (default `bus:`). */
  streamPrefix?: string;
  /** Approximate stream length kept (XADD MAXLEN ~), default 10 000 entries per topic. */
  maxLen?: number;
  /** How long one XREAD/XREADGROUP blocks before the loop looks around (default 2000 ms). */
  blockMs?: number;
  /** A grouped message pending this long (handler threw, or its consumer died) is claimed and retried (default 30 s). */
  claimIdleMs?: number;
  /** Deliveries before a grouped message is moved to `<prefix>dead:<topic>` and acknowledged (default 10). */
  maxDeliveries?: number;
  /** CLIENT SETNAME prefix, so connections are recognisable in CLIENT LIST (default `streamforge-bus`). */
  connectionName?: string;
}

/** One stream entry as Redis returns it: [id, [field, value, ...]] (fields null if deleted). */
type Entry = [id: string, fields: string[] | null];

/** A running subscription: one dedicated connection, one read loop. */
interface Subscription {
  active: boolean;
  /** A handler is running (unsubscribe from inside a handler must not wait for the loop). */
  busy: boolean;
  conn: Redis;
  done: Promise<void>;
}

/**
 * Bus on Redis Streams. Publish is XADD with approximate MAXLEN trimming. A plain subscriber reads
 * with XREAD BLOCK from the stream's last id at subscribe time, on its own connection (a blocked
 * connection can do nothing else). A grouped subscriber uses XGROUP CREATE … MKSTREAM, XREADGROUP and
 * XACK: each entry goes to one consumer of the group, and an entry whose handler throws stays in the
 * pending list until XAUTOCLAIM hands it out again (https://redis.io/docs/latest/develop/data-types/streams/).
 */
export class RedisBus<T extends TopicMap> implements Bus<T> {
  private readonly logger: Logger;
  private readonly cmd: Redis;
  private readonly subs = new Set<Subscription>();
  private readonly prefix: string;
  private readonly maxLen: number;
  private readonly blockMs: number;
  private readonly claimIdleMs: number;
  private readonly maxDeliveries: number;
  private readonly name: string;
  private closed = false;

  constructor(
    deps: BusDeps,
    private readonly config: RedisBusConfig,
  ) {
    this.logger = deps.logger.child({ mod: 'bus', driver: 'redis' });
    this.prefix = config.streamPrefix ?? 'bus:';
    this.maxLen = config.maxLen ?? 10_000;
    this.blockMs = config.blockMs ?? 2000;
    this.claimIdleMs = config.claimIdleMs ?? 30_000;
    this.maxDeliveries = config.maxDeliveries ?? 10;
    this.name = config.connectionName ?? 'streamforge-bus';
    this.cmd = this.connect('cmd', 20);
  }

  /** protocol 2: stream replies keep their documented nested-array shape. */
  private connect(role: string, maxRetriesPerRequest: number | null): Redis {
    const conn = new Redis(this.config.url, {
      protocol: 2,
      connectionName: `${this.name}:${role}`,
      maxRetriesPerRequest,
    });
    conn.on('error', (err) => this.logger.warn({ err, role }, 'redis connection error'));
    return conn;
  }

  private key(topic: string): string {
    return this.prefix + topic;
  }

  async publish<K extends keyof T & string>(topic: K, msg: T[K]): Promise<void> {
    if (this.closed) throw new BusClosedError();
    await this.cmd.call('XADD', this.key(topic), 'MAXLEN', '~', this.maxLen, '*', 'm', JSON.stringify(msg));
  }

  async subscribe<K extends keyof T & string>(
    topic: K,
    handler: Handler<T[K]>,
    opts: SubscribeOptions = {},
  ): Promise<Unsubscribe> {
    if (this.closed) throw new BusClosedError();
    const key = this.key(topic);
    const h = handler as Handler<unknown>;
    // Setup runs on the command connection, which gives up when Redis is unreachable (subscribe
    // fails at boot); the loop's own connection retries forever, riding out Redis restarts.
    const sub: Subscription = { active: true, busy: false, conn: this.connect(opts.group ? `group:${opts.group}` : 'reader', null), done: Promise.resolve() };
    try {
      if (opts.group) {
        // '$': a new group starts with messages published from now on; an existing group keeps its position.
        await this.cmd.call('XGROUP', 'CREATE', key, opts.group, '$', 'MKSTREAM').catch((err: Error) => {
          if (!String(err.message).startsWith('BUSYGROUP')) throw err;
        });
        const consumer = `${os.hostname()}-${process.pid}-${crypto.randomBytes(4).toString('hex')}`;
        sub.done = this.groupLoop(sub, topic, key, opts.group, consumer, h);
      } else {
        // Start after the newest entry now, so everything published once subscribe() resolves arrives.
        const last = (await this.cmd.call('XREVRANGE', key, '+', '-', 'COUNT', 1)) as Entry[];
        sub.done = this.plainLoop(sub, topic, key, last[0]?.[0] ?? '0-0', h);
      }
    } catch (err) {
      sub.conn.disconnect();
      throw err;
    }
    this.subs.add(sub);
    return () => this.stop(sub);
  }

  /**
   * Ends a subscription. Unsubscribing while a handler runs (perhaps from inside it) lets the handler
   * finish and acknowledge, without waiting for it; close() (force) cuts the connection regardless.
   */
  private async stop(sub: Subscription, force = false): Promise<void> {
    if (!sub.active) return;
    sub.active = false;
    this.subs.delete(sub);
    // Disconnecting interrupts a blocked read: nothing it would have read is handed to this consumer.
    if (!sub.busy || force) sub.conn.disconnect();
    if (!sub.busy) await sub.done;
  }

  /** Runs one handler call; false when it threw (logged). */
  private async run(sub: Subscription, topic: string, fields: string[] | null, h: Handler<unknown>, id: string): Promise<boolean> {
    const raw = fields?.[fields.indexOf('m') + 1];
    let msg: unknown;
    try {
      msg = JSON.parse(raw ?? '');
    } catch (err) {
      this.logger.error({ err, topic, id }, 'unparseable bus message skipped');
      return true; // retrying cannot fix it
    }
    sub.busy = true;
    try {
      await h(msg);
      return true;
    } catch (err) {
      this.logger.error({ err, topic, id }, 'bus handler failed');
      return false;
    } finally {
      sub.busy = false;
    }
  }

  /** Sleeps after a connection error, unless the subscription is ending. */
  private async backoff(sub: Subscription, topic: string, err: unknown): Promise<void> {
    if (!sub.active) return;
    this.logger.warn({ err, topic }, 'bus read failed; retrying');
    await sleep(500);
  }

  private async plainLoop(sub: Subscription, topic: string, key: string, from: string, h: Handler<unknown>): Promise<void> {
    let lastId = from;
    try {
      while (sub.active) {
        let reply: [string, Entry[]][] | null;
        try {
          reply = (await sub.conn.call('XREAD', 'COUNT', 100, 'BLOCK', this.blockMs, 'STREAMS', key, lastId)) as [string, Entry[]][] | null;
        } catch (err) {
          await this.backoff(sub, topic, err);
          continue;
        }
        for (const [id, fields] of reply?.[0]?.[1] ?? []) {
          if (!sub.active) break;
          lastId = id;
          await this.run(sub, topic, fields, h, id); // fan-out is not durable: a failure is logged, not retried
        }
      }
    } finally {
      sub.conn.disconnect();
    }
  }

  private async groupLoop(sub: Subscription, topic: string, key: string, group: string, consumer: string, h: Handler<unknown>): Promise<void> {
    const claimEveryMs = Math.max(50, Math.min(this.claimIdleMs / 2, 5000));
    let nextClaim = Date.now() + claimEveryMs;
    try {
      while (sub.active) {
        try {
          if (Date.now() >= nextClaim) {
            await this.reclaim(sub, topic, key, group, consumer, h);
            nextClaim = Date.now() + claimEveryMs;
          }
          const reply = (await sub.conn.call(
            'XREADGROUP', 'GROUP', group, consumer, 'COUNT', 100, 'BLOCK', Math.min(this.blockMs, claimEveryMs), 'STREAMS', key, '>',
          )) as [string, Entry[]][] | null;
          for (const [id, fields] of reply?.[0]?.[1] ?? []) {
            if (!sub.active) break; // the rest stays pending and is claimed by another member
            if (await this.run(sub, topic, fields, h, id)) await sub.conn.call('XACK', key, group, id);
          }
        } catch (err) {
          if (sub.active && String((err as Error)?.message).startsWith('NOGROUP')) {
            // The stream was deleted under us (FLUSHDB, manual cleanup): recreate the group and go on.
            await sub.conn.call('XGROUP', 'CREATE', key, group, '$', 'MKSTREAM').catch(() => {});
          }
          await this.backoff(sub, topic, err);
        }
      }
    } finally {
      sub.conn.disconnect();
    }
  }

  /** Takes over entries pending longer than claimIdleMs (failed handlers, dead consumers) and retries them. */
  private async reclaim(sub: Subscription, topic: string, key: string, group: string, consumer: string, h: Handler<unknown>): Promise<void> {
    let cursor = '0-0';
    for (let round = 0; round < 10 && sub.active; round++) {
      const [next, entries] = (await sub.conn.call('XAUTOCLAIM', key, group, consumer, this.claimIdleMs, cursor, 'COUNT', 100)) as [string, Entry[], string[]?];
      for (const [id, fields] of entries) {
        if (!sub.active) return;
        if (fields === null) {
          await sub.conn.call('XACK', key, group, id); // trimmed away before it could be retried (Redis 6.2)
          continue;
        }
        const pending = (await sub.conn.call('XPENDING', key, group, id, id, 1)) as [string, string, number, number][];
        const deliveries = pending[0]?.[3] ?? 0;
        if (deliveries > this.maxDeliveries) {
          this.logger.error({ topic, group, id, deliveries }, 'bus message failed too often; moved to the dead-letter stream');
          await sub.conn.call('XADD', `${this.prefix}dead:${topic}`, 'MAXLEN', '~', this.maxLen, '*', ...fields, 'group', group, 'id', id);
          await sub.conn.call('XACK', key, group, id);
          continue;
        }
        if (await this.run(sub, topic, fields, h, id)) await sub.conn.call('XACK', key, group, id);
      }
      if (next === '0-0') return;
      cursor = next;
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.subs].map((s) => this.stop(s, true)));
    await this.cmd.quit().catch(() => this.cmd.disconnect());
  }
}
