import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, it, expect } from 'vitest';
import { dropPostgresDatabase, freshPostgresDatabase, tempDir, testEnv, uniqueName } from './test-support/env.js';
import {
  FsBlobStore,
  KafkaBus,
  MemoryBus,
  MemoryLiveState,
  RedisBus,
  RedisLiveState,
  S3BlobStore,
  createBlobStore,
  createBus,
  createLiveState,
  createLogger,
  createSql,
  loadConfig,
} from './index.js';

const logger = createLogger('silent');

describe('platform factories', () => {
  it('createSql opens PGlite in DATA_DIR/db by default and Postgres when DATABASE_URL is set', async () => {
    const dir = await tempDir();
    try {
      const embedded = await createSql(loadConfig({ NODE_ENV: 'test', DATA_DIR: path.join(dir, 'data') }));
      expect(await embedded.query('SELECT 1 AS one')).toEqual([{ one: 1 }]);
      await embedded.close();
      expect((await fs.stat(path.join(dir, 'data', 'db'))).isDirectory()).toBe(true);
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
    const url = await freshPostgresDatabase();
    const remote = await createSql(loadConfig({ NODE_ENV: 'test', DATABASE_URL: url }), logger);
    expect(await remote.query<{ db: string }>('SELECT current_database() AS db')).toEqual([{ db: new URL(url).pathname.slice(1) }]);
    await remote.close();
    await dropPostgresDatabase(url);
  }, 60_000); // PGlite's first open of a data dir runs initdb in WASM: seconds on a busy 2-core machine

  it('createBlobStore picks the filesystem under DATA_DIR/media, or S3 when S3_BUCKET is set', async () => {
    const fsStore = createBlobStore(loadConfig({ NODE_ENV: 'test', DATA_DIR: '/tmp/sf-data' }));
    expect(fsStore).toBeInstanceOf(FsBlobStore);
    expect((fsStore as FsBlobStore).rootDir).toBe('/tmp/sf-data/media');
    const env = testEnv();
    const s3 = createBlobStore(
      loadConfig({
        NODE_ENV: 'test',
        S3_BUCKET: uniqueName('sf-test-'),
        S3_ENDPOINT: env.s3Endpoint,
        S3_ACCESS_KEY_ID: env.s3AccessKeyId,
        S3_SECRET_ACCESS_KEY: env.s3SecretAccessKey,
      }),
    );
    expect(s3).toBeInstanceOf(S3BlobStore);
    expect(await s3.head('missing/key')).toBeNull(); // reaches s3rver (missing bucket answers 404 too)
    await s3.close();
  });

  it('createBus follows BUS_DRIVER', async () => {
    const memory = createBus(loadConfig({ NODE_ENV: 'test' }), logger);
    expect(memory).toBeInstanceOf(MemoryBus);
    const redis = createBus(loadConfig({ NODE_ENV: 'test', REDIS_URL: testEnv().redisUrl }), logger);
    expect(redis).toBeInstanceOf(RedisBus);
    const kafka = createBus(loadConfig({ NODE_ENV: 'test', KAFKA_BROKERS: '127.0.0.1:1' }), logger);
    expect(kafka).toBeInstanceOf(KafkaBus);
    await Promise.all([memory.close(), redis.close(), kafka.close()]);
  });

  it('createLiveState uses Redis when REDIS_URL is set, else memory', async () => {
    const memory = createLiveState(loadConfig({ NODE_ENV: 'test' }), logger);
    expect(memory).toBeInstanceOf(MemoryLiveState);
    const redis = createLiveState(loadConfig({ NODE_ENV: 'test', REDIS_URL: testEnv().redisUrl }), logger);
    expect(redis).toBeInstanceOf(RedisLiveState);
    const k = uniqueName('factory-');
    await redis.set(k, 'v', 10_000);
    expect(await redis.get(k)).toBe('v');
    await redis.del(k);
    await Promise.all([memory.close(), redis.close()]);
  });
});
