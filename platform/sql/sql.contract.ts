import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { migrate, type Migration } from './migrate.js';
import { isUniqueViolation, sqlState } from './sql-errors.js';
import type { Sql } from './sql.js';

/** Opens the adapter under test (a fresh, empty database) and says how to dispose of it. */
export interface SqlSubject {
  sql: Sql;
  cleanup?: () => Promise<void>;
}

/** Catches the rejection of p, failing the test when p resolves. */
async function rejection(p: Promise<unknown>): Promise<Error & { code?: string }> {
  try {
    await p;
  } catch (err) {
    return err as Error & { code?: string };
  }
  throw new Error('expected a rejection');
}

/**
 * The Sql port's contract: every adapter (PGlite, Postgres) must pass it unchanged, so code written
 * against one runs on the other. Each test uses its own tables, so the subject is opened once.
 */
export function sqlContract(name: string, open: () => Promise<SqlSubject>): void {
  describe(`Sql contract: ${name}`, () => {
    let subject: SqlSubject;
    let sql: Sql;

    beforeAll(async () => {
      subject = await open();
      sql = subject.sql;
    });

    afterAll(async () => {
      await sql?.close();
      await subject?.cleanup?.();
    });

    it('binds $n parameters and returns int, bigint, text, timestamptz, jsonb, bool and null with JS types', async () => {
      await sql.query(`CREATE TABLE typed (
        id int PRIMARY KEY, big bigint, name text, at timestamptz, doc jsonb, ok bool, note text)`);
      const at = new Date('2024-05-06T07:08:09.123Z');
      const doc = { renditions: ['720p', '480p'], nested: { n: 1.5, flag: false } };
      await sql.query(`INSERT INTO typed VALUES ($1, $2, $3, $4, $5, $6, $7)`, [1, 42, 'héllo; world', at, doc, true, null]);
      // jsonb given as JSON text works the same way (needed for top-level arrays on pg, which sends JS arrays as SQL arrays).
      await sql.query(`INSERT INTO typed VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7)`, [2, 9007199254740993n, 'b', at, '[1,2]', false, 'x']);
      const rows = await sql.query<{ id: number; big: number | bigint; name: string; at: Date; doc: unknown; ok: boolean; note: string | null }>(
        `SELECT * FROM typed WHERE id = ANY($1::int[]) ORDER BY id`,
        [[1, 2]],
      );
      expect(rows).toHaveLength(2);
      expect(rows[0]).toEqual({ id: 1, big: 42, name: 'héllo; world', at, doc, ok: true, note: null });
      expect(rows[0].at).toBeInstanceOf(Date);
      expect(typeof rows[0].id).toBe('number');
      expect(rows[1].big).toBe(9007199254740993n); // beyond 2^53: BigInt, never a rounded number
      expect(rows[1].doc).toEqual([1, 2]);
      expect(rows[1].ok).toBe(false);
      const [count] = await sql.query<{ n: number }>(`SELECT count(*) AS n FROM typed`);
      expect(count.n).toBe(2); // count(*) is bigint: a number on both adapters
    });

    it('returns [] for no rows and RETURNING rows for writes', async () => {
      await sql.query(`CREATE TABLE ret (id serial PRIMARY KEY, v text NOT NULL)`);
      expect(await sql.query(`SELECT * FROM ret`)).toEqual([]);
      const inserted = await sql.query<{ id: number }>(`INSERT INTO ret (v) VALUES ($1), ($2) RETURNING id`, ['a', 'b']);
      expect(inserted).toEqual([{ id: 1 }, { id: 2 }]);
      expect(await sql.query(`UPDATE ret SET v = 'z' WHERE id = $1 RETURNING v`, [2])).toEqual([{ v: 'z' }]);
    });

    it('runs several statements given as one parameterless text (migrations) and answers the last', async () => {
      const rows = await sql.query<{ n: number }>(`CREATE TABLE multi (n int); INSERT INTO multi VALUES (7); SELECT n FROM multi`);
      expect(rows).toEqual([{ n: 7 }]);
    });

    it('commits a transaction when fn resolves and returns its value', async () => {
      await sql.query(`CREATE TABLE committed (id int PRIMARY KEY)`);
      const result = await sql.tx(async (q) => {
        await q.query(`INSERT INTO committed VALUES ($1)`, [1]);
        await q.query(`INSERT INTO committed VALUES ($1)`, [2]);
        return (await q.query<{ id: number }>(`SELECT id FROM committed ORDER BY id`)).map((r) => r.id);
      });
      expect(result).toEqual([1, 2]);
      expect(await sql.query(`SELECT id FROM committed ORDER BY id`)).toEqual([{ id: 1 }, { id: 2 }]);
    });

    it('rolls back everything when fn throws, rethrowing the same error', async () => {
      await sql.query(`CREATE TABLE rolled (id int PRIMARY KEY)`);
      const boom = new Error('boom');
      const err = await rejection(
        sql.tx(async (q) => {
          await q.query(`INSERT INTO rolled VALUES (1)`);
          throw boom;
        }),
      );
      expect(err).toBe(boom);
      expect(await sql.query(`SELECT * FROM rolled`)).toEqual([]);
      // The adapter is still usable afterwards.
      await sql.tx((q) => q.query(`INSERT INTO rolled VALUES (2)`));
      expect(await sql.query(`SELECT id FROM rolled`)).toEqual([{ id: 2 }]);
    });

    it('joins the outer transaction from a nested tx: one throw undoes both', async () => {
      await sql.query(`CREATE TABLE nested (id int PRIMARY KEY)`);
      await expect(
        sql.tx(async (outer) => {
          await outer.query(`INSERT INTO nested VALUES (1)`);
          await outer.tx((inner) => inner.query(`INSERT INTO nested VALUES (2)`));
          throw new Error('after inner');
        }),
      ).rejects.toThrow('after inner');
      expect(await sql.query(`SELECT * FROM nested`)).toEqual([]);
    });

    it('surfaces a unique violation as an Error with code 23505, in and out of a transaction', async () => {
      await sql.query(`CREATE TABLE uniq (email text UNIQUE)`);
      await sql.query(`INSERT INTO uniq VALUES ($1)`, ['a@example.com']);
      const plain = await rejection(sql.query(`INSERT INTO uniq VALUES ($1)`, ['a@example.com']));
      expect(plain).toBeInstanceOf(Error);
      expect(plain.code).toBe('23505');
      expect(isUniqueViolation(plain)).toBe(true);
      expect(sqlState(await rejection(sql.query(`SELECT * FROM no_such_table`)))).toBe('42P01');
      const inTx = await rejection(
        sql.tx(async (q) => {
          await q.query(`INSERT INTO uniq VALUES ($1)`, ['b@example.com']);
          await q.query(`INSERT INTO uniq VALUES ($1)`, ['a@example.com']);
        }),
      );
      expect(inTx.code).toBe('23505');
      expect(await sql.query(`SELECT email FROM uniq`)).toEqual([{ email: 'a@example.com' }]);
    });

    it('migrate() applies pending migrations in id order, once', async () => {
      // Given out of order: 0002 depends on 0001, so only id order works.
      const first: Migration[] = [
        { id: '0002_add_title', up: `ALTER TABLE mig_videos ADD COLUMN title text NOT NULL DEFAULT 'untitled';` },
        { id: '0001_videos', up: `CREATE TABLE mig_videos (id serial PRIMARY KEY); CREATE INDEX mig_videos_id ON mig_videos (id);` },
      ];
      expect(await migrate(sql, first)).toEqual(['0001_videos', '0002_add_title']);
      expect(await migrate(sql, first)).toEqual([]);
      const more = [...first, { id: '0003_seed', up: `INSERT INTO mig_videos (title) VALUES ('first')` }];
      expect(await migrate(sql, more)).toEqual(['0003_seed']);
      expect(await migrate(sql, more)).toEqual([]);
      expect(await sql.query(`SELECT id, title FROM mig_videos`)).toEqual([{ id: 1, title: 'first' }]);
      const recorded = await sql.query<{ id: string }>(`SELECT id FROM schema_migrations ORDER BY applied_at, id`);
      expect(recorded.map((r) => r.id)).toEqual(['0001_videos', '0002_add_title', '0003_seed']);
    });

    it('rolls back a failing migration and applies nothing of it', async () => {
      const bad: Migration[] = [{ id: '0100_bad', up: `CREATE TABLE mig_bad (id int); SELECT * FROM no_such_table;` }];
      await expect(migrate(sql, bad)).rejects.toThrow();
      expect(await sql.query(`SELECT to_regclass('mig_bad') AS t`)).toEqual([{ t: null }]);
      expect(await sql.query(`SELECT id FROM schema_migrations WHERE id = '0100_bad'`)).toEqual([]);
    });
  });
}
