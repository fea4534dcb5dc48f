import crypto from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPostgres, signPlaybackToken, type Sql } from '../../platform/index.js';
import { dropPostgresDatabase, freshPostgresDatabase } from '../../platform/test-support/env.js';
import { createTestApp, type TestApp } from '../test-support/test-app.js';
import { KeyStore, unwrapKey, wrapKey } from './key-store.js';

const KEK = crypto.randomBytes(32).toString('hex');
const SIGNING = crypto.randomBytes(32).toString('hex');
const b64url = (hex: string) => Buffer.from(hex, 'hex').toString('base64url');

describe('key wrapping (RFC 3394)', () => {
  it('round-trips under the master key and refuses another one', () => {
    const kek = crypto.randomBytes(32);
    const key = crypto.randomBytes(16);
    const wrapped = wrapKey(kek, key);
    expect(wrapped).toHaveLength(24);
    expect(wrapped.includes(key)).toBe(false);
    expect(unwrapKey(kek, wrapped)).toEqual(key);
    expect(() => unwrapKey(crypto.randomBytes(32), wrapped)).toThrow();
  });
});

function keyServer(open: () => Promise<{ sql?: Sql; drop?: () => Promise<void> }>) {
  let t: TestApp;
  let drop: (() => Promise<void>) | undefined;
  beforeAll(async () => {
    const db = await open();
    drop = db.drop;
    t = await createTestApp({ ...(db.sql ? { sql: db.sql } : {}), env: { KEY_ENCRYPTION_KEY: KEK, PLAYBACK_SIGNING_KEY: SIGNING, LICENSE_REQUESTS_PER_MINUTE: '5' } });
  });
  afterAll(async () => {
    await t?.close();
    if (drop) {
      await t.sql.close();
      await drop();
    }
  });

  it('makes one key per (media, period), the same for every caller, stored wrapped', async () => {
    const keys = t.services.keys;
    const [a, b] = await Promise.all([keys.contentKey({ mediaId: 'asset-1', period: 'vod' }), keys.contentKey({ mediaId: 'asset-1', period: 'vod' })]);
    expect(a.kid).toMatch(/^[0-9a-f]{32}$/);
    expect(b).toEqual(a);
    const other = await keys.contentKey({ mediaId: 'asset-1', period: 'session:1' });
    expect(other.kid).not.toBe(a.kid);
    const [row] = await t.sql.query<{ wrapped_key: string }>(`SELECT wrapped_key FROM content_keys WHERE kid = $1`, [a.kid]);
    expect(Buffer.from(row.wrapped_key, 'base64').includes(a.key)).toBe(false);
    // The store under another master key cannot read it back.
    const wrongKek = new KeyStore({ sql: t.sql }, crypto.randomBytes(32));
    await expect(wrongKek.byKids([a.kid])).rejects.toMatchObject({ code: 'KEY_UNWRAP_FAILED' });
    await expect(new KeyStore({ sql: t.sql }, undefined).contentKey({ mediaId: 'x', period: 'vod' })).rejects.toMatchObject({ code: 'ENCRYPTION_DISABLED' });
  });

  it('answers ClearKey licences for the token’s media only, with CORS, problem+json refusals and a rate limit', async () => {
    const mine = await t.services.keys.contentKey({ mediaId: 'media-a', period: 'vod' });
    const theirs = await t.services.keys.contentKey({ mediaId: 'media-b', period: 'vod' });
    const token = signPlaybackToken(SIGNING, { sub: 'media-a', ttlSeconds: 60 });
    const licence = (payload: string, headers: Record<string, string> = {}, url = `/v1/drm/clearkey?token=${token}`) => t.app.inject({ method: 'POST', url, payload, headers });

    // The CDM's message, sent as raw bytes without a content type, as hls.js does.
    const ok = await licence(JSON.stringify({ kids: [b64url(mine.kid)], type: 'temporary' }));
    expect(ok.statusCode).toBe(200);
    expect(ok.headers['access-control-allow-origin']).toBe('*');
    expect(ok.headers['cache-control']).toBe('no-store');
    expect(ok.json()).toEqual({ keys: [{ kty: 'oct', kid: b64url(mine.kid), k: mine.key.toString('base64url') }], type: 'temporary' });

    const wrong = await licence(JSON.stringify({ kids: [b64url(theirs.kid)] }), { 'content-type': 'application/json' });
    expect(wrong.statusCode).toBe(403);
    expect(wrong.headers['content-type']).toContain('application/problem+json');
    expect(wrong.json()).toMatchObject({ code: 'PLAYBACK_TOKEN_WRONG_MEDIA' });
    // Mixing in another media's key gets none of them.
    expect((await licence(JSON.stringify({ kids: [b64url(mine.kid), b64url(theirs.kid)] }))).statusCode).toBe(403);
    expect((await licence(JSON.stringify({ kids: [b64url(crypto.randomBytes(16).toString('hex'))] }))).json()).toMatchObject({ code: 'KEY_NOT_FOUND' });
    expect((await licence('not json')).json()).toMatchObject({ code: 'LICENSE_REQUEST_INVALID' });

    const preflight = await t.app.inject({ method: 'OPTIONS', url: '/v1/drm/clearkey', headers: { origin: 'https://player.example', 'access-control-request-method': 'POST' } });
    expect(preflight.statusCode).toBe(204);
    expect(preflight.headers['access-control-allow-headers']).toContain('authorization');

    // A body that is not JSON never reached the counter: four so far, the fifth passes, the sixth is refused (LICENSE_REQUESTS_PER_MINUTE=5).
    expect((await licence(JSON.stringify({ kids: [b64url(mine.kid)] }))).statusCode).toBe(200);
    const limited = await licence(JSON.stringify({ kids: [b64url(mine.kid)] }));
    expect(limited.statusCode).toBe(429);
    expect(limited.headers['retry-after']).toBeDefined();
    const metrics = await t.metrics.metrics();
    expect(metrics).toMatch(/drm_license_requests_total\{kind="clearkey",outcome="granted"\} 2/);
    expect(metrics).toMatch(/drm_license_requests_total\{kind="clearkey",outcome="rate_limited"\} 1/);
  });

  it('lets a recording’s token have its stream’s keys, and no other stream’s', async () => {
    const u = await t.signup();
    const stream = await t.createStream(u.auth, { title: 'protected', encryption: 'cbcs', keyRotationSegments: 4 });
    expect(stream).toMatchObject({ encryption: 'cbcs', keyRotationSegments: 4 });
    const other = await t.createStream(u.auth, { title: 'other', encryption: 'cbcs' });
    // Whole-segment AES-128 is for uploads; a live stream asking for it is told so, not left clear.
    const aes = await t.app.inject({ method: 'POST', url: '/v1/live-streams', headers: u.auth, payload: { title: 'aes', encryption: 'aes-128' } });
    expect(aes.statusCode).toBe(400);
    expect(aes.json()).toMatchObject({ code: 'ENCRYPTION_UNSUPPORTED' });
    const live = await t.services.keys.contentKey({ mediaId: stream.id, period: 'session-1:0' });
    const otherKey = await t.services.keys.contentKey({ mediaId: other.id, period: 'session-2:0' });
    const recording = await t.services.assets.createRecording({ liveStreamId: stream.id, status: 'ready', durationSeconds: 10 });
    expect(recording?.encryption).toBe('cbcs');
    const token = signPlaybackToken(SIGNING, { sub: recording!.id, ttlSeconds: 60 });
    const ask = (kid: string) => t.app.inject({ method: 'POST', url: `/v1/drm/clearkey?token=${token}`, payload: JSON.stringify({ kids: [b64url(kid)] }) });
    expect((await ask(live.kid)).statusCode).toBe(200);
    expect((await ask(otherKey.kid)).json()).toMatchObject({ code: 'PLAYBACK_TOKEN_WRONG_MEDIA' });
    // The owner's playback token for the recording names the licence server.
    const grant = await t.app.inject({ method: 'POST', url: '/v1/playback-tokens', headers: u.auth, payload: { assetId: recording!.id } });
    expect(grant.json().drm.clearkey.licenseUrl).toMatch(/^http:\/\/media\.example\.test(:\d+)?\/v1\/drm\/clearkey\?token=/);
    // An uploaded asset's keys go with it.
    const uploaded = crypto.randomUUID();
    await t.services.assets.createUploaded({ id: uploaded, accountId: u.accountId, uploadId: crypto.randomUUID(), title: 'upload', encryption: 'cenc' });
    const own = await t.services.keys.contentKey({ mediaId: uploaded, period: 'vod' });
    expect((await t.app.inject({ method: 'DELETE', url: `/v1/assets/${uploaded}`, headers: u.auth })).statusCode).toBe(204);
    expect(await t.services.keys.byKids([own.kid])).toHaveLength(0);
    // Deleting the recording keeps its stream's keys (other recordings use them).
    expect((await t.app.inject({ method: 'DELETE', url: `/v1/assets/${recording!.id}`, headers: u.auth })).statusCode).toBe(204);
    expect(await t.services.keys.byKids([live.kid])).toHaveLength(1);
  });

  it('serves AES-128 key bytes with a Bearer token and refuses without one or after expiry', async () => {
    const key = await t.services.keys.contentKey({ mediaId: 'media-c', period: 'vod' });
    const token = signPlaybackToken(SIGNING, { sub: 'media-c', ttlSeconds: 60 });
    const ok = await t.app.inject({ method: 'GET', url: `/v1/keys/${key.kid}`, headers: { authorization: `Bearer ${token}` } });
    expect(ok.statusCode).toBe(200);
    expect(ok.headers['content-type']).toBe('application/octet-stream');
    expect(ok.rawPayload).toEqual(key.key);
    const none = await t.app.inject({ method: 'GET', url: `/v1/keys/${key.kid}` });
    expect(none.statusCode).toBe(401);
    // A token that worked (and was remembered as verified) is refused once it expires.
    const short = signPlaybackToken(SIGNING, { sub: 'media-c', ttlSeconds: 1 });
    expect((await t.app.inject({ method: 'GET', url: `/v1/keys/${key.kid}?token=${short}` })).statusCode).toBe(200);
    await new Promise((r) => setTimeout(r, 1100));
    expect((await t.app.inject({ method: 'GET', url: `/v1/keys/${key.kid}?token=${short}` })).json()).toMatchObject({ code: 'PLAYBACK_TOKEN_EXPIRED' });
    const forged = signPlaybackToken('another-signing-key-another-signing-key', { sub: 'media-c', ttlSeconds: 60 });
    expect((await t.app.inject({ method: 'GET', url: `/v1/keys/${key.kid}?token=${forged}` })).json()).toMatchObject({ code: 'PLAYBACK_TOKEN_INVALID' });
  });

  it('refuses encrypted uploads and streams on a server without a master key', async () => {
    const off = await createTestApp({ sql: t.sql, env: { PLAYBACK_SIGNING_KEY: SIGNING } });
    try {
      const u = await off.signup();
      const up = await off.app.inject({ method: 'POST', url: '/v1/uploads', headers: u.auth, payload: { asset: { title: 't', encryption: 'cbcs' } } });
      expect(up.statusCode).toBe(409);
      expect(up.json()).toMatchObject({ code: 'ENCRYPTION_DISABLED' });
      const live = await off.app.inject({ method: 'POST', url: '/v1/live-streams', headers: u.auth, payload: { title: 't', encryption: 'cenc' } });
      expect(live.json()).toMatchObject({ code: 'ENCRYPTION_DISABLED' });
      expect((await off.app.inject({ method: 'POST', url: '/v1/uploads', headers: u.auth, payload: { asset: { title: 't', encryption: 'rot13' } } })).statusCode).toBe(400);
    } finally {
      await off.close();
    }
  });
}

describe('key server on PGlite', () => keyServer(async () => ({})));

describe('key server on Postgres', () =>
  keyServer(async () => {
    const url = await freshPostgresDatabase();
    return { sql: openPostgres(url, { max: 4 }), drop: () => dropPostgresDatabase(url) };
  }),
);
