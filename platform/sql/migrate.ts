import type { Sql } from './sql.js';

/** One schema step; ids sort in the order they apply ("0001_accounts"). SQL must run on PGlite and Postgres. */
export interface Migration {
  id: string;
  up: string;
}

/** Applies every migration not yet recorded, each in its own transaction, under an advisory lock. */
export async function migrate(sql: Sql, migrations: readonly Migration[]): Promise<string[]> {
  await sql.query(`CREATE TABLE IF NOT EXISTS schema_migrations (id text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`);
  const applied: string[] = [];
  await sql.tx(async (q) => {
    // One migrator at a time when several processes boot against one Postgres.
    await q.query(`SELECT pg_advisory_xact_lock(727274)`);
    const done = new Set((await q.query<{ id: string }>(`SELECT id FROM schema_migrations`)).map((r) => r.id));
    for (const m of [...migrations].sort((a, b) => a.id.localeCompare(b.id))) {
      if (done.has(m.id)) continue;
      await q.query(m.up);
      await q.query(`INSERT INTO schema_migrations (id) VALUES ($1)`, [m.id]);
      applied.push(m.id);
    }
  });
  return applied;
}
