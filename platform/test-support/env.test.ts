import fs from 'node:fs/promises';
import pg from 'pg';
import { describe, it, expect } from 'vitest';
import { dropPostgresDatabase, freshPostgresDatabase, tempDir, testEnv, uniqueName } from './env.js';
import { countTests } from './summary-reporter.js';
import type { RunnerTestFile } from 'vitest';

describe('test env', () => {
  it('points at the servers global setup started, also through process.env', () => {
    const env = testEnv();
    expect(env.databaseUrl).toMatch(/^postgres(ql)?:\/\//);
    expect(env.redisUrl).toMatch(/^rediss?:\/\//);
    expect(env.s3Endpoint).toMatch(/^https?:\/\//);
    expect(process.env.TEST_DATABASE_URL).toBe(env.databaseUrl);
    expect(process.env.TEST_REDIS_URL).toBe(env.redisUrl);
    expect(process.env.TEST_S3_ENDPOINT).toBe(env.s3Endpoint);
  });

  it('freshPostgresDatabase gives each caller its own database, and drop removes it', async () => {
    const [one, two] = await Promise.all([freshPostgresDatabase(), freshPostgresDatabase()]);
    expect(one).not.toBe(two);
    const client = new pg.Client({ connectionString: one });
    await client.connect();
    const { rows } = await client.query<{ db: string; v: string }>('SELECT current_database() AS db, version() AS v');
    await client.end();
    expect(rows[0].db).toBe(new URL(one).pathname.slice(1));
    expect(rows[0].v).toMatch(/^PostgreSQL \d+/);
    await Promise.all([dropPostgresDatabase(one), dropPostgresDatabase(two)]);
    const admin = new pg.Client({ connectionString: testEnv().databaseUrl });
    await admin.connect();
    const left = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [new URL(one).pathname.slice(1)]);
    await admin.end();
    expect(left.rowCount).toBe(0);
    await expect(dropPostgresDatabase(testEnv().databaseUrl)).rejects.toThrow(/refusing/);
  });

  it('tempDir makes a fresh empty directory and uniqueName does not repeat', async () => {
    const dir = await tempDir();
    expect(await fs.readdir(dir)).toEqual([]);
    await fs.rm(dir, { recursive: true });
    expect(new Set(Array.from({ length: 100 }, () => uniqueName('x'))).size).toBe(100);
  });
});

/** Builds the slice of the runner's task tree that countTests reads. */
function file(name: string, tasks: unknown[], state?: 'pass' | 'fail'): RunnerTestFile {
  return { type: 'suite', name, mode: 'run', tasks, result: state ? { state } : undefined } as unknown as RunnerTestFile;
}
const test = (state: 'pass' | 'fail' | undefined, mode = 'run') => ({ type: 'test', mode, result: state ? { state } : undefined });

describe('summary reporter counts', () => {
  it('counts passed, failed and skipped tests through nested suites', () => {
    const files = [
      file('a', [test('pass'), { type: 'suite', mode: 'run', tasks: [test('fail'), test(undefined, 'skip'), test(undefined, 'todo')] }]),
      file('b', [test('pass'), test('pass')]),
    ];
    expect(countTests(files)).toEqual({ passed: 3, failed: 1, skipped: 2 });
  });

  it('counts a file or suite that failed with no failing test (import or beforeAll error) as one failure', () => {
    expect(countTests([file('broken', [], 'fail')])).toEqual({ passed: 0, failed: 1, skipped: 0 });
    const hookFailed = file('hook', [{ type: 'suite', mode: 'run', tasks: [test(undefined)], result: { state: 'fail' } }], 'fail');
    expect(countTests([hookFailed])).toEqual({ passed: 0, failed: 1, skipped: 1 });
  });
});
