import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../logger.js';
import { openPglite } from '../sql/pglite-sql.js';
import { openPostgres } from '../sql/postgres-sql.js';
import type { Sql } from '../sql/sql.js';
import { dropPostgresDatabase, freshPostgresDatabase } from '../test-support/env.js';
import { PgBossJobQueue, type Job } from './job-queue.js';

const logger = createLogger('silent');

async function until(check: () => Promise<boolean> | boolean, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 100));
  }
}

const engines: [string, () => Promise<{ sql: Sql; cleanup: () => Promise<void> }>][] = [
  ['PGlite', async () => {
    const sql = await openPglite();
    return { sql, cleanup: () => sql.close() };
  }],
  ['Postgres', async () => {
    const url = await freshPostgresDatabase();
    const sql = openPostgres(url, { max: 4 });
    return { sql, cleanup: async () => { await sql.close(); await dropPostgresDatabase(url); } };
  }],
];

for (const [engine, open] of engines) {
  describe(`PgBossJobQueue on ${engine}`, () => {
    let cleanups: (() => Promise<void>)[] = [];
    afterEach(async () => {
      for (const c of cleanups.reverse()) await c();
      cleanups = [];
    });

    it('runs a job, retries a failing one with its retry count, and fails it after the limit', async () => {
      const { sql, cleanup } = await open();
      const queue = new PgBossJobQueue({ sql, logger }, { superviseIntervalSeconds: 1 });
      cleanups.push(cleanup, () => queue.close());
      await queue.createQueue('t', { retryLimit: 2, retryDelaySeconds: 1, timeoutSeconds: 60 });
      const seen: Job<{ n: number; fail?: boolean }>[] = [];
      await queue.work<{ n: number; fail?: boolean }>('t', { concurrency: 1, pollingIntervalSeconds: 0.5 }, async (job) => {
        seen.push(job);
        if (job.data.fail) throw new Error('boom');
      });
      await queue.send('t', { n: 1 });
      await queue.send('t', { n: 2, fail: true });
      await until(async () => (await queue.counts('t')).failed === 1 && (await queue.counts('t')).completed === 1);
      expect(seen.filter((j) => j.data.n === 1).length).toBe(1);
      expect(seen.filter((j) => j.data.n === 2).map((j) => j.retryCount)).toEqual([0, 1, 2]);
    }, 40_000);

    it('aborts a job that outlives its timeout and retries it', async () => {
      const { sql, cleanup } = await open();
      const queue = new PgBossJobQueue({ sql, logger }, { superviseIntervalSeconds: 1 });
      cleanups.push(cleanup, () => queue.close());
      await queue.createQueue('slow', { retryLimit: 1, retryDelaySeconds: 1, timeoutSeconds: 60 });
      const attempts: { retryCount: number; aborted: boolean }[] = [];
      await queue.work('slow', { concurrency: 1, pollingIntervalSeconds: 0.5 }, async (job) => {
        const attempt = { retryCount: job.retryCount, aborted: false };
        attempts.push(attempt);
        // The first attempt hangs, as a stuck transcode would, until the timeout aborts it.
        if (job.retryCount === 0) {
          await new Promise<void>((resolve) => job.signal.addEventListener('abort', () => resolve()));
          attempt.aborted = true;
          throw new Error('aborted');
        }
      });
      await queue.send('slow', { x: 1 }, { timeoutSeconds: 2 });
      await until(async () => (await queue.counts('slow')).completed === 1, 30_000);
      expect(attempts).toEqual([{ retryCount: 0, aborted: true }, { retryCount: 1, aborted: false }]);
    }, 45_000);
  });
}
