import { describe, it, expect } from 'vitest';
import { inject } from 'vitest';
import pg from 'pg';
import { testEnv } from './env.js';

describe('test env', () => {
  it('probe', async () => {
    console.log('ENV', process.env.TEST_DATABASE_URL, JSON.stringify(inject('testEnv')));
    const c = new pg.Client({ connectionString: testEnv().databaseUrl });
    await c.connect();
    const r = await c.query('select version()');
    await c.end();
    expect(r.rows[0].version).toMatch(/PostgreSQL 15/);
  });
});
