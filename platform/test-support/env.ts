import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { inject } from 'vitest';

/** Where the real servers of this test run are (from global-setup.ts or the TEST_* variables). */
export interface TestEnv {
  databaseUrl: string;
  redisUrl: string;
  s3Endpoint: string;
  /** s3rver accepts only its built-in key pair (S3RVER/S3RVER). */
  s3AccessKeyId: string;
  s3SecretAccessKey: string;
}

declare module 'vitest' {
  export interface ProvidedContext {
    testEnv: TestEnv;
  }
}

/**
 * The test servers. globalSetup both provide()s them and sets TEST_* in process.env (forks spawned
 * after setup inherit it), so this works in workers and in plain scripts run under the same env.
 */
export function testEnv(): TestEnv {
  let provided: TestEnv | undefined;
  try {
    provided = inject('testEnv');
  } catch {
    provided = undefined; // not inside a vitest worker
  }
  if (provided) return provided;
  const { TEST_DATABASE_URL, TEST_REDIS_URL, TEST_S3_ENDPOINT } = process.env;
  if (!TEST_DATABASE_URL || !TEST_REDIS_URL || !TEST_S3_ENDPOINT) {
    throw new Error('test servers unknown: run under vitest (global-setup.ts) or set TEST_DATABASE_URL, TEST_REDIS_URL, TEST_S3_ENDPOINT');
  }
  return {
    databaseUrl: TEST_DATABASE_URL,
    redisUrl: TEST_REDIS_URL,
    s3Endpoint: TEST_S3_ENDPOINT,
    s3AccessKeyId: process.env.TEST_S3_ACCESS_KEY_ID ?? 'S3RVER',
    s3SecretAccessKey: process.env.TEST_S3_SECRET_ACCESS_KEY ?? 'S3RVER',
  };
}

/** A short random suffix for names that must not collide between parallel test files. */
export function uniqueName(prefix: string): string {
  return `${prefix}${Date.now().toString(36)}${crypto.randomBytes(4).toString('hex')}`;
}

/** Creates a new, uniquely named database on the test Postgres and returns its URL. */
export async function freshPostgresDatabase(): Promise<string> {
  const base = testEnv().databaseUrl;
  const name = uniqueName('sf_test_');
  const client = new pg.Client({ connectionString: base });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE ${name}`);
  } finally {
    await client.end();
  }
  const url = new URL(base);
  url.pathname = `/${name}`;
  return url.toString();
}

/** Drops a database made by freshPostgresDatabase (closing any sessions still on it). */
export async function dropPostgresDatabase(databaseUrl: string): Promise<void> {
  const name = new URL(databaseUrl).pathname.slice(1);
  if (!/^sf_test_[a-z0-9]+$/.test(name)) throw new Error(`refusing to drop ${name}: not made by freshPostgresDatabase`);
  const client = new pg.Client({ connectionString: testEnv().databaseUrl });
  await client.connect();
  try {
    await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  } finally {
    await client.end();
  }
}

/** Creates an empty directory under the OS temp dir; the caller removes it (fs.rm recursive). */
export async function tempDir(prefix = 'streamforge-test-'): Promise<string> {
  return fs.mkdtemp(path.join(os.tmpdir(), prefix));
}
