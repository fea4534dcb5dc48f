import crypto from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPglite, openPostgres, type Sql } from '../../platform/index.js';
import { dropPostgresDatabase, freshPostgresDatabase } from '../../platform/test-support/env.js';
import type { ProfileView, TitleView } from '../contract.js';
import { createTestApp, type TestApp } from '../test-support/test-app.js';
import { addProfile, publishedTitle, readyAsset } from '../test-support/catalog-fixtures.js';

const ADMIN = `admin-${crypto.randomUUID()}@example.test`;

/**
 * What a household does with the catalog: progress and continue watching across a series, My List,
 * likes under concurrency, ratings and comment threads. Runs on PGlite and on the real Postgres.
 */
function engagementFlow(open: () => Promise<{ sql: Sql; drop?: () => Promise<void> }>) {
  let t: TestApp;
  let drop: (() => Promise<void>) | undefined;
  let creator: Awaited<ReturnType<TestApp['signup']>>;
  let family: Awaited<ReturnType<TestApp['signup']>>;
  let adult: ProfileView;
  let kids: ProfileView;
  let movie: TitleView;
  let rMovie: TitleView;
  let series: TitleView;
  const episodes: TitleView[] = [];
  const put = (url: string, payload?: object, headers = family.auth) => t.app.inject({ method: 'PUT', url, headers, payload });
  const get = (url: string, headers: Record<string, string> = family.auth) => t.app.inject({ method: 'GET', url, headers });
  const progress = (profile: string, title: string, body: object) => put(`/v1/profiles/${profile}/progress/${title}`, body);

  beforeAll(async () => {
    const db = await open();
    drop = db.drop;
    t = await createTestApp({ sql: db.sql, env: { ADMIN_EMAILS: ADMIN, COMMENTS_PER_WINDOW: '5' } });
    creator = await t.signup();
    family = await t.signup();
    adult = (await get('/v1/profiles')).json().items[0];
    kids = await addProfile(t, family.auth, { name: 'Kid', kind: 'kids' });
    movie = await publishedTitle(t, creator, { name: 'Paddington', maturityRating: 'G', genres: ['children', 'comedy'] });
    rMovie = await publishedTitle(t, creator, { name: 'Heat', maturityRating: 'R', genres: ['crime'] });
    series = await publishedTitle(t, creator, { type: 'series', name: 'Bluey', maturityRating: 'G', genres: ['animation'] });
    for (const [season, episode] of [[1, 1], [1, 2], [2, 1]]) {
      const res = await t.app.inject({
        method: 'POST', url: '/v1/titles', headers: creator.auth,
        payload: { type: 'episode', seriesId: series.id, season, episode, name: `S${season}E${episode}`, maturityRating: 'G', assetId: await readyAsset(t, creator.accountId, 420) },
      });
      episodes.push((await t.app.inject({ method: 'POST', url: `/v1/titles/${res.json().id}/publish`, headers: creator.auth })).json());
    }
  });
  afterAll(async () => {
    await t?.close();
    await t?.sql.close();
    await drop?.();
  });

  it('keeps progress monotonic within a play session and marks 95% finished', async () => {
    const s1 = crypto.randomUUID();
    expect((await progress(adult.id, movie.id, { positionSeconds: 120, sessionId: s1 })).json()).toMatchObject({ positionSeconds: 120, finished: false });
    // A late report of the same session does not rewind; the same report again changes nothing.
    expect((await progress(adult.id, movie.id, { positionSeconds: 90, sessionId: s1 })).json().positionSeconds).toBe(120);
    expect((await progress(adult.id, movie.id, { positionSeconds: 120, sessionId: s1 })).json().positionSeconds).toBe(120);
    // A new session may start earlier (a rewatch from the start).
    expect((await progress(adult.id, movie.id, { positionSeconds: 30, sessionId: crypto.randomUUID() })).json().positionSeconds).toBe(30);
    // Past the end is clamped to the duration; 95% is finished.
    const end = (await progress(adult.id, movie.id, { positionSeconds: 99_999, sessionId: crypto.randomUUID() })).json();
    expect(end).toMatchObject({ positionSeconds: 600, finished: true });
    const [{ n }] = await t.sql.query<{ n: number }>(`SELECT popularity::int AS n FROM titles WHERE id = $1`, [movie.id]);
    expect(n).toBe(3); // three sessions, three views
    // The title shows the profile's progress.
    const view = (await get(`/v1/titles/${movie.id}?profileId=${adult.id}`)).json();
    expect(view.viewer).toMatchObject({ progress: { positionSeconds: 600, finished: true }, liked: false, inWatchlist: false, rating: null });
    // Bad input and titles the profile may not see.
    expect((await progress(adult.id, movie.id, { positionSeconds: -1 })).statusCode).toBe(400);
    expect((await progress(kids.id, rMovie.id, { positionSeconds: 10 })).statusCode).toBe(404);
    expect((await progress(adult.id, series.id, { positionSeconds: 10 })).json().code).toBe('NOT_PLAYABLE');
    const other = await t.signup();
    expect((await t.app.inject({ method: 'PUT', url: `/v1/profiles/${adult.id}/progress/${movie.id}`, headers: other.auth, payload: { positionSeconds: 1 } })).statusCode).toBe(404);
  });

  it('orders continue watching by recency, resumes, and offers the next episode after a finished one', async () => {
    const kid = kids.id;
    await progress(kid, movie.id, { positionSeconds: 200, sessionId: 'a' });
    await progress(kid, episodes[0].id, { positionSeconds: 420, sessionId: 'b' }); // S1E1 finished
    let items = (await get(`/v1/profiles/${kid}/continue-watching`)).json().items;
    expect(items.map((i: { title: TitleView; reason: string; positionSeconds: number }) => [i.title.name, i.reason, i.positionSeconds])).toEqual([
      ['S1E2', 'next-episode', 0],
      ['Paddington', 'resume', 200],
    ]);
    // Starting S1E2 makes it a resume point; finishing it offers S2E1 (the next season).
    await progress(kid, episodes[1].id, { positionSeconds: 60, sessionId: 'c' });
    items = (await get(`/v1/profiles/${kid}/continue-watching`)).json().items;
    expect(items[0]).toMatchObject({ title: { name: 'S1E2' }, reason: 'resume', positionSeconds: 60 });
    await progress(kid, episodes[1].id, { positionSeconds: 0, finished: true, sessionId: 'c' });
    items = (await get(`/v1/profiles/${kid}/continue-watching`)).json().items;
    expect(items[0]).toMatchObject({ title: { name: 'S2E1' }, reason: 'next-episode' });
    // Resuming the movie brings it to the front; finishing the last episode ends the series' entry.
    await progress(kid, movie.id, { positionSeconds: 250, sessionId: 'a' });
    await progress(kid, episodes[2].id, { positionSeconds: 419, sessionId: 'd' });
    items = (await get(`/v1/profiles/${kid}/continue-watching`)).json().items;
    expect(items.map((i: { title: TitleView }) => i.title.name)).toEqual(['Paddington']);
    const history = (await get(`/v1/profiles/${kid}/history?limit=2`)).json();
    expect(history.items.map((i: { title: TitleView }) => i.title.name)).toEqual(['S2E1', 'Paddington']);
    const more = (await get(`/v1/profiles/${kid}/history?limit=10&cursor=${history.nextCursor}`)).json();
    expect(more.items.map((i: { title: TitleView }) => i.title.name)).toEqual(['S1E2', 'S1E1']);
    // The browse row of the same.
    const rows = (await get(`/v1/browse?profileId=${kid}`)).json().rows as { id: string; items: TitleView[] }[];
    expect(rows[0].id).toBe('continue-watching');
    expect(rows[0].items[0].viewer?.progress?.positionSeconds).toBe(250);
  });

  it('keeps My List per profile, idempotent, newest first', async () => {
    expect((await put(`/v1/profiles/${adult.id}/watchlist/${rMovie.id}`)).statusCode).toBe(204);
    expect((await put(`/v1/profiles/${adult.id}/watchlist/${movie.id}`)).statusCode).toBe(204);
    expect((await put(`/v1/profiles/${adult.id}/watchlist/${movie.id}`)).statusCode).toBe(204);
    expect((await put(`/v1/profiles/${kids.id}/watchlist/${rMovie.id}`)).statusCode).toBe(404);
    const list = (await get(`/v1/profiles/${adult.id}/watchlist`)).json();
    expect(list.items.map((x: TitleView) => x.name)).toEqual(['Paddington', 'Heat']);
    expect((await get(`/v1/profiles/${kids.id}/watchlist`)).json().items).toEqual([]);
    expect((await t.app.inject({ method: 'DELETE', url: `/v1/profiles/${adult.id}/watchlist/${rMovie.id}`, headers: family.auth })).statusCode).toBe(204);
    expect((await get(`/v1/profiles/${adult.id}/watchlist`)).json().items.map((x: TitleView) => x.name)).toEqual(['Paddington']);
    expect((await get(`/v1/titles/${movie.id}?profileId=${adult.id}`)).json().viewer.inWatchlist).toBe(true);
  });

  it('counts a storm of 200 concurrent likes exactly, and unlikes too', async () => {
    const likers: { auth: { authorization: string }; profileId: string }[] = [];
    const accounts = await Promise.all(Array.from({ length: 34 }, () => t.signup()));
    for (const a of accounts) {
      const profiles = [(await t.app.inject({ method: 'GET', url: '/v1/profiles', headers: a.auth })).json().items[0] as ProfileView];
      for (let i = 0; i < 5; i++) profiles.push(await addProfile(t, a.auth, { name: `p${i}` }));
      for (const p of profiles) likers.push({ auth: a.auth, profileId: p.id });
    }
    const url = (p: string) => `/v1/titles/${movie.id}/like?profileId=${p}`;
    const storm = await Promise.all(likers.slice(0, 200).map((l) => t.app.inject({ method: 'PUT', url: url(l.profileId), headers: l.auth })));
    expect(storm.every((r) => r.statusCode === 200)).toBe(true);
    const count = async () => (await get(`/v1/titles/${movie.id}?profileId=${adult.id}`)).json().likes as number;
    expect(await count()).toBe(200);
    // 50 unlikes and 50 repeated likes at once: 150 remain.
    const mixed = await Promise.all([
      ...likers.slice(0, 50).map((l) => t.app.inject({ method: 'DELETE', url: url(l.profileId), headers: l.auth })),
      ...likers.slice(50, 100).map((l) => t.app.inject({ method: 'PUT', url: url(l.profileId), headers: l.auth })),
    ]);
    expect(mixed.every((r) => r.statusCode === 200)).toBe(true);
    expect(await count()).toBe(150);
    const [{ n }] = await t.sql.query<{ n: number }>(`SELECT count(*)::int AS n FROM title_likes WHERE title_id = $1`, [movie.id]);
    expect(n).toBe(150);
    expect((await t.app.inject({ method: 'PUT', url: `/v1/titles/${movie.id}/like`, headers: family.auth })).json().code).toBe('PROFILE_REQUIRED');
  });

  it('keeps one rating per profile and the average right', async () => {
    const rate = (profileId: string, value: number) => put(`/v1/titles/${movie.id}/rating?profileId=${profileId}`, { value });
    expect((await rate(adult.id, 5)).json()).toEqual({ value: 5, average: 5, count: 1 });
    expect((await rate(kids.id, 2)).json()).toEqual({ value: 2, average: 3.5, count: 2 });
    expect((await rate(kids.id, 4)).json()).toEqual({ value: 4, average: 4.5, count: 2 });
    expect((await rate(adult.id, 6)).statusCode).toBe(400);
    const removed = await t.app.inject({ method: 'DELETE', url: `/v1/titles/${movie.id}/rating?profileId=${adult.id}`, headers: family.auth });
    expect(removed.json()).toEqual({ value: null, average: 4, count: 1 });
    const view = (await get(`/v1/titles/${movie.id}?profileId=${kids.id}`)).json();
    expect(view.rating).toEqual({ average: 4, count: 1 });
    expect(view.viewer.rating).toBe(4);
  });

  it('threads comments one level deep, limits them, and lets authors delete and admins hide', async () => {
    const admin = await t.signup(ADMIN);
    const adminProfile = (await t.app.inject({ method: 'GET', url: '/v1/profiles', headers: admin.auth })).json().items[0].id as string;
    const post = (body: object, who = family.auth, profileId = adult.id) =>
      t.app.inject({ method: 'POST', url: `/v1/titles/${movie.id}/comments?profileId=${profileId}`, headers: who, payload: body });
    const top = await post({ body: '  Loved the marmalade scene.  ' });
    expect(top.statusCode).toBe(201);
    expect(top.json()).toMatchObject({ body: 'Loved the marmalade scene.', author: { name: adult.name }, mine: true, parentId: null });
    const reply = await post({ body: 'Same!', parentId: top.json().id }, admin.auth, adminProfile);
    expect(reply.statusCode).toBe(201);
    expect((await post({ body: 'deeper', parentId: reply.json().id })).json().code).toBe('THREAD_TOO_DEEP');
    expect((await post({ body: '   ' })).json().code).toBe('COMMENT_EMPTY');
    expect((await post({ body: 'x'.repeat(2001) })).json().code).toBe('COMMENT_TOO_LONG');
    const list = (await get(`/v1/titles/${movie.id}/comments?profileId=${adult.id}`)).json();
    expect(list.items[0]).toMatchObject({ id: top.json().id, replyCount: 1, replies: [{ body: 'Same!', mine: false }] });
    // Only the author or an admin deletes; a deleted comment with replies stays as a tombstone.
    const stranger = await t.signup();
    expect((await t.app.inject({ method: 'DELETE', url: `/v1/titles/${movie.id}/comments/${top.json().id}`, headers: stranger.auth })).statusCode).toBe(403);
    expect((await t.app.inject({ method: 'DELETE', url: `/v1/titles/${movie.id}/comments/${top.json().id}`, headers: family.auth })).statusCode).toBe(204);
    const after = (await get(`/v1/titles/${movie.id}/comments?profileId=${adult.id}`)).json().items[0];
    expect(after).toMatchObject({ status: 'deleted', body: '', author: { name: '' }, replyCount: 1 });
    // Admins hide; a hidden comment is gone for everyone else.
    const spam = await post({ body: 'buy cheap watches' });
    expect((await t.app.inject({ method: 'PATCH', url: `/v1/titles/${movie.id}/comments/${spam.json().id}`, headers: family.auth, payload: { hidden: true } })).statusCode).toBe(403);
    const hidden = await t.app.inject({ method: 'PATCH', url: `/v1/titles/${movie.id}/comments/${spam.json().id}`, headers: admin.auth, payload: { hidden: true } });
    expect(hidden.json().status).toBe('hidden');
    const ids = (await get(`/v1/titles/${movie.id}/comments?profileId=${adult.id}`)).json().items.map((c: { id: string }) => c.id);
    expect(ids).not.toContain(spam.json().id);
    const adminIds = (await get(`/v1/titles/${movie.id}/comments?profileId=${adminProfile}`, admin.auth)).json().items.map((c: { id: string }) => c.id);
    expect(adminIds).toContain(spam.json().id);
    // COMMENTS_PER_WINDOW=5 per account: this account has posted 3 (2 refused before counting).
    await post({ body: 'four' });
    await post({ body: 'five' });
    const limited = await post({ body: 'six' });
    expect(limited.statusCode).toBe(429);
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    // A kids profile cannot comment on (or read comments of) what it may not see.
    expect((await t.app.inject({ method: 'GET', url: `/v1/titles/${rMovie.id}/comments?profileId=${kids.id}`, headers: family.auth })).statusCode).toBe(404);
  });

  it('tells the accounts that list a series of its new episodes (if the listing profile may see them)', async () => {
    const other = await t.signup();
    const otherKid = await addProfile(t, other.auth, { name: 'Kid', kind: 'kids' });
    await put(`/v1/profiles/${kids.id}/watchlist/${series.id}`);
    await put(`/v1/profiles/${otherKid.id}/watchlist/${series.id}`, undefined, other.auth);
    const publishEpisode = async (episode: number, rating: string) => {
      const res = await t.app.inject({
        method: 'POST', url: '/v1/titles', headers: creator.auth,
        payload: { type: 'episode', seriesId: series.id, season: 3, episode, name: `S3E${episode}`, maturityRating: rating, assetId: await readyAsset(t, creator.accountId) },
      });
      await t.app.inject({ method: 'POST', url: `/v1/titles/${res.json().id}/publish`, headers: creator.auth });
      return res.json().id as string;
    };
    const g = await publishEpisode(1, 'G');
    await publishEpisode(2, 'PG-13'); // above both kids profiles' PG ceiling: nobody listed it who may see it
    const mine = (await get('/v1/notifications')).json().items as { kind: string; data: { titleId: string } }[];
    expect(mine.filter((n) => n.kind === 'series.newEpisode').map((n) => n.data.titleId)).toEqual([g]);
    const theirs = (await get('/v1/notifications', other.auth)).json().items as { kind: string; data: { titleId: string } }[];
    expect(theirs.map((n) => n.data.titleId)).toEqual([g]);
  });

  it('puts what is watched into trending and "because you watched"', async () => {
    await publishedTitle(t, creator, { name: 'Ronin', maturityRating: 'R', genres: ['crime', 'thriller'] });
    await progress(adult.id, rMovie.id, { positionSeconds: 300, sessionId: 'heat' });
    // New views refresh trending at most every 10 s: step past that window.
    await t.services.catalog.browse.viewsChanged(Date.now() + 60_000);
    const rows = (await get(`/v1/browse?rows=30&profileId=${adult.id}`)).json().rows as { id: string; items: TitleView[] }[];
    const trending = rows.find((r) => r.id === 'trending')!;
    expect(trending.items.map((x) => x.name)).toEqual(expect.arrayContaining(['Paddington', 'Heat', 'Bluey']));
    expect(trending.items.every((x) => x.type !== 'episode')).toBe(true);
    const kidsTrending = (await get(`/v1/browse?rows=30&profileId=${kids.id}`)).json().rows.find((r: { id: string }) => r.id === 'trending');
    expect(kidsTrending.items.map((x: TitleView) => x.name)).not.toContain('Heat');
    const because = rows.find((r) => r.id === `because:${rMovie.id}`)!;
    expect(because.items.map((x) => x.name)).toEqual(['Ronin']);
    expect((await get(`/v1/browse/rows/because:${rMovie.id}?profileId=${adult.id}`)).json().title).toBe('Because you watched Heat');
  });
}

describe('engagement on PGlite', () => {
  engagementFlow(async () => ({ sql: await openPglite() }));
});

describe.skipIf(!process.env.TEST_DATABASE_URL)('engagement on Postgres (skipped when TEST_DATABASE_URL is not set)', () => {
  engagementFlow(async () => {
    const url = await freshPostgresDatabase();
    return { sql: openPostgres(url, { max: 10 }), drop: () => dropPostgresDatabase(url) };
  });
});
