import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { createLogger } from '../logger.js';
import { testEnv, uniqueName } from '../test-support/env.js';
import { busContract, type TestTopics } from './bus.contract.js';
import { KafkaBus } from './kafka-bus.js';
import { MemoryBus } from './memory-bus.js';
import { RedisBus, type RedisBusConfig } from './redis-bus.js';

/** Short timings so redelivery shows up within a test; production defaults are seconds. */
const fastRedis = (extra: Partial<RedisBusConfig> = {}): RedisBusConfig => ({
  url: testEnv().redisUrl,
  streamPrefix: `${uniqueName('t')}:`,
  blockMs: 200,
  claimIdleMs: 300,
  ...extra,
});

busContract('MemoryBus', async (logger) => ({ bus: new MemoryBus<TestTopics>({ logger }), durableGroups: false }));

/** Deletes every key under prefix (streams outlive the test on a TEST_REDIS_URL server). */
async function dropKeys(prefix: string): Promise<void> {
  const admin = new Redis(testEnv().redisUrl, { protocol: 2 });
  const keys = await admin.keys(`${prefix}*`);
  if (keys.length) await admin.del(...keys);
  await admin.quit();
}

// One prefix for the suite, so the close() test's second instance shares streams with the first.
const contractPrefix = `${uniqueName('contract')}:`;
busContract('RedisBus (test redis-server)', async (logger) => ({
  bus: new RedisBus<TestTopics>({ logger }, fastRedis({ streamPrefix: contractPrefix })),
  durableGroups: true,
  cleanup: () => dropKeys(contractPrefix),
}));

describe.skipIf(!process.env.KAFKA_BROKERS)('KafkaBus (skipped: KAFKA_BROKERS not set, no broker on this machine)', () => {
  busContract(
    'KafkaBus',
    async (logger) => ({
      bus: new KafkaBus<TestTopics>({ logger }, { brokers: (process.env.KAFKA_BROKERS ?? '').split(','), clientId: 'streamforge-test' }),
      durableGroups: true,
    }),
    { deliveryTimeoutMs: 25_000, quietMs: 1000 },
  );
});

describe('RedisBus across processes', () => {
  const logger = createLogger('silent');
  let admin: Redis;

  beforeAll(() => {
    admin = new Redis(testEnv().redisUrl, { protocol: 2 });
  });

  afterAll(async () => {
    await admin.quit();
  });

  /** Connections this test opened, by CLIENT SETNAME prefix. */
  async function clientsNamed(prefix: string): Promise<number> {
    const list = (await admin.call('CLIENT', 'LIST')) as string;
    return list.split('\n').filter((line) => line.includes(` name=${prefix}`)).length;
  }

  it('shares a group between two bus instances exactly once', async () => {
    const config = fastRedis();
    const a = new RedisBus<TestTopics>({ logger }, config);
    const b = new RedisBus<TestTopics>({ logger }, config);
    const got: [string, number][] = [];
    await a.subscribe('jobs', (m) => void got.push(['a', m.n]), { group: 'w' });
    await b.subscribe('jobs', (m) => void got.push(['b', m.n]), { group: 'w' });
    for (let n = 0; n < 30; n++) await (n % 2 ? a : b).publish('jobs', { n });
    while (got.length < 30) await sleep(10);
    await sleep(400);
    expect(got.map(([, n]) => n).sort((x, y) => x - y)).toEqual(Array.from({ length: 30 }, (_, i) => i));
    await Promise.all([a.close(), b.close()]);
  });

  it('keeps messages for a group while no member runs, and hands a dead member’s pending message to another', async () => {
    const config = fastRedis();
    const crashed = new RedisBus<TestTopics>({ logger }, config);
    let started = false;
    // This member takes message 1 and "dies" while handling it: never acknowledges.
    await crashed.subscribe('work', async () => {
      started = true;
      await new Promise(() => {});
    }, { group: 'g' });
    await crashed.publish('work', { n: 1 });
    while (!started) await sleep(10);
    await crashed.close(); // its connections are cut with message 1 unacknowledged

    const publisher = new RedisBus<TestTopics>({ logger }, config);
    await publisher.publish('work', { n: 2 }); // nobody in the group is reading now
    const survivor = new RedisBus<TestTopics>({ logger }, config);
    const got: number[] = [];
    await survivor.subscribe('work', (m) => void got.push(m.n), { group: 'g' });
    while (got.length < 2) await sleep(10);
    expect(got.sort()).toEqual([1, 2]);
    await Promise.all([publisher.close(), survivor.close()]);
  });

  it('moves a message that keeps failing to the dead-letter stream and acknowledges it', async () => {
    const config = fastRedis({ claimIdleMs: 100, maxDeliveries: 2 });
    const bus = new RedisBus<TestTopics>({ logger }, config);
    let attempts = 0;
    await bus.subscribe('poison', () => {
      attempts++;
      throw new Error('always fails');
    }, { group: 'g' });
    await bus.publish('poison', { n: 9 });
    const dead = `${config.streamPrefix}dead:poison`;
    while ((await admin.xlen(dead)) === 0) await sleep(20);
    expect(attempts).toBe(2);
    const [[, fields]] = (await admin.call('XRANGE', dead, '-', '+')) as [string, string[]][];
    expect(JSON.parse(fields[fields.indexOf('m') + 1])).toEqual({ n: 9 });
    const [pending] = (await admin.call('XPENDING', `${config.streamPrefix}poison`, 'g')) as [number];
    expect(pending).toBe(0);
    await bus.close();
  });

  it('trims streams approximately to maxLen', async () => {
    const config = fastRedis({ maxLen: 10 });
    const bus = new RedisBus<TestTopics>({ logger }, config);
    for (let n = 0; n < 300; n++) await bus.publish('trimmed', { n });
    expect(await admin.xlen(`${config.streamPrefix}trimmed`)).toBeLessThan(300);
    await bus.close();
  });

  it('close() releases every Redis connection it opened', async () => {
    const connectionName = uniqueName('sf-bus-close-');
    const bus = new RedisBus<TestTopics>({ logger }, fastRedis({ connectionName }));
    await bus.subscribe('a', () => {});
    await bus.subscribe('a', () => {}, { group: 'g' });
    await bus.publish('a', { n: 1 });
    expect(await clientsNamed(connectionName)).toBe(3);
    await bus.close();
    for (let i = 0; i < 50 && (await clientsNamed(connectionName)) > 0; i++) await sleep(20);
    expect(await clientsNamed(connectionName)).toBe(0);
  });
});
