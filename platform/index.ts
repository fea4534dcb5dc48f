// The platform's public face: ports, their adapters, and factories that pick adapters from Config.
// Other modules import only this file (and test-support/ from tests).
import fs from 'node:fs/promises';
import path from 'node:path';
import type { BlobStore } from './blob/blob-store.js';
import { FsBlobStore } from './blob/fs-blob-store.js';
import { S3BlobStore } from './blob/s3-blob-store.js';
import type { Bus, TopicMap } from './bus/bus.js';
import { KafkaBus } from './bus/kafka-bus.js';
import { MemoryBus } from './bus/memory-bus.js';
import { RedisBus } from './bus/redis-bus.js';
import { ConfigError, type Config } from './config.js';
import type { LiveState } from './live-state/live-state.js';
import { MemoryLiveState } from './live-state/memory-live-state.js';
import { RedisLiveState } from './live-state/redis-live-state.js';
import { createLogger, type Logger } from './logger.js';
import { openPglite } from './sql/pglite-sql.js';
import { openPostgres } from './sql/postgres-sql.js';
import type { Sql } from './sql/sql.js';

export type { Sql } from './sql/sql.js';
export { migrate, type Migration } from './sql/migrate.js';
export { SQLSTATE, isUniqueViolation, sqlState } from './sql/sql-errors.js';
export { openPglite } from './sql/pglite-sql.js';
export { openPostgres, type PostgresOptions } from './sql/postgres-sql.js';

export {
  BlobRangeError,
  InvalidKeyError,
  assertSafeKey,
  compareKeys,
  type BlobInfo,
  type BlobMeta,
  type BlobObject,
  type BlobStore,
  type ByteRange,
} from './blob/blob-store.js';
export { FsBlobStore, resolveRange } from './blob/fs-blob-store.js';
export { S3BlobStore, type S3BlobStoreOptions } from './blob/s3-blob-store.js';

export type { Bus, Handler, SubscribeOptions, TopicMap, Unsubscribe } from './bus/bus.js';
export { MemoryBus, BusClosedError, type BusDeps } from './bus/memory-bus.js';
export { RedisBus, type RedisBusConfig } from './bus/redis-bus.js';
export { KafkaBus, type KafkaBusConfig } from './bus/kafka-bus.js';

export type { AppendOptions, LiveState, LogEntry } from './live-state/live-state.js';
export { MemoryLiveState } from './live-state/memory-live-state.js';
export { RedisLiveState, type RedisLiveStateConfig } from './live-state/redis-live-state.js';

export { AppError, problem, type Problem } from './errors.js';
export { ConfigError, loadConfig, parseLadder, type Config, type Rung } from './config.js';
export { createLogger, maskKey, REDACT_PATHS, type Logger } from './logger.js';
export { createMetricsRegistry, type Registry } from './metrics.js';
export { Lifecycle, type Closeable } from './lifecycle.js';

/** Postgres when DATABASE_URL is set, else PGlite persisted in `${dataDir}/db`. */
export async function createSql(config: Config, logger?: Logger): Promise<Sql> {
  if (config.databaseUrl) return openPostgres(config.databaseUrl, { logger });
  await fs.mkdir(config.dataDir, { recursive: true });
  return openPglite(path.join(config.dataDir, 'db'));
}

/** S3 when S3_BUCKET is set, else the filesystem under `${dataDir}/media`. */
export function createBlobStore(config: Config): BlobStore {
  if (config.s3) return new S3BlobStore(config.s3);
  return new FsBlobStore(path.join(config.dataDir, 'media'));
}

/** The bus named by BUS_DRIVER (memory, Redis Streams or Kafka). */
export function createBus<T extends TopicMap>(config: Config, logger: Logger): Bus<T> {
  switch (config.busDriver) {
    case 'memory':
      return new MemoryBus<T>({ logger });
    case 'redis':
      if (!config.redisUrl) throw new ConfigError('BUS_DRIVER=redis needs REDIS_URL');
      return new RedisBus<T>({ logger }, { url: config.redisUrl, claimIdleMs: config.busClaimIdleSeconds * 1000 });
    case 'kafka':
      if (!config.kafkaBrokers?.length) throw new ConfigError('BUS_DRIVER=kafka needs KAFKA_BROKERS');
      return new KafkaBus<T>({ logger }, { brokers: config.kafkaBrokers });
  }
}

/** Redis when REDIS_URL is set (state shared by every process), else in-process. */
export function createLiveState(config: Config, logger: Logger = createLogger(config.logLevel)): LiveState {
  if (config.redisUrl) return new RedisLiveState({ logger }, { url: config.redisUrl });
  return new MemoryLiveState({ logger });
}
export { OpsServer, sendJson, type OpsRoute, type OpsServerConfig } from './ops-server.js';
export {
  signPlaybackToken, verifyPlaybackToken, playbackPolicyKey, renditionsOverCap, type VerifiedPlaybackToken, type PlaybackTokenClaims, PLAYBACK_TOKEN_ALGORITHM, PLAYBACK_TOKEN_AUDIENCE, PLAYBACK_TOKEN_ISSUER, PLAYBACK_TOKEN_MAX_TTL_SECONDS, PLAYBACK_TOKEN_TYPE,
} from './playback-token.js';
export { PgBossJobQueue, type Job, type JobQueue, type QueueOptions, type SendOptions, type PgBossJobQueueOptions } from './jobs/job-queue.js';
export { childModuleCommand } from './child-module.js';
export { prng } from './random.js';
