import crypto from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyPlaybackToken } from '../../platform/index.js';
import type { EncryptionMode } from '../contract.js';
import { createTestApp, type TestApp } from '../test-support/test-app.js';

type Auth = { authorization: string };
const SIGNING = 'download-test-signing-key-0123456789abcdef';

describe('offline downloads', () => {
  let t: TestApp;
  let creator: { accountId: string; auth: Auth };
  let protectedTitle: string;
  let clearTitle: string;
  let streamOnlyTitle: string;
  let assetKey: { kid: string; key: Buffer };

  /** A ready asset with a 1080/720/480 ladder, as the VOD worker leaves one. */
  async function asset(encryption: EncryptionMode): Promise<string> {
    const id = crypto.randomUUID();
    await t.services.assets.createUploaded({ id, accountId: creator.accountId, uploadId: crypto.randomUUID(), title: 'source', encryption });
    const rung = (name: string, height: number) => ({ name, width: Math.round((height * 16) / 9), height, bandwidth: height * 4000, codec: 'avc1.640028' });
    await t.services.assets.onReady({ assetId: id, durationSeconds: 60, atMs: Date.now(), tracks: { video: [rung('1080p', 1080), rung('720p', 720), rung('480p', 480)], audio: [], captions: [] } });
    return id;
  }
  async function title(assetId: string, downloadable: boolean): Promise<string> {
    const created = await t.app.inject({ method: 'POST', url: '/v1/titles', headers: creator.auth, payload: { type: 'movie', name: `T ${assetId.slice(0, 6)}`, maturityRating: 'PG', assetId, downloadable, requiredPlan: 'basic' } });
    expect(created.statusCode).toBe(201);
    expect((await t.app.inject({ method: 'POST', url: `/v1/titles/${created.json().id}/publish`, headers: creator.auth })).statusCode).toBe(200);
    return created.json().id;
  }

  beforeAll(async () => {
    t = await createTestApp({ env: { PLAYBACK_SIGNING_KEY: SIGNING, KEY_ENCRYPTION_KEY: crypto.randomBytes(32).toString('hex') } });
    creator = await t.signup();
    const protectedAsset = await asset('cbcs');
    assetKey = await t.services.keys.contentKey({ mediaId: protectedAsset, period: 'vod' });
    protectedTitle = await title(protectedAsset, true);
    clearTitle = await title(await asset('none'), true);
    streamOnlyTitle = await title(protectedAsset, false);
  });
  afterAll(async () => t?.close());

  /** Pays on the built-in checkout, or changes plan in its portal. */
  async function plan(auth: Auth, planId: string, change = false) {
    const started = change
      ? await t.app.inject({ method: 'POST', url: '/v1/subscriptions/portal', headers: auth, payload: {} })
      : await t.app.inject({ method: 'POST', url: '/v1/subscriptions/checkout', headers: auth, payload: { planId } });
    const form: Record<string, string> = change ? { action: 'change-plan', planId } : { method: 'card' };
    const res = await t.app.inject({ method: 'POST', url: new URL(started.json().url).pathname, headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: new URLSearchParams(form).toString() });
    expect(res.statusCode).toBe(303);
  }

  it('grants downloads by plan, device count and expiry; licences stop after expiry, device removal and cancelation', async () => {
    const viewer = await t.signup();
    const profileId = (await t.app.inject({ method: 'GET', url: '/v1/profiles', headers: viewer.auth })).json().items[0].id;
    const download = (body: Record<string, unknown>) => t.app.inject({ method: 'POST', url: '/v1/downloads', headers: viewer.auth, payload: { titleId: protectedTitle, profileId, ...body } });
    const license = (id: string) => t.app.inject({ method: 'POST', url: `/v1/downloads/${id}/license`, headers: viewer.auth });

    expect((await download({ deviceId: 'tablet' })).json().code).toBe('SUBSCRIPTION_INACTIVE');
    await plan(viewer.auth, 'basic');
    expect((await download({ deviceId: 'tablet' })).json().code).toBe('DOWNLOADS_NOT_INCLUDED');
    await plan(viewer.auth, 'standard', true);

    expect((await download({ deviceId: 'tablet', titleId: streamOnlyTitle })).json().code).toBe('DOWNLOAD_NOT_ALLOWED');
    expect((await download({ deviceId: 'tablet', titleId: clearTitle })).json().code).toBe('DOWNLOAD_NEEDS_ENCRYPTION');
    expect((await download({ deviceId: 'tablet', rendition: '4k' })).json().code).toBe('RENDITION_UNKNOWN');

    const tablet = await download({ deviceId: 'tablet', deviceName: 'Tablet', deviceType: 'tablet' });
    expect(tablet.statusCode).toBe(201);
    const grant = tablet.json();
    expect(grant).toMatchObject({ titleId: protectedTitle, deviceId: 'tablet', rendition: '1080p', status: 'active', keyIds: [assetKey.kid] });
    const days = (new Date(grant.expiresAt).getTime() - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(6.99);
    expect(days).toBeLessThanOrEqual(7);
    const file = new URL(grant.file);
    const [, , token] = file.pathname.split('/');
    expect(file.pathname).toMatch(new RegExp(`/vod/[0-9a-f-]+/1080p\\.mp4$`));
    expect(verifyPlaybackToken(SIGNING, token)).toMatchObject({ maxh: 1080, pid: profileId });

    const keys = (await license(grant.id)).json();
    expect(keys).toMatchObject({ type: 'persistent-license', expiresAt: grant.expiresAt });
    expect(keys.keys).toEqual([{ kty: 'oct', kid: Buffer.from(assetKey.kid, 'hex').toString('base64url'), k: assetKey.key.toString('base64url') }]);

    // Standard: two download devices. The same device downloads again freely.
    expect((await download({ deviceId: 'tablet', rendition: '480p' })).statusCode).toBe(201);
    const phone = await download({ deviceId: 'phone', rendition: '720p' });
    expect(phone.statusCode).toBe(201);
    const third = await download({ deviceId: 'laptop' });
    expect(third.statusCode).toBe(403);
    expect(third.json()).toMatchObject({ code: 'DOWNLOAD_DEVICE_LIMIT', limit: 2 });
    expect(third.json().devices.sort()).toEqual(['phone', 'tablet']);

    // The tablet's grants expire; the phone is signed out: both licences refuse, and the laptop may download.
    await t.sql.query(`UPDATE downloads SET expires_at = now() - interval '1 second' WHERE device_id = 'tablet' AND account_id = $1`, [viewer.accountId]);
    expect((await license(grant.id)).json().code).toBe('DOWNLOAD_EXPIRED');
    expect((await t.app.inject({ method: 'DELETE', url: '/v1/devices/phone', headers: viewer.auth })).statusCode).toBe(204);
    expect((await license(phone.json().id)).json().code).toBe('DOWNLOAD_REVOKED');
    const laptop = await download({ deviceId: 'laptop' });
    expect(laptop.statusCode).toBe(201);
    expect((await license(laptop.json().id)).statusCode).toBe(200);
    const listed = (await t.app.inject({ method: 'GET', url: '/v1/downloads', headers: viewer.auth })).json().items;
    expect(listed.map((d: { deviceId: string; status: string }) => `${d.deviceId}:${d.status}`).sort()).toEqual(['laptop:active', 'phone:revoked', 'tablet:expired', 'tablet:expired']);

    // Canceled: the next licence request refuses.
    const portal = await t.app.inject({ method: 'POST', url: '/v1/subscriptions/portal', headers: viewer.auth, payload: {} });
    await t.app.inject({ method: 'POST', url: new URL(portal.json().url).pathname, headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: 'action=cancel-now' });
    expect((await license(laptop.json().id)).json().code).toBe('SUBSCRIPTION_INACTIVE');
    // Deleting a download is the owner's alone.
    const stranger = await t.signup();
    expect((await t.app.inject({ method: 'DELETE', url: `/v1/downloads/${laptop.json().id}`, headers: stranger.auth })).statusCode).toBe(404);
    expect((await t.app.inject({ method: 'POST', url: `/v1/downloads/${laptop.json().id}/license`, headers: stranger.auth })).statusCode).toBe(404);
    expect((await t.app.inject({ method: 'DELETE', url: `/v1/downloads/${laptop.json().id}`, headers: viewer.auth })).statusCode).toBe(204);
  });
});
