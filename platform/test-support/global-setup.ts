import type { TestProject } from 'vitest/node';
import type { TestEnv } from './env.js';
import { startPostgres, startRedis, startS3rver, type TestServer } from './servers.js';

/** Hides a password in a URL before it reaches CI logs. */
function printable(url: string): string {
  const u = new URL(url);
  if (u.password) u.password = '***';
  return u.toString().replace(/\/$/, '');
}

/** Uses the given URL, or starts a throwaway server and remembers to stop it. */
async function serverFor(given: string | undefined, start: () => Promise<TestServer>, started: TestServer[]) {
  if (given) return { url: given, origin: 'given' as const };
  const server = await start();
  started.push(server);
  return { url: server.url, origin: 'throwaway' as const };
}

/**
 * vitest globalSetup: real Postgres, Redis and S3 (s3rver) for the adapter suites. TEST_DATABASE_URL,
 * TEST_REDIS_URL and TEST_S3_ENDPOINT point at existing servers; whatever is not given is started here
 * from the installed binaries on free loopback ports and removed in teardown.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  // The SDK warns once per process that its 2027 releases need Node 22; in test logs that is noise.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const started: TestServer[] = [];
  const teardown = async () => {
    await Promise.allSettled(started.map((s) => s.stop()));
  };
  try {
    const [db, redis, s3] = await Promise.all([
      serverFor(process.env.TEST_DATABASE_URL, startPostgres, started),
      serverFor(process.env.TEST_REDIS_URL, startRedis, started),
      serverFor(process.env.TEST_S3_ENDPOINT, startS3rver, started),
    ]);
    const env: TestEnv = {
      databaseUrl: db.url,
      redisUrl: redis.url,
      s3Endpoint: s3.url,
      s3AccessKeyId: process.env.TEST_S3_ACCESS_KEY_ID ?? 'S3RVER',
      s3SecretAccessKey: process.env.TEST_S3_SECRET_ACCESS_KEY ?? 'S3RVER',
    };
    // Both channels: provide() for workers (inject), process.env for forks spawned after setup and
    // for anything run as a child process of a test.
    project.provide('testEnv', env);
    process.env.TEST_DATABASE_URL = env.databaseUrl;
    process.env.TEST_REDIS_URL = env.redisUrl;
    process.env.TEST_S3_ENDPOINT = env.s3Endpoint;
    process.env.TEST_S3_ACCESS_KEY_ID = env.s3AccessKeyId;
    process.env.TEST_S3_SECRET_ACCESS_KEY = env.s3SecretAccessKey;
    const label = (o: 'given' | 'throwaway', variable: string) => (o === 'given' ? variable : 'throwaway');
    process.stdout.write(
      `test servers: postgres ${printable(db.url)} (${label(db.origin, 'TEST_DATABASE_URL')}), ` +
        `redis ${printable(redis.url)} (${label(redis.origin, 'TEST_REDIS_URL')}), ` +
        `s3 ${printable(s3.url)} (${s3.origin === 'given' ? 'TEST_S3_ENDPOINT' : 's3rver, throwaway'})` +
        `${process.env.KAFKA_BROKERS ? `, kafka ${process.env.KAFKA_BROKERS} (KAFKA_BROKERS)` : ', kafka not set (Kafka suites skipped)'}\n`,
    );
  } catch (err) {
    await teardown();
    throw err;
  }
  return teardown;
}
