import crypto from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPglite, openPostgres, type Sql } from '../../platform/index.js';
import { dropPostgresDatabase, freshPostgresDatabase } from '../../platform/test-support/env.js';
import type { ProfileView, TitleView } from '../contract.js';
import { createTestApp, type TestApp } from '../test-support/test-app.js';
import { addProfile, publishedTitle, readyAsset } from '../test-support/catalog-fixtures.js';

const ADMIN = `admin-${crypto.randomUUID()}@example.test`;

/**
 * The catalog as a creator and a family see it: titles and series, publishing, the maturity ceiling
 * everywhere, filters, search and browse. Runs on PGlite and on the real Postgres.
 */
function catalogFlow(open: () => Promise<{ sql: Sql; drop?: () => Promise<void> }>) {
  let t: TestApp;
  let drop: (() => Promise<void>) | undefined;
  let creator: Awaited<ReturnType<TestApp['signup']>>;
  let family: Awaited<ReturnType<TestApp['signup']>>;
  let kids: ProfileView;
  let adult: ProfileView;
  let interstellar: TitleView;
  let rated: TitleView;
  let series: TitleView;
  const get = (url: string, headers?: Record<string, string>) => t.app.inject({ method: 'GET', url, headers });

  beforeAll(async () => {
    const db = await open();
    drop = db.drop;
    t = await createTestApp({ sql: db.sql, env: { ADMIN_EMAILS: ADMIN } });
    creator = await t.signup();
    family = await t.signup();
    adult = (await t.app.inject({ method: 'GET', url: '/v1/profiles', headers: family.auth })).json().items[0];
    kids = await addProfile(t, family.auth, { name: 'Kid', kind: 'kids' });
    interstellar = await publishedTitle(t, creator, {
      name: 'Interstellar', description: 'Explorers travel through a wormhole in space to ensure humanity survives.',
      genres: ['sci-fi', 'drama'], releaseDate: '2014-11-07', maturityRating: 'PG-13', cast: ['Matthew McConaughey', 'Anne Hathaway'],
      tags: ['space', 'time travel'], languages: ['en'],
    });
    rated = await publishedTitle(t, creator, {
      name: 'Blade Runner', description: 'A blade runner must pursue replicants in a dystopian Los Angeles.',
      genres: ['sci-fi', 'thriller'], releaseDate: '1982-06-25', maturityRating: 'R', cast: ['Harrison Ford'], tags: ['space', 'android'],
    });
    await publishedTitle(t, creator, { name: 'Toy Garden', description: 'Toys grow a garden.', genres: ['animation', 'children'], releaseDate: '2020-01-01', maturityRating: 'G' });
    series = await publishedTitle(t, creator, { type: 'series', name: 'Night Shift', description: 'Hospital drama.', genres: ['drama'], maturityRating: 'PG-13', releaseDate: '2019-01-01' });
  });
  afterAll(async () => {
    await t?.close();
    await t?.sql.close();
    await drop?.();
  });

  it('creates, edits and publishes a title; publishing waits for a ready asset', async () => {
    const draft = await t.app.inject({
      method: 'POST', url: '/v1/titles', headers: creator.auth,
      payload: { type: 'movie', name: 'Draft', maturityRating: 'PG', genres: ['comedy'], releaseDate: '2021-03-04' },
    });
    expect(draft.statusCode).toBe(201);
    const id = draft.json().id as string;
    expect(draft.json()).toMatchObject({ status: 'draft', year: 2021, releaseDate: '2021-03-04', likes: 0, rating: { average: null, count: 0 } });
    const noAsset = await t.app.inject({ method: 'POST', url: `/v1/titles/${id}/publish`, headers: creator.auth });
    expect(noAsset.statusCode).toBe(409);
    expect(noAsset.json().code).toBe('ASSET_REQUIRED');
    const preparing = crypto.randomUUID();
    await t.services.assets.createUploaded({ id: preparing, accountId: creator.accountId, uploadId: crypto.randomUUID(), title: 'p' });
    expect((await t.app.inject({ method: 'PATCH', url: `/v1/titles/${id}`, headers: creator.auth, payload: { assetId: preparing } })).statusCode).toBe(200);
    const notReady = await t.app.inject({ method: 'POST', url: `/v1/titles/${id}/publish`, headers: creator.auth });
    expect(notReady.json().code).toBe('ASSET_NOT_READY');
    // Someone else's asset is not found, so it cannot be attached.
    const foreign = await readyAsset(t, family.accountId);
    expect((await t.app.inject({ method: 'PATCH', url: `/v1/titles/${id}`, headers: creator.auth, payload: { assetId: foreign } })).statusCode).toBe(404);
    const ready = await readyAsset(t, creator.accountId, 5400);
    await t.app.inject({ method: 'PATCH', url: `/v1/titles/${id}`, headers: creator.auth, payload: { assetId: ready, name: 'Final cut' } });
    const published = await t.app.inject({ method: 'POST', url: `/v1/titles/${id}/publish`, headers: creator.auth });
    expect(published.json()).toMatchObject({ status: 'published', name: 'Final cut', durationSeconds: 5400 });
    expect(published.json().poster).toMatch(new RegExp(`/vod/${ready}/poster\\.jpg$`));
    // Only the owner edits it.
    expect((await t.app.inject({ method: 'PATCH', url: `/v1/titles/${id}`, headers: family.auth, payload: { name: 'mine now' } })).statusCode).toBe(404);
    expect((await t.app.inject({ method: 'POST', url: `/v1/titles/${id}/unpublish`, headers: creator.auth })).json().status).toBe('draft');
    expect((await get(`/v1/titles/${id}?profileId=${adult.id}`, family.auth)).statusCode).toBe(404);
  });

  it('refuses bad input with clear codes', async () => {
    const post = (payload: object) => t.app.inject({ method: 'POST', url: '/v1/titles', headers: creator.auth, payload });
    expect((await post({ type: 'movie', name: 'x', maturityRating: 'PG', genres: ['polka'] })).json().code).toBe('UNKNOWN_GENRE');
    expect((await post({ type: 'episode', name: 'x', maturityRating: 'PG' })).json().code).toBe('EPISODE_NEEDS_SERIES');
    expect((await post({ type: 'movie', name: 'x', maturityRating: 'PG', season: 1 })).json().code).toBe('NOT_AN_EPISODE');
    expect((await post({ type: 'movie', name: 'x', maturityRating: 'XXX' })).statusCode).toBe(400);
    expect((await post({ type: 'movie', name: 'x', maturityRating: 'PG', extra: 1 })).statusCode).toBe(400);
    // Viewer reads without a profile are refused, not served unfiltered.
    const noProfile = await get('/v1/titles', family.auth);
    expect(noProfile.statusCode).toBe(400);
    expect(noProfile.json().code).toBe('PROFILE_REQUIRED');
    // Another account's profile is not the caller's.
    expect((await get(`/v1/titles?profileId=${kids.id}`, creator.auth)).statusCode).toBe(404);
    expect((await get('/v1/titles', { ...family.auth, 'x-profile-id': kids.id })).statusCode).toBe(200);
    expect((await t.app.inject({ method: 'GET', url: `/v1/titles?profileId=${adult.id}`, headers: { ...family.auth, 'x-profile-id': kids.id } })).json().code).toBe('PROFILE_MISMATCH');
    expect((await get('/v1/titles')).statusCode).toBe(401);
  });

  it('orders episodes by season and number and refuses a taken number', async () => {
    const episode = async (season: number, number: number, name: string, rating = 'PG-13') =>
      t.app.inject({ method: 'POST', url: '/v1/titles', headers: creator.auth, payload: { type: 'episode', seriesId: series.id, season, episode: number, name, maturityRating: rating, assetId: await readyAsset(t, creator.accountId) } });
    for (const [s, e, n] of [[2, 1, 'S2E1'], [1, 2, 'S1E2'], [1, 1, 'S1E1']] as const) {
      const res = await episode(s, e, n);
      expect(res.statusCode).toBe(201);
      await t.app.inject({ method: 'POST', url: `/v1/titles/${res.json().id}/publish`, headers: creator.auth });
    }
    const r = await episode(3, 1, 'S3E1 (R)', 'R');
    await t.app.inject({ method: 'POST', url: `/v1/titles/${r.json().id}/publish`, headers: creator.auth });
    expect((await episode(1, 1, 'again')).json().code).toBe('EPISODE_EXISTS');
    const view = (await get(`/v1/titles/${series.id}?profileId=${adult.id}`, family.auth)).json() as TitleView;
    expect(view.seasons!.map((s) => [s.season, s.episodes.map((e) => e.name)])).toEqual([[1, ['S1E1', 'S1E2']], [2, ['S2E1']], [3, ['S3E1 (R)']]]);
    const forKids = (await get(`/v1/titles/${series.id}?profileId=${kids.id}`, family.auth));
    // PG-13 series is above a kids profile's PG ceiling: not found at all.
    expect(forKids.statusCode).toBe(404);
  });

  it('never shows a kids profile a title above its ceiling: list, filters, direct GET, search, browse', async () => {
    const kidsAuth = { ...family.auth, 'x-profile-id': kids.id };
    const list = (await get('/v1/titles?limit=100', kidsAuth)).json().items as TitleView[];
    expect(list.map((x) => x.name)).toEqual(['Toy Garden']);
    expect((await get(`/v1/titles/${rated.id}`, kidsAuth)).statusCode).toBe(404);
    expect((await get(`/v1/titles/${interstellar.id}`, kidsAuth)).statusCode).toBe(404);
    expect((await get('/v1/titles?genre=sci-fi', kidsAuth)).json().items).toEqual([]);
    expect((await get('/v1/titles?type=episode&limit=100', kidsAuth)).json().items).toEqual([]);
    for (const q of ['blade', 'runner', 'space', 'harrison ford', 'interstellar']) {
      expect((await get(`/v1/search?q=${encodeURIComponent(q)}`, kidsAuth)).json().items, q).toEqual([]);
    }
    const rows = (await get('/v1/browse?rows=30', kidsAuth)).json().rows as { items: TitleView[] }[];
    const names = rows.flatMap((row) => row.items.map((x) => x.maturityRating));
    expect(names.length).toBeGreaterThan(0);
    expect(names.every((rating) => rating === 'G' || rating === 'PG')).toBe(true);
    // The adult profile sees all of them.
    const adultList = (await get(`/v1/titles?limit=100&profileId=${adult.id}`, family.auth)).json().items as TitleView[];
    expect(adultList.map((x) => x.name)).toEqual(expect.arrayContaining(['Interstellar', 'Blade Runner', 'Toy Garden', 'Night Shift']));
  });

  it('filters by genre, year range, rating, language and type, with cursor pages', async () => {
    const q = (s: string) => get(`/v1/titles?profileId=${adult.id}&${s}`, family.auth).then((r) => (r.json().items as TitleView[]).map((x) => x.name).sort());
    expect(await q('genre=sci-fi')).toEqual(['Blade Runner', 'Interstellar']);
    expect(await q('yearFrom=2000&yearTo=2015&type=movie')).toEqual(['Interstellar']);
    expect(await q('year=1982')).toEqual(['Blade Runner']);
    expect(await q('rating=G')).toEqual(['Toy Garden']);
    expect(await q('language=en')).toEqual(['Interstellar']);
    expect(await q('type=series')).toEqual(['Night Shift']);
    const first = (await get(`/v1/titles?profileId=${adult.id}&limit=2`, family.auth)).json();
    const second = (await get(`/v1/titles?profileId=${adult.id}&limit=2&cursor=${first.nextCursor}`, family.auth)).json();
    const all = (await get(`/v1/titles?profileId=${adult.id}&limit=100`, family.auth)).json().items as TitleView[];
    expect([...first.items, ...second.items].map((x: TitleView) => x.id)).toEqual(all.slice(0, 4).map((x) => x.id));
    expect((await get(`/v1/titles?profileId=${adult.id}&cursor=garbage`, family.auth)).json().code).toBe('INVALID_CURSOR');
    // owner=me is the studio's list: drafts included, no profile needed.
    const mine = (await get('/v1/titles?owner=me&limit=100', creator.auth)).json().items as TitleView[];
    expect(mine.some((x) => x.status === 'draft')).toBe(true);
  });

  it('finds titles by misspelling, by prefix, by cast and tags, ranked and highlighted', async () => {
    const search = async (q: string) => (await get(`/v1/search?q=${encodeURIComponent(q)}&profileId=${adult.id}`, family.auth)).json();
    for (const q of ['interstellar', 'intersteller', 'inters', 'Interstel', 'mcconaughey', 'wormhole']) {
      const res = await search(q);
      expect(res.items[0]?.title.name, q).toBe('Interstellar');
    }
    const typo = await search('blade runer');
    expect(typo.items[0].title.name).toBe('Blade Runner');
    const exact = await search('interstellar');
    expect(exact.items[0].highlights.name).toBe('<mark>Interstellar</mark>');
    const phrase = await search('"dystopian los angeles"');
    expect(phrase.items.map((h: { title: TitleView }) => h.title.name)).toEqual(['Blade Runner']);
    expect(phrase.items[0].highlights.description).toContain('<mark>');
    const space = await search('space');
    expect(space.items.map((h: { title: TitleView }) => h.title.name).sort()).toEqual(['Blade Runner', 'Interstellar']);
    expect((await search('zzzqqq')).items).toEqual([]);
    expect((await search('!!!')).items).toEqual([]);
    expect((await get(`/v1/search?profileId=${adult.id}`, family.auth)).statusCode).toBe(400);
  });

  it('curates collections (admins only) and shows them as browse rows', async () => {
    const admin = await t.signup(ADMIN);
    const body = { name: "Editor's picks", titleIds: [rated.id, interstellar.id] };
    expect((await t.app.inject({ method: 'POST', url: '/v1/collections', headers: creator.auth, payload: body })).statusCode).toBe(403);
    const col = await t.app.inject({ method: 'POST', url: '/v1/collections', headers: admin.auth, payload: body });
    expect(col.statusCode).toBe(201);
    expect(col.json().titleIds).toEqual([rated.id, interstellar.id]);
    const rows = (await get(`/v1/browse?rows=30&profileId=${adult.id}`, family.auth)).json().rows as { id: string; title: string; items: TitleView[] }[];
    const picks = rows.find((r) => r.id === `collection:${col.json().id}`)!;
    expect(picks.items.map((x) => x.name)).toEqual(['Blade Runner', 'Interstellar']);
    expect(rows.find((r) => r.id === 'new')!.items.length).toBeGreaterThanOrEqual(4);
    expect(rows.find((r) => r.id === 'genre:sci-fi')!.items.map((x) => x.name).sort()).toEqual(['Blade Runner', 'Interstellar']);
    // The kids profile sees the row without the R and PG-13 titles (so not at all: it is empty).
    const kidsRows = (await get(`/v1/browse?rows=30&profileId=${kids.id}`, family.auth)).json().rows as { id: string }[];
    expect(kidsRows.some((r) => r.id === `collection:${col.json().id}`)).toBe(false);
    // Editing the collection shows at once (publishing and curation bump the cache version).
    await t.app.inject({ method: 'PATCH', url: `/v1/collections/${col.json().id}`, headers: admin.auth, payload: { titleIds: [interstellar.id] } });
    const row = (await get(`/v1/browse/rows/collection:${col.json().id}?profileId=${adult.id}`, family.auth)).json();
    expect(row.items.map((x: TitleView) => x.name)).toEqual(['Interstellar']);
    // Any row pages on its own, found by its id alone.
    const genreRow = (await get(`/v1/browse/rows/genre:sci-fi?profileId=${adult.id}&limit=1`, family.auth)).json();
    expect(genreRow.items).toHaveLength(1);
    expect(genreRow.nextCursor).not.toBeNull();
    const next = (await get(`/v1/browse/rows/genre:sci-fi?profileId=${adult.id}&limit=1&cursor=${genreRow.nextCursor}`, family.auth)).json();
    expect([genreRow.items[0].name, next.items[0].name].sort()).toEqual(['Blade Runner', 'Interstellar']);
    expect((await get(`/v1/browse/rows/new?profileId=${adult.id}`, family.auth)).json().title).toBe('New releases');
    for (const bad of ['genre:polka-dots', `collection:${crypto.randomUUID()}`, 'nope']) {
      expect((await get(`/v1/browse/rows/${bad}?profileId=${adult.id}`, family.auth)).json().code, bad).toBe('UNKNOWN_ROW');
    }
    // Genres are managed by admins.
    expect((await t.app.inject({ method: 'POST', url: '/v1/genres', headers: creator.auth, payload: { slug: 'polka', name: 'Polka' } })).statusCode).toBe(403);
    expect((await t.app.inject({ method: 'POST', url: '/v1/genres', headers: admin.auth, payload: { slug: 'polka', name: 'Polka' } })).statusCode).toBe(201);
    expect((await t.app.inject({ method: 'GET', url: '/v1/genres' })).json().items.map((g: { slug: string }) => g.slug)).toContain('polka');
  });

  it('issues playback for a title to a profile allowed to watch it, with the resume position', async () => {
    const signing = await createTestApp({ sql: t.sql, env: { PLAYBACK_SIGNING_KEY: 'k'.repeat(40) } });
    try {
      const token = (body: object) => signing.app.inject({ method: 'POST', url: '/v1/playback-tokens', headers: family.auth, payload: body });
      const restricted = await token({ titleId: rated.id, profileId: kids.id });
      expect(restricted.statusCode).toBe(403);
      expect(restricted.json().code).toBe('MATURITY_RESTRICTED');
      expect((await token({ titleId: rated.id })).json().code).toBe('PROFILE_REQUIRED');
      expect((await token({ titleId: series.id, profileId: adult.id })).json().code).toBe('NOT_PLAYABLE');
      expect((await token({ titleId: crypto.randomUUID(), profileId: adult.id })).statusCode).toBe(404);
      await signing.app.inject({ method: 'PUT', url: `/v1/profiles/${adult.id}/progress/${rated.id}`, headers: family.auth, payload: { positionSeconds: 42 } });
      const ok = await token({ titleId: rated.id, profileId: adult.id });
      expect(ok.statusCode).toBe(201);
      expect(ok.json()).toMatchObject({ titleId: rated.id, resumeFromSeconds: 42 });
      expect(ok.json().playback.hls).toMatch(new RegExp(`/t/${ok.json().token}/vod/${rated.assetId}/master\\.m3u8$`));
    } finally {
      await signing.close();
    }
  });

  it('gates a PIN-protected profile behind a profile session, and binds session tokens to their profile', async () => {
    const parent = await addProfile(t, family.auth, { name: 'Parent', pin: '4321' });
    const session = (id: string, body: object, headers: Record<string, string> = family.auth) =>
      t.app.inject({ method: 'POST', url: `/v1/profiles/${id}/session`, headers, payload: body });
    // The account token cannot simply name the protected profile.
    expect((await get(`/v1/titles?profileId=${parent.id}`, family.auth)).json().code).toBe('PIN_REQUIRED');
    expect((await session(parent.id, {})).json().code).toBe('PIN_REQUIRED');
    expect((await session(parent.id, { pin: '0000' })).json().code).toBe('PIN_INCORRECT');
    const opened = await session(parent.id, { pin: '4321' });
    expect(opened.statusCode).toBe(200);
    const parentAuth = { authorization: `Bearer ${opened.json().accessToken}` };
    const list = (await get('/v1/titles?limit=100', parentAuth)).json().items as TitleView[];
    expect(list.map((x) => x.name)).toContain('Blade Runner');
    expect((await get(`/v1/titles?profileId=${kids.id}`, parentAuth)).json().code).toBe('PROFILE_SESSION');
    // A kids session reads as the kids profile only, and cannot loosen it.
    const kidsAuth = { authorization: `Bearer ${(await session(kids.id, {})).json().accessToken}` };
    expect((await get(`/v1/titles/${rated.id}`, kidsAuth)).statusCode).toBe(404);
    expect((await get(`/v1/titles?profileId=${adult.id}`, kidsAuth)).json().code).toBe('PROFILE_SESSION');
    const loosen = await t.app.inject({ method: 'PATCH', url: `/v1/profiles/${kids.id}`, headers: kidsAuth, payload: { maturityCeiling: 'PG-13' } });
    expect(loosen.json().code).toBe('PROFILE_SESSION');
    expect((await t.app.inject({ method: 'POST', url: '/v1/profiles', headers: kidsAuth, payload: { name: 'Sneaky' } })).json().code).toBe('PROFILE_SESSION');
    // Five guesses per window, then none (the right PIN included) until it ends.
    for (let k = 0; k < 3; k++) expect((await session(parent.id, { pin: '1111' })).json().code).toBe('PIN_INCORRECT');
    const locked = await session(parent.id, { pin: '4321' });
    expect(locked.statusCode).toBe(429);
    expect(Number(locked.headers['retry-after'])).toBeGreaterThan(0);
  });

  it('shares a published title as a public page with Open Graph tags', async () => {
    const share = (await get(`/v1/titles/${interstellar.id}/share?profileId=${adult.id}`, family.auth)).json();
    expect(share.url).toBe(`http://media.example.test:${t.config.ports.api}/share/titles/${interstellar.id}`);
    const page = await t.app.inject({ method: 'GET', url: new URL(share.url).pathname });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expect(page.body).toContain('<meta property="og:title" content="Interstellar">');
    expect(page.body).toContain('og:image');
    expect((await t.app.inject({ method: 'GET', url: `/share/titles/${crypto.randomUUID()}` })).statusCode).toBe(404);
  });
}

describe('catalog on PGlite', () => {
  catalogFlow(async () => ({ sql: await openPglite() }));
});

describe.skipIf(!process.env.TEST_DATABASE_URL)('catalog on Postgres (skipped when TEST_DATABASE_URL is not set)', () => {
  catalogFlow(async () => {
    const url = await freshPostgresDatabase();
    return { sql: openPostgres(url, { max: 4 }), drop: () => dropPostgresDatabase(url) };
  });
});
