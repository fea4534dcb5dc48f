import { Redis } from 'ioredis';
import type { Unsubscribe } from '../bus/bus.js';
import type { Logger } from '../logger.js';
import type { AppendOptions, LeaseClaim, LiveState, LogEntry } from './live-state.js';

/** Where the shared live state lives. */
export interface RedisLiveStateConfig {
  url: string;
  /** Prefix of every key and pub/sub channel (default `live:`), so deployments can share a server. */
  keyPrefix?: string;
  /** CLIENT SETNAME prefix (default `streamforge-live`). */
  connectionName?: string;
}

/**
 * INCR that sets the expiry only when it creates the counter, atomically: a fixed window for rate
 * limits, as MemoryLiveState does (a later INCR never extends it). Lua, because INCR + PEXPIRE NX in
 * MULTI would also give a ttl to a counter that already existed without one.
 */
const INCR_WITH_TTL = `
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return n`;

/**
 * A lease claim on a sorted set scored by expiry (ms, the server's clock, so process clocks do not
 * matter): drop the expired, renew a holder or add one while below the limit, keep the set alive as
 * long as its newest lease. Returns {granted, holders...}.
 */
const CLAIM_LEASE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local limit = tonumber(ARGV[2])
local ttl = tonumber(ARGV[3])
local granted = 0
if redis.call('ZSCORE', KEYS[1], ARGV[1]) or redis.call('ZCARD', KEYS[1]) < limit then
  redis.call('ZADD', KEYS[1], now + ttl, ARGV[1])
  redis.call('PEXPIRE', KEYS[1], ttl)
  granted = 1
end
local holders = redis.call('ZRANGE', KEYS[1], 0, -1)
table.insert(holders, 1, granted)
return holders`;

/** The live members of a lease set (server clock), oldest claim first. */
const LIVE_LEASES = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
return redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. now, '+inf')`;

/** The script as a command ioredis runs by EVALSHA (falling back to EVAL once per connection). */
interface WithIncrTtl {
  incrWithTtl(key: string, ttlMs: number): Promise<number>;
  claimLease(key: string, member: string, limit: number, ttlMs: number): Promise<[number, ...string[]]>;
  liveLeases(key: string): Promise<string[]>;
}

/**
 * LiveState on Redis, shared by every process: GET/SET PX/DEL for values, a Lua INCR for counters,
 * PUBLISH/SUBSCRIBE for notifications. A subscribed connection can run nothing but (UN)SUBSCRIBE, so
 * listeners get one dedicated connection, opened on the first listen().
 */
export class RedisLiveState implements LiveState {
  private readonly cmd: Redis & WithIncrTtl;
  private sub?: Redis;
  /** Listeners per channel (unprefixed), and the SUBSCRIBE that serves them. */
  private readonly channels = new Map<string, { handlers: Set<(message: string) => void>; ready: Promise<unknown> }>();
  private readonly prefix: string;
  private readonly logger: Logger;

  constructor(
    deps: { logger: Logger },
    private readonly config: RedisLiveStateConfig,
  ) {
    this.logger = deps.logger.child({ mod: 'live-state', driver: 'redis' });
    this.prefix = config.keyPrefix ?? 'live:';
    this.cmd = this.connect('cmd') as Redis & WithIncrTtl;
    this.cmd.defineCommand('incrWithTtl', { numberOfKeys: 1, lua: INCR_WITH_TTL });
    this.cmd.defineCommand('claimLease', { numberOfKeys: 1, lua: CLAIM_LEASE });
    this.cmd.defineCommand('liveLeases', { numberOfKeys: 1, lua: LIVE_LEASES });
  }

  private connect(role: string): Redis {
    const conn = new Redis(this.config.url, { protocol: 2, connectionName: `${this.config.connectionName ?? 'streamforge-live'}:${role}` });
    conn.on('error', (err) => this.logger.warn({ err, role }, 'redis connection error'));
    return conn;
  }

  async get(key: string): Promise<string | null> {
    return this.cmd.get(this.prefix + key);
  }

  async set(key: string, value: string, ttlMs?: number): Promise<void> {
    // A SET without PX also clears an earlier ttl, as a MemoryLiveState set does.
    if (ttlMs) await this.cmd.set(this.prefix + key, value, 'PX', Math.max(1, Math.round(ttlMs)));
    else await this.cmd.set(this.prefix + key, value);
  }

  async del(key: string): Promise<void> {
    await this.cmd.del(this.prefix + key);
  }

  async incr(key: string, ttlMs: number): Promise<number> {
    return Number(await this.cmd.incrWithTtl(this.prefix + key, Math.max(1, Math.round(ttlMs))));
  }

  /** A Redis Stream with explicit ids `<seq>-1`, trimmed by MAXLEN ~ and expired as a whole; one MULTI. */
  async append(log: string, seq: number, data: string, opts: AppendOptions): Promise<void> {
    const key = this.prefix + log;
    const multi = this.cmd.multi();
    multi.xadd(key, 'MAXLEN', '~', String(opts.maxLen), `${seq}-1`, 'd', data);
    multi.pexpire(key, Math.max(1, Math.round(opts.ttlMs)));
    if (opts.notify) multi.publish(this.prefix + opts.notify.channel, opts.notify.message);
    const results = await multi.exec();
    const failed = results?.find(([err]) => err)?.[0];
    if (failed) throw failed;
  }

  async readLog(log: string, afterSeq: number): Promise<LogEntry[]> {
    const rows = await this.cmd.xrange(this.prefix + log, `${afterSeq + 1}-0`, '+');
    return rows.map(([id, fields]) => ({ seq: Number(id.slice(0, id.indexOf('-'))), data: fields[1] }));
  }

  async claimLease(set: string, member: string, opts: { limit: number; ttlMs: number }): Promise<LeaseClaim> {
    const [granted, ...holders] = await this.cmd.claimLease(this.prefix + set, member, opts.limit, Math.max(1, Math.round(opts.ttlMs)));
    return { granted: Number(granted) === 1, holders };
  }

  async releaseLease(set: string, member: string): Promise<void> {
    await this.cmd.zrem(this.prefix + set, member);
  }

  async leases(set: string): Promise<string[]> {
    return this.cmd.liveLeases(this.prefix + set);
  }

  async notify(channel: string, message: string): Promise<void> {
    await this.cmd.publish(this.prefix + channel, message);
  }

  /** The subscriber connection, dispatching each message to the handlers of its channel. */
  private subscriber(): Redis {
    if (!this.sub) {
      this.sub = this.connect('sub');
      this.sub.on('message', (channel: string, message: string) => {
        for (const handler of this.channels.get(channel.slice(this.prefix.length))?.handlers ?? []) {
          try {
            handler(message);
          } catch (err) {
            this.logger.error({ err, channel }, 'live-state listener failed');
          }
        }
      });
    }
    return this.sub;
  }

  async listen(channel: string, handler: (message: string) => void): Promise<Unsubscribe> {
    let entry = this.channels.get(channel);
    if (!entry) {
      const created = { handlers: new Set<(message: string) => void>(), ready: this.subscriber().subscribe(this.prefix + channel) };
      // A failed SUBSCRIBE is forgotten, so the next listen() tries again.
      created.ready.catch(() => this.channels.get(channel) === created && this.channels.delete(channel));
      this.channels.set(channel, created);
      entry = created;
    }
    // A wrapper per call: one handler registered twice is two listeners, as with EventEmitter.
    const own = (message: string) => handler(message);
    entry.handlers.add(own);
    // Resolves once Redis confirmed the subscription: a notify after listen() resolves is heard.
    await entry.ready;
    return async () => {
      const current = this.channels.get(channel);
      if (!current?.handlers.delete(own) || current.handlers.size > 0) return;
      this.channels.delete(channel);
      await this.sub?.unsubscribe(this.prefix + channel);
    };
  }

  async close(): Promise<void> {
    this.channels.clear();
    await Promise.all(
      [this.cmd, this.sub].map((conn) => conn && conn.status !== 'end' && conn.quit().catch(() => conn.disconnect())),
    );
  }
}
