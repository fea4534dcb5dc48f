import crypto from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPglite, openPostgres, type Sql } from '../../platform/index.js';
import { dropPostgresDatabase, freshPostgresDatabase } from '../../platform/test-support/env.js';
import type { ProfileView, TitleView } from '../contract.js';
import { createTestApp, type TestApp } from '../test-support/test-app.js';
import { addProfile, publishedTitle } from '../test-support/catalog-fixtures.js';

const ADMIN = `admin-${crypto.randomUUID()}@example.test`;

/**
 * The recommender end to end: histories in the database, a refresh (training in its child process),
 * and what each profile is served. Two taste clusters make the right answer obvious.
 */
function recommendationsFlow(open: () => Promise<{ sql: Sql; drop?: () => Promise<void> }>) {
  let t: TestApp;
  let drop: (() => Promise<void>) | undefined;
  const scifi: TitleView[] = [];
  const romance: TitleView[] = [];
  let rScifi: TitleView;
  const fans: { auth: { authorization: string }; profile: ProfileView; taste: 'scifi' | 'romance' }[] = [];
  let kid: { auth: { authorization: string }; profile: ProfileView };
  const watch = (who: { auth: { authorization: string }; profile: ProfileView }, title: TitleView, finished = true) =>
    t.app.inject({ method: 'PUT', url: `/v1/profiles/${who.profile.id}/progress/${title.id}`, headers: who.auth, payload: { positionSeconds: finished ? 600 : 120, sessionId: crypto.randomUUID() } });
  const recs = async (who: { auth: { authorization: string }; profile: ProfileView }) =>
    (await t.app.inject({ method: 'GET', url: `/v1/profiles/${who.profile.id}/recommendations?limit=10`, headers: who.auth })).json();

  beforeAll(async () => {
    const db = await open();
    drop = db.drop;
    t = await createTestApp({ sql: db.sql, env: { ADMIN_EMAILS: ADMIN } });
    const creator = await t.signup();
    for (let k = 0; k < 6; k++) {
      scifi.push(await publishedTitle(t, creator, { name: `Star ${k}`, genres: ['sci-fi'], tags: ['space'], maturityRating: 'PG' }));
      romance.push(await publishedTitle(t, creator, { name: `Heart ${k}`, genres: ['romance'], tags: ['love'], maturityRating: 'PG' }));
    }
    rScifi = await publishedTitle(t, creator, { name: 'Dark Star', genres: ['sci-fi'], tags: ['space'], maturityRating: 'R' });
    for (let a = 0; a < 2; a++) {
      const account = await t.signup();
      const first = (await t.app.inject({ method: 'GET', url: '/v1/profiles', headers: account.auth })).json().items[0] as ProfileView;
      const profiles = [first, ...(await Promise.all([1, 2, 3].map((k) => addProfile(t, account.auth, { name: `p${k}` }))))];
      profiles.forEach((profile, k) => fans.push({ auth: account.auth, profile, taste: k % 2 === 0 ? 'scifi' : 'romance' }));
    }
    // Each fan watched four titles of their taste, offset so every pair of titles co-occurs.
    for (const [n, fan] of fans.entries()) {
      const list = fan.taste === 'scifi' ? scifi : romance;
      for (let k = 0; k < 4; k++) await watch(fan, list[(n + k) % list.length]);
    }
    const family = await t.signup();
    kid = { auth: family.auth, profile: await addProfile(t, family.auth, { name: 'Kid', kind: 'kids' }) };
    await watch(kid, scifi[0]);
    await watch(fans[0], rScifi);
  });
  afterAll(async () => {
    await t?.close();
    await t?.sql.close();
    await drop?.();
  });

  it('falls back to popular titles before the first refresh', async () => {
    const cold = await recs(fans[0]);
    expect(cold.source).toBe('popular-in-genres');
    expect(cold.items.every((x: TitleView) => x.genres.includes('sci-fi'))).toBe(true);
    const nobody = await t.signup();
    const fresh = (await t.app.inject({ method: 'GET', url: '/v1/profiles', headers: nobody.auth })).json().items[0] as ProfileView;
    const popular = await recs({ auth: nobody.auth, profile: fresh });
    expect(popular.source).toBe('popular');
    expect(popular.items.length).toBeGreaterThan(0);
  });

  it('recommends by taste after a refresh, never a finished title nor one above the ceiling', async () => {
    const report = await t.services.engagement.recommendations.refresh();
    expect(report.profiles).toBe(9);
    expect(report.titles).toBe(13);
    for (const fan of fans) {
      const got = await recs(fan);
      expect(got.source).toBe('personal');
      const mine = new Set((fan.taste === 'scifi' ? [...scifi, rScifi] : romance).map((x) => x.id));
      const finished = new Set(
        (await t.sql.query<{ title_id: string }>(`SELECT title_id FROM watch_progress WHERE profile_id = $1 AND finished`, [fan.profile.id])).map((r) => r.title_id),
      );
      // Titles of their taste they have not seen come first; nothing they finished at all.
      expect(got.items.slice(0, 2).every((x: TitleView) => mine.has(x.id)), `${fan.taste} ${fans.indexOf(fan)}: ${got.items.map((x: TitleView) => x.name).join(", ")}`).toBe(true);
      expect(got.items.some((x: TitleView) => finished.has(x.id))).toBe(false);
    }
    const kids = await recs(kid);
    expect(kids.items.length).toBeGreaterThan(0);
    expect(kids.items.some((x: TitleView) => x.id === rScifi.id || x.id === scifi[0].id)).toBe(false);
    // Finishing a recommended title removes it at once, before the next refresh.
    const first = (await recs(fans[1])).items[0] as TitleView;
    await watch(fans[1], first);
    expect((await recs(fans[1])).items.map((x: TitleView) => x.id)).not.toContain(first.id);
    // The browse row.
    const rows = (await t.app.inject({ method: 'GET', url: `/v1/browse?profileId=${fans[2].profile.id}`, headers: fans[2].auth })).json().rows as { id: string; items: TitleView[] }[];
    expect(rows.find((r) => r.id === 'recommended')!.items.length).toBeGreaterThan(0);
  });

  it('lets only admins ask for a refresh, and says when there is no job queue', async () => {
    const admin = await t.signup(ADMIN);
    expect((await t.app.inject({ method: 'POST', url: '/v1/recommendations/refresh', headers: fans[0].auth })).statusCode).toBe(403);
    const res = await t.app.inject({ method: 'POST', url: '/v1/recommendations/refresh', headers: admin.auth });
    expect(res.statusCode).toBe(503);
    expect(res.json().code).toBe('JOBS_UNAVAILABLE');
  });
}

describe('recommendations on PGlite', () => {
  recommendationsFlow(async () => ({ sql: await openPglite() }));
});

describe.skipIf(!process.env.TEST_DATABASE_URL)('recommendations on Postgres (skipped when TEST_DATABASE_URL is not set)', () => {
  recommendationsFlow(async () => {
    const url = await freshPostgresDatabase();
    return { sql: openPostgres(url, { max: 4 }), drop: () => dropPostgresDatabase(url) };
  });
});
