import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, it, expect } from 'vitest';
import { dropPostgresDatabase, freshPostgresDatabase, tempDir } from '../test-support/env.js';
import { openPglite } from './pglite-sql.js';
import { openPostgres } from './postgres-sql.js';
import { sqlContract } from './sql.contract.js';

sqlContract('PGlite in memory', async () => ({ sql: await openPglite() }));

sqlContract('PGlite persisted in a temp dir', async () => {
  const dir = await tempDir('streamforge-pglite-');
  return { sql: await openPglite(path.join(dir, 'db')), cleanup: () => fs.rm(dir, { recursive: true, force: true }) };
});

sqlContract('Postgres (test server, fresh database)', async () => {
  const url = await freshPostgresDatabase();
  return { sql: openPostgres(url, { max: 4 }), cleanup: () => dropPostgresDatabase(url) };
});

describe('PGlite persistence', () => {
  it('keeps committed rows across close and reopen of the same data dir', async () => {
    const dir = await tempDir('streamforge-pglite-');
    try {
      const dataDir = path.join(dir, 'db');
      const first = await openPglite(dataDir);
      await first.query(`CREATE TABLE kept (id int PRIMARY KEY, v text)`);
      await first.tx((q) => q.query(`INSERT INTO kept VALUES ($1, $2)`, [1, 'survives']));
      await first.close();

      const second = await openPglite(dataDir);
      expect(await second.query(`SELECT * FROM kept`)).toEqual([{ id: 1, v: 'survives' }]);
      await second.close();
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  }, 60_000); // two PGlite opens of a data dir: seconds each on a busy machine
});

describe('Postgres pool', () => {
  it('runs transactions on separate connections concurrently without mixing them', async () => {
    const url = await freshPostgresDatabase();
    const sql = openPostgres(url, { max: 4 });
    try {
      await sql.query(`CREATE TABLE concurrent (id int PRIMARY KEY)`);
      const okTx = sql.tx(async (q) => {
        await q.query(`INSERT INTO concurrent VALUES (1)`);
        await new Promise((r) => setTimeout(r, 50));
        // Uncommitted work of this tx is invisible to a query on another connection.
        expect(await sql.query(`SELECT * FROM concurrent`)).toEqual([]);
      });
      const failingTx = sql.tx(async (q) => {
        await q.query(`INSERT INTO concurrent VALUES (2)`);
        throw new Error('only this one rolls back');
      });
      await expect(failingTx).rejects.toThrow('only this one rolls back');
      await okTx;
      expect(await sql.query(`SELECT id FROM concurrent`)).toEqual([{ id: 1 }]);
    } finally {
      await sql.close();
      await dropPostgresDatabase(url);
    }
  });
});
