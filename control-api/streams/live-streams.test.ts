import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPglite, openPostgres, type Sql } from '../../platform/index.js';
import { dropPostgresDatabase, freshPostgresDatabase } from '../../platform/test-support/env.js';
import type { ControlApiBusTopics } from '../app.js';
import type { LiveStreamView } from '../contract.js';
import { PUBLISHER_HEARTBEAT_MS } from './live-streams.js';
import { createTestApp, type TestApp } from '../test-support/test-app.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * The account and live-stream flow an outside client (OBS setup page, dashboard) goes through; run on
 * PGlite always and on Postgres when the test servers are there.
 */
function liveStreamFlow(open: () => Promise<{ sql: Sql; drop?: () => Promise<void> }>) {
  let t: TestApp;
  let drop: (() => Promise<void>) | undefined;
  beforeAll(async () => {
    const db = await open();
    drop = db.drop;
    t = await createTestApp({ sql: db.sql });
  });
  afterAll(async () => {
    await t?.close();
    await t?.sql.close();
    await drop?.();
  });

  it('holds every account to QUOTA_LIVE_STREAMS streams and QUOTA_LIVE_SESSIONS live at once', async () => {
    const small = await createTestApp({ sql: t.sql, env: { QUOTA_LIVE_STREAMS: '3', QUOTA_LIVE_SESSIONS: '2' } });
    try {
      const u = await small.signup();
      const streams = [];
      for (let i = 0; i < 3; i++) streams.push(await small.createStream(u.auth, { title: `s${i}` }));
      const over = await small.app.inject({ method: 'POST', url: '/v1/live-streams', headers: u.auth, payload: { title: 'one too many' } });
      expect(over.statusCode).toBe(403);
      expect(over.json()).toMatchObject({ code: 'QUOTA_LIVE_STREAMS' });
      // Another account is not affected.
      const other = await small.signup();
      expect((await small.app.inject({ method: 'POST', url: '/v1/live-streams', headers: other.auth, payload: { title: 'mine' } })).statusCode).toBe(201);
      // Two go live; the third publish is refused with a reason ingest logs.
      for (const s of streams.slice(0, 2)) {
        expect((await small.services.liveStreams.authorizePublish(s.streamKey!)).ok).toBe(true);
        await small.services.liveStreams.setStatus(s.id, 'live');
      }
      expect(await small.services.liveStreams.authorizePublish(streams[2].streamKey!)).toEqual({ ok: false, reason: 'quota-live-sessions' });
      await small.services.liveStreams.setStatus(streams[0].id, 'ended');
      expect((await small.services.liveStreams.authorizePublish(streams[2].streamKey!)).ok).toBe(true);
    } finally {
      await small.close();
    }
  });

  it('refuses a signed stream on a server without PLAYBACK_SIGNING_KEY (it would play for anyone)', async () => {
    const keyless = await createTestApp({ sql: t.sql, env: { PLAYBACK_SIGNING_KEY: '' } });
    try {
      const u = await keyless.signup();
      const res = await keyless.app.inject({ method: 'POST', url: '/v1/live-streams', headers: u.auth, payload: { title: 'secret', playbackPolicy: 'signed' } });
      expect(res.statusCode).toBe(409);
      expect(res.json()).toMatchObject({ code: 'PLAYBACK_SIGNING_DISABLED' });
      const open = await keyless.app.inject({ method: 'POST', url: '/v1/live-streams', headers: u.auth, payload: { title: 'open' } });
      expect(open.statusCode).toBe(201);
    } finally {
      await keyless.close();
    }
  });

  it('creates a stream with the full public contract and absolute URLs', async () => {
    const u = await t.signup();
    const res = await t.app.inject({
      method: 'POST', url: '/v1/live-streams', headers: u.auth,
      payload: { title: '  Launch stream ', ladder: [{ name: '480p', height: 480, videoBitrateKbps: 1400 }] },
    });
    expect(res.statusCode).toBe(201);
    const s = res.json() as LiveStreamView;
    expect(res.headers.location).toBe(`/v1/live-streams/${s.id}`);
    expect(s).toEqual({
      id: expect.stringMatching(UUID),
      title: 'Launch stream',
      streamKey: expect.stringMatching(/^sk_[A-Za-z0-9]{32}$/),
      streamKeyPrefix: s.streamKey!.slice(0, 7),
      rtmpUrl: 'rtmp://media.example.test:1935/live',
      whipUrl: `http://media.example.test:8085/whip/${s.id}`,
      playback: {
        hls: `http://media.example.test:8091/live/${s.id}/master.m3u8`,
        dash: `http://media.example.test:8091/live/${s.id}/manifest.mpd`,
      },
      status: 'idle',
      enabled: true,
      passthrough: false,
      ladder: [{ name: '480p', height: 480, videoBitrateKbps: 1400 }],
      playbackPolicy: 'public',
      encryption: 'none',
      keyRotationSegments: 0,
      recentAssetIds: [],
      createdAt: expect.any(String),
      updatedAt: expect.any(String),
      lastLiveAt: null,
      lastError: null,
      ingest: null,
    });
    for (const url of [s.rtmpUrl, s.whipUrl, s.playback.hls, s.playback.dash]) expect(new URL(url).host).toBeTruthy();

    const got = await t.app.inject({ method: 'GET', url: `/v1/live-streams/${s.id}`, headers: u.auth });
    expect(got.statusCode).toBe(200);
    const { streamKey: _key, ...withoutKey } = s;
    expect(got.json()).toEqual(withoutKey);
    expect(got.body).not.toContain(s.streamKey);
  });

  it("hides another account's stream and non-uuid ids behind 404 NOT_FOUND", async () => {
    const owner = await t.signup();
    const other = await t.signup();
    const s = await t.createStream(owner.auth);
    for (const url of [`/v1/live-streams/${s.id}`, '/v1/live-streams/00000000-0000-4000-8000-000000000000', '/v1/live-streams/not-a-uuid']) {
      const res = await t.app.inject({ method: 'GET', url, headers: other.auth });
      expect(res.statusCode, url).toBe(404);
      expect(res.json()).toMatchObject({ code: 'NOT_FOUND' });
    }
    for (const [method, path] of [['DELETE', ''], ['POST', '/rotate-key'], ['POST', '/disable']] as const) {
      expect((await t.app.inject({ method, url: `/v1/live-streams/${s.id}${path}`, headers: other.auth })).statusCode).toBe(404);
    }
  });

  it('rotate-key gives a new key and the old one no longer authorizes', async () => {
    const u = await t.signup();
    const s = await t.createStream(u.auth);
    const live = t.services.liveStreams;
    expect(await live.authorizePublish(s.streamKey!)).toEqual({ ok: true, streamId: s.id, accountId: u.accountId, passthrough: false, playbackPolicy: 'public' });
    const res = await t.app.inject({ method: 'POST', url: `/v1/live-streams/${s.id}/rotate-key`, headers: u.auth });
    expect(res.statusCode).toBe(200);
    const rotated = res.json() as LiveStreamView;
    expect(rotated.streamKey).toMatch(/^sk_[A-Za-z0-9]{32}$/);
    expect(rotated.streamKey).not.toBe(s.streamKey);
    expect(await live.authorizePublish(s.streamKey!)).toEqual({ ok: false, reason: 'unknown-key' });
    expect(await live.authorizePublish(rotated.streamKey!)).toMatchObject({ ok: true, streamId: s.id });
  });

  it('disabled streams and streams already live are refused', async () => {
    const u = await t.signup();
    const s = await t.createStream(u.auth);
    const live = t.services.liveStreams;
    const disabled = await t.app.inject({ method: 'POST', url: `/v1/live-streams/${s.id}/disable`, headers: u.auth });
    expect(disabled.json()).toMatchObject({ enabled: false });
    expect(await live.authorizePublish(s.streamKey!)).toEqual({ ok: false, reason: 'disabled' });
    await t.app.inject({ method: 'POST', url: `/v1/live-streams/${s.id}/enable`, headers: u.auth });
    expect(await live.setStatus(s.id, 'live')).toBe(true);
    expect(await live.authorizePublish(s.streamKey!)).toEqual({ ok: false, reason: 'already-live' });
    const got = (await t.app.inject({ method: 'GET', url: `/v1/live-streams/${s.id}`, headers: u.auth })).json();
    expect(got).toMatchObject({ status: 'live', lastLiveAt: expect.any(String) });
    await live.setStatus(s.id, 'ended');
    expect(await live.authorizePublish(s.streamKey!)).toMatchObject({ ok: true });
    expect(await live.authorizePublish('sk_' + 'x'.repeat(32))).toEqual({ ok: false, reason: 'unknown-key' });
    expect(await live.authorizePublish('garbage')).toEqual({ ok: false, reason: 'unknown-key' });
  });

  it('lets a key publish again when the live publisher has not been heard of for the heartbeat window', async () => {
    const u = await t.signup();
    const s = await t.createStream(u.auth);
    const live = t.services.liveStreams;
    await live.setStatus(s.id, 'live');
    expect(await live.authorizePublish(s.streamKey!)).toEqual({ ok: false, reason: 'already-live' });
    // The ingest that had it crashed: no stats, no "ended" for longer than the heartbeat window.
    await t.sql.query(`UPDATE live_streams SET publisher_seen_at = $2 WHERE id = $1`, [s.id, new Date(Date.now() - PUBLISHER_HEARTBEAT_MS - 1000)]);
    expect(await live.authorizePublish(s.streamKey!)).toMatchObject({ ok: true, streamId: s.id });
    // Stats keep a present publisher present.
    await live.publisherSeen(s.id);
    expect(await live.authorizePublish(s.streamKey!)).toEqual({ ok: false, reason: 'already-live' });
  });

  it('lists own streams newest first, paginated by cursor', async () => {
    const u = await t.signup();
    const other = await t.signup();
    await t.createStream(other.auth);
    const made: string[] = [];
    for (let i = 0; i < 5; i++) made.push((await t.createStream(u.auth, { title: `s${i}` })).id);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const url: string = `/v1/live-streams?limit=2${cursor ? `&cursor=${cursor}` : ''}`;
      const page = (await t.app.inject({ method: 'GET', url, headers: u.auth })).json();
      expect(page.items.length).toBeLessThanOrEqual(2);
      for (const item of page.items) expect(item.streamKey).toBeUndefined();
      seen.push(...page.items.map((i: LiveStreamView) => i.id));
      cursor = page.nextCursor;
    } while (cursor);
    expect(seen).toEqual([...made].reverse());
    const bad = await t.app.inject({ method: 'GET', url: '/v1/live-streams?cursor=bogus', headers: u.auth });
    expect(bad.json()).toMatchObject({ status: 400, code: 'INVALID_CURSOR' });
  });

  it('deletes (204, then 404) and lists recordings newest first', async () => {
    const u = await t.signup();
    const s = await t.createStream(u.auth);
    const { assets } = t.services;
    const first = await assets.createRecording({ liveStreamId: s.id, durationSeconds: 12.5 });
    await new Promise((r) => setTimeout(r, 5));
    const second = await assets.createRecording({ liveStreamId: s.id, status: 'ready' });
    const got = (await t.app.inject({ method: 'GET', url: `/v1/live-streams/${s.id}`, headers: u.auth })).json();
    expect(got.recentAssetIds).toEqual([second!.id, first!.id]);

    const asset = await t.app.inject({ method: 'GET', url: `/v1/assets/${first!.id}`, headers: u.auth });
    expect(asset.json()).toEqual({
      id: first!.id, title: expect.stringContaining('Test stream'), description: null, status: 'preparing', duration: 12.5, liveStreamId: s.id,
      uploadId: null, playbackPolicy: 'public', encryption: 'none', tracks: null, thumbnails: null, progress: { percent: 0 }, playableFrom: null, readyAt: null, errors: null,
      playback: {
        hls: `http://media.example.test:8091/vod/${first!.id}/master.m3u8`,
        dash: `http://media.example.test:8091/vod/${first!.id}/manifest.mpd`,
      },
      createdAt: expect.any(String),
    });
    const stranger = await t.signup();
    expect((await t.app.inject({ method: 'GET', url: `/v1/assets/${first!.id}`, headers: stranger.auth })).statusCode).toBe(404);

    const del = await t.app.inject({ method: 'DELETE', url: `/v1/live-streams/${s.id}`, headers: u.auth });
    expect(del.statusCode).toBe(204);
    expect((await t.app.inject({ method: 'GET', url: `/v1/live-streams/${s.id}`, headers: u.auth })).statusCode).toBe(404);
    expect(await t.services.liveStreams.authorizePublish(s.streamKey!)).toEqual({ ok: false, reason: 'unknown-key' });
    // The recording outlives its stream.
    expect((await t.app.inject({ method: 'GET', url: `/v1/assets/${first!.id}`, headers: u.auth })).json()).toMatchObject({ liveStreamId: null });
  });

  it('announces stream changes on the bus', async () => {
    const seen: string[] = [];
    const topics = ['control.stream.created', 'control.stream.keyRotated', 'control.stream.disabled', 'control.stream.deleted'] as const;
    const subs = await Promise.all(topics.map((topic) => t.bus.subscribe(topic, (m: ControlApiBusTopics[typeof topic]) => {
      seen.push(`${topic}:${m.streamId}`);
    })));
    const u = await t.signup();
    const s = await t.createStream(u.auth);
    for (const path of ['/rotate-key', '/disable']) await t.app.inject({ method: 'POST', url: `/v1/live-streams/${s.id}${path}`, headers: u.auth });
    await t.app.inject({ method: 'DELETE', url: `/v1/live-streams/${s.id}`, headers: u.auth });
    await expect.poll(() => seen.length).toBe(4);
    expect(seen).toEqual(topics.map((topic) => `${topic}:${s.id}`));
    await Promise.all(subs.map((u) => u()));
  });
}

describe('live streams on PGlite', () => {
  liveStreamFlow(async () => ({ sql: await openPglite() }));
});

describe.skipIf(!process.env.TEST_DATABASE_URL)('live streams on Postgres (skipped when TEST_DATABASE_URL is not set)', () => {
  liveStreamFlow(async () => {
    const url = await freshPostgresDatabase();
    return { sql: openPostgres(url, { max: 4 }), drop: () => dropPostgresDatabase(url) };
  });
});
