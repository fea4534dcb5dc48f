import pg from 'pg';
import type { Logger } from '../logger.js';
import type { Sql } from './sql.js';

/** Pool settings for openPostgres. */
export interface PostgresOptions {
  /** Most connections the pool opens (default 10). */
  max?: number;
  idleTimeoutMs?: number;
  connectionTimeoutMs?: number;
  applicationName?: string;
  /** Receives errors of idle pooled connections (a restarted server), which would otherwise crash the process. */
  logger?: Logger;
}

const INT8_OID = 20;

/**
 * Type parsers matching PGlite, so code behaves the same on both adapters: bigint (count(*), sums)
 * becomes a number when it is a safe integer and a BigInt beyond 2^53, instead of pg's string.
 */
const typeParsers: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') => {
    if (oid === INT8_OID && format !== 'binary') {
      return (value: string) => {
        const n = Number(value);
        return Number.isSafeInteger(n) ? n : BigInt(value);
      };
    }
    return pg.types.getTypeParser(oid, format);
  }) as pg.CustomTypesConfig['getTypeParser'],
};

type Runner = Pick<pg.PoolClient, 'query'>;

/** Runs text on a pool or client; several statements without params (migrations) answer the last one's rows. */
async function run<R>(db: Runner, text: string, params: readonly unknown[]): Promise<R[]> {
  const res = (await db.query(text, params.length ? (params as unknown[]) : undefined)) as
    | pg.QueryResult
    | pg.QueryResult[];
  const last = Array.isArray(res) ? res.at(-1) : res;
  return (last?.rows ?? []) as R[];
}

/** One checked-out connection inside BEGIN … COMMIT; nested tx() joins it. */
class PgTransactionSql implements Sql {
  constructor(private readonly client: pg.PoolClient) {}

  query<R = Record<string, unknown>>(text: string, params: readonly unknown[] = []): Promise<R[]> {
    return run<R>(this.client, text, params);
  }

  tx<T>(fn: (q: Sql) => Promise<T>): Promise<T> {
    return fn(this);
  }

  async close(): Promise<void> {}
}

/** A pg Pool as a Sql port. */
class PostgresSql implements Sql {
  constructor(private readonly pool: pg.Pool) {}

  query<R = Record<string, unknown>>(text: string, params: readonly unknown[] = []): Promise<R[]> {
    return run<R>(this.pool, text, params);
  }

  async tx<T>(fn: (q: Sql) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      const result = await fn(new PgTransactionSql(client));
      await client.query('COMMIT');
      client.release();
      return result;
    } catch (err) {
      // A connection that cannot even roll back (server gone) is destroyed, not returned to the pool.
      await client.query('ROLLBACK').then(
        () => client.release(),
        (rollbackErr: Error) => client.release(rollbackErr),
      );
      throw err;
    }
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

/** Opens a Postgres pool on url (postgres://user:pass@host:port/db). Connections open lazily. */
export function openPostgres(url: string, opts: PostgresOptions = {}): Sql {
  const pool = new pg.Pool({
    connectionString: url,
    max: opts.max ?? 10,
    idleTimeoutMillis: opts.idleTimeoutMs ?? 30_000,
    connectionTimeoutMillis: opts.connectionTimeoutMs ?? 10_000,
    application_name: opts.applicationName ?? 'streamforge',
    types: typeParsers,
  });
  pool.on('error', (err) => opts.logger?.warn({ err }, 'idle postgres connection failed'));
  return new PostgresSql(pool);
}
