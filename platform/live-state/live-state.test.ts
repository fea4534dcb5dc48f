import { Redis } from 'ioredis';
import { describe, it, expect } from 'vitest';
import { createLogger } from '../logger.js';
import { testEnv, uniqueName } from '../test-support/env.js';
import { liveStateContract } from './live-state.contract.js';
import { MemoryLiveState } from './memory-live-state.js';
import { RedisLiveState } from './redis-live-state.js';

const logger = createLogger('silent');

liveStateContract('MemoryLiveState', async () => {
  const state = new MemoryLiveState({ logger });
  return { a: state, b: state };
});

liveStateContract('RedisLiveState (two instances on the test redis-server)', async () => {
  const keyPrefix = `${uniqueName('ls')}:`;
  const config = { url: testEnv().redisUrl, keyPrefix };
  return {
    a: new RedisLiveState({ logger }, config),
    b: new RedisLiveState({ logger }, config),
    async cleanup() {
      const admin = new Redis(testEnv().redisUrl, { protocol: 2 });
      const keys = await admin.keys(`${keyPrefix}*`);
      if (keys.length) await admin.del(...keys);
      await admin.quit();
    },
  };
});

describe('RedisLiveState', () => {
  it('keeps deployments apart by key prefix and closes its connections', async () => {
    const url = testEnv().redisUrl;
    const connectionName = uniqueName('sf-live-');
    const one = new RedisLiveState({ logger }, { url, keyPrefix: `${uniqueName('p1')}:`, connectionName });
    const two = new RedisLiveState({ logger }, { url, keyPrefix: `${uniqueName('p2')}:` });
    await one.set('k', 'from one');
    expect(await two.get('k')).toBeNull();
    await one.listen('ch', () => {});
    const admin = new Redis(url, { protocol: 2 });
    const count = async () => ((await admin.call('CLIENT', 'LIST')) as string).split('\n').filter((l) => l.includes(` name=${connectionName}`)).length;
    expect(await count()).toBe(2);
    await one.close();
    await two.close();
    for (let i = 0; i < 50 && (await count()) > 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(await count()).toBe(0);
    await admin.quit();
  });

  it('sets no ttl on a counter that already existed without one (like the memory adapter)', async () => {
    const config = { url: testEnv().redisUrl, keyPrefix: `${uniqueName('ls')}:` };
    const redis = new RedisLiveState({ logger }, config);
    const memory = new MemoryLiveState();
    for (const state of [redis, memory]) {
      await state.set('c', '5');
      expect(await state.incr('c', 50)).toBe(6);
      await new Promise((r) => setTimeout(r, 120));
      expect(await state.get('c')).toBe('6');
    }
    await redis.del('c');
    await redis.close();
    await memory.close();
  });
});
