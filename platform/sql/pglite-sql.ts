import { PGlite, type Transaction } from '@electric-sql/pglite';
import { pg_trgm } from '@electric-sql/pglite/contrib/pg_trgm';
import type { Sql } from './sql.js';

type Queryable = Pick<Transaction, 'query' | 'exec'>;

/** Wraps a PGlite handle (or one of its transactions) as a Sql port. */
class PgliteSql implements Sql {
  constructor(
    private readonly db: Queryable,
    private readonly root?: PGlite,
  ) {}

  async query<R>(text: string, params: readonly unknown[] = []): Promise<R[]> {
    if (params.length === 0 && text.includes(';')) {
      // Multi-statement text (migrations) goes through exec, which allows several statements.
      const results = await this.db.exec(text);
      return (results.at(-1)?.rows ?? []) as R[];
    }
    const res = await this.db.query<R>(text, params as unknown[]);
    return res.rows;
  }

  async tx<T>(fn: (q: Sql) => Promise<T>): Promise<T> {
    if (!this.root) return fn(this); // already inside a transaction: join it
    return this.root.transaction((t) => fn(new PgliteSql(t)));
  }

  async close(): Promise<void> {
    await this.root?.close();
  }
}

/**
 * Opens embedded Postgres persisted in dataDir (created if missing), or in memory when dataDir is
 * undefined. pg_trgm (catalog search) is available to CREATE EXTENSION, as on a Debian Postgres.
 */
export async function openPglite(dataDir?: string): Promise<Sql> {
  const db = await PGlite.create({ ...(dataDir ? { dataDir } : {}), extensions: { pg_trgm } });
  return new PgliteSql(db, db);
}
