/**
 * Subscriptions end to end on the one-process platform with the built-in payment provider: a viewer
 * signs up, pays on the local checkout page, and the plan decides what plays: a premium title is
 * refused on basic and plays in hls.js after an upgrade, basic's 720p cap trims the multivariant
 * playlist and refuses the 1080p rung at the edge, a 2-stream plan refuses the third concurrent
 * playback until one stops heartbeating, and a kids profile neither sees an R title nor leaves kids
 * without the account PIN.
 */
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { framemd5 } from '../platform/test-support/ffmpeg-decrypt.js';
import { launchChromium, playWithHlsJs } from './player.js';
import { api, signUp, startTestPlatform, uploadAsset, waitUntil, type TestPlatform } from './support.js';

let platform: TestPlatform;
let browser: Browser;
let creator: string;
let assetId: string;
let protectedAssetId: string;
const titles: Record<'premium' | 'basic' | 'free' | 'download', string> = { premium: '', basic: '', free: '', download: '' };

/** Uploads a test pattern of this size and length and waits until its asset is ready. */
async function upload(size: string, seconds: number, asset: Record<string, string>): Promise<string> {
  const source = path.join(tmp, `source-${size}.mp4`);
  execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', `testsrc2=size=${size}:rate=25`, '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
    '-t', String(seconds), '-c:v', 'libx264', '-preset', 'ultrafast', '-c:a', 'aac', source]);
  return (await uploadAsset(platform.api, creator, source, asset)).id;
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'subs-e2e-'));
const PASSWORD = 'e2e-password-123';

beforeAll(async () => {
  platform = await startTestPlatform({
    VOD_SEGMENT_SECONDS: '2', VOD_LADDER: '1080p:1080:2500,360p:360:600', VOD_X264_PRESET: 'ultrafast',
    PLAYBACK_SIGNING_KEY: 'e2e-playback-signing-key-0123456789abcdef', PLAYBACK_LEASE_SECONDS: '5',
    KEY_ENCRYPTION_KEY: crypto.randomBytes(32).toString('hex'),
  });
  creator = await signUp(platform.api);
  assetId = await upload('1920x1080', 6, { title: 'Feature', playbackPolicy: 'signed' });
  protectedAssetId = await upload('640x360', 4, { title: 'Protected', playbackPolicy: 'signed', encryption: 'cbcs' });
  for (const [key, requiredPlan, maturityRating, media] of [['premium', 'premium', 'R', assetId], ['basic', 'basic', 'PG', assetId], ['free', null, 'G', assetId], ['download', 'basic', 'PG', protectedAssetId]] as const) {
    const t = await api(platform.api, 'POST', '/v1/titles', { type: 'movie', name: `${key} film`, maturityRating, assetId: media, requiredPlan, downloadable: key === 'download' }, creator);
    expect(t.status).toBe(201);
    expect((await api(platform.api, 'POST', `/v1/titles/${t.body.id}/publish`, undefined, creator)).status).toBe(200);
    titles[key] = t.body.id;
  }
  browser = await launchChromium();
}, 240_000);

afterAll(async () => {
  await browser?.close();
  await platform?.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** A form post to a built-in checkout or portal page, as the browser would send it; returns where it redirects. */
async function submit(url: string, form: Record<string, string>): Promise<{ status: number; location: string | null }> {
  const page = await fetch(url);
  expect(page.status).toBe(200);
  expect(await page.text()).toContain('<form method="post">');
  const res = await fetch(url, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(form).toString() });
  return { status: res.status, location: res.headers.get('location') };
}

async function viewer() {
  const email = `viewer-${Date.now()}-${Math.random().toString(36).slice(2)}@example.com`;
  const token = await signUp(platform.api, email);
  const profileId = (await api(platform.api, 'GET', '/v1/profiles', undefined, token)).body.items[0].id as string;
  return { token, profileId };
}

const play = (token: string, titleId: string, profileId: string, deviceId?: string) => api(platform.api, 'POST', '/v1/playback-tokens', { titleId, profileId, deviceId }, token);

describe('subscriptions on the built-in provider', () => {
  it('sign up → checkout → basic: premium refused (PLAN_REQUIRED), 720p cap at the edge; upgrade → premium plays in hls.js', async () => {
    const v = await viewer();
    expect((await play(v.token, titles.premium, v.profileId)).body.code).toBe('SUBSCRIPTION_INACTIVE');
    const plans = (await api(platform.api, 'GET', '/v1/plans')).body.items;
    expect(plans.map((p: { id: string }) => p.id)).toEqual(['basic', 'standard', 'premium']);

    const checkout = await api(platform.api, 'POST', '/v1/subscriptions/checkout', { planId: 'basic' }, v.token);
    expect(checkout.status).toBe(201);
    const paid = await submit(checkout.body.url, { method: 'card', card: '4242 4242 4242 4242' });
    expect(paid.status).toBe(303);
    expect(await (await fetch(paid.location!)).text()).toContain('Payment received');
    expect((await api(platform.api, 'GET', '/v1/subscription', undefined, v.token)).body).toMatchObject({ plan: { id: 'basic' }, status: 'active' });
    expect((await api(platform.api, 'GET', '/v1/payments', undefined, v.token)).body.items[0]).toMatchObject({ status: 'succeeded', amount: 7.99, method: 'card' });

    const refused = await play(v.token, titles.premium, v.profileId);
    expect(refused.status).toBe(403);
    expect(refused.body.code).toBe('PLAN_REQUIRED');

    // Basic is capped at 720p: the edge lists no 1080p variant and refuses its URLs.
    const basic = await play(v.token, titles.basic, v.profileId);
    expect(basic.status).toBe(201);
    expect(basic.body.maxResolution).toBe(720);
    const master = await (await fetch(basic.body.playback.hls)).text();
    expect(master).not.toMatch(/1080p\//);
    expect(master).toMatch(/360p\/index\.m3u8/);
    const rung = await fetch(basic.body.playback.hls.replace('master.m3u8', '1080p/index.m3u8'));
    expect(rung.status).toBe(403);
    expect((await rung.json()).code).toBe('RENDITION_NOT_ALLOWED');
    const mpd = await (await fetch(basic.body.playback.dash)).text();
    expect(mpd).not.toContain('height="1080"');
    const capped = await playWithHlsJs(basic.body.playback.hls, 2, browser);
    expect(capped.fatalErrors).toEqual([]);
    expect(capped.levels).toBe(1);
    expect(capped.played).toBeGreaterThan(1);
    await api(platform.api, 'DELETE', `/v1/playback-sessions/${basic.body.sessionId}`, undefined, v.token);

    const portal = await api(platform.api, 'POST', '/v1/subscriptions/portal', {}, v.token);
    expect((await submit(portal.body.url, { action: 'change-plan', planId: 'premium' })).status).toBe(303);
    const premium = await play(v.token, titles.premium, v.profileId);
    expect(premium.status).toBe(201);
    const report = await playWithHlsJs(premium.body.playback.hls, 2, browser);
    expect(report.fatalErrors).toEqual([]);
    expect(report.levels).toBe(2);
    expect(report.played).toBeGreaterThan(1);
  }, 120_000);

  it('refuses a 3rd concurrent stream on a 2-stream plan; it starts once a player stops heartbeating', async () => {
    const v = await viewer();
    const checkout = await api(platform.api, 'POST', '/v1/subscriptions/checkout', { planId: 'standard' }, v.token);
    expect((await submit(checkout.body.url, { method: 'upi' })).status).toBe(303);
    const tv = await play(v.token, titles.basic, v.profileId, 'tv');
    const phone = await play(v.token, titles.free, v.profileId, 'phone');
    expect([tv.status, phone.status]).toEqual([201, 201]);
    const third = await play(v.token, titles.basic, v.profileId, 'laptop');
    expect(third.status).toBe(403);
    expect(third.body.code).toBe('STREAM_LIMIT_REACHED');
    expect(third.body.sessions.map((s: { deviceId: string }) => s.deviceId).sort()).toEqual(['phone', 'tv']);
    // The TV keeps heartbeating, the phone stopped: the laptop gets in once the phone's lease (5 s here, 90 s by default) lapses.
    const started = Date.now();
    const laptop = await waitUntil('third stream starts', async () => {
      expect((await api(platform.api, 'POST', `/v1/playback-sessions/${tv.body.sessionId}/heartbeat`, undefined, v.token)).status).toBe(200);
      const r = await play(v.token, titles.basic, v.profileId, 'laptop');
      return r.status === 201 ? r : undefined;
    }, 20_000, 1000);
    expect(Date.now() - started).toBeGreaterThan(2000);
    expect(laptop.body.sessionId).toBeTruthy();
    const devices = (await api(platform.api, 'GET', '/v1/devices', undefined, v.token)).body.items.map((d: { id: string }) => d.id).sort();
    expect(devices).toEqual(['laptop', 'phone', 'tv']);
  }, 60_000);

  it('holds a kids profile to its ceiling (404 for an R title) and to the account PIN to leave it', async () => {
    const v = await viewer();
    const kid = (await api(platform.api, 'POST', '/v1/profiles', { name: 'Kid', kind: 'kids' }, v.token)).body;
    expect((await api(platform.api, 'GET', `/v1/titles/${titles.premium}?profileId=${kid.id}`, undefined, v.token)).status).toBe(404);
    expect((await play(v.token, titles.premium, kid.id)).body.code).toBe('MATURITY_RESTRICTED');
    const kidSession = (await api(platform.api, 'POST', `/v1/profiles/${kid.id}/switch`, {}, v.token)).body.accessToken as string;
    expect((await api(platform.api, 'POST', `/v1/profiles/${v.profileId}/switch`, {}, kidSession)).body.code).toBe('ACCOUNT_PIN_NOT_SET');
    expect((await api(platform.api, 'PUT', '/v1/account/pin', { pin: '1357', password: PASSWORD }, v.token)).status).toBe(204);
    expect((await api(platform.api, 'POST', `/v1/profiles/${v.profileId}/switch`, {}, kidSession)).body.code).toBe('PIN_REQUIRED');
    expect((await api(platform.api, 'POST', `/v1/profiles/${v.profileId}/switch`, { pin: '0000' }, kidSession)).body.code).toBe('PIN_INCORRECT');
    expect((await api(platform.api, 'POST', `/v1/profiles/${v.profileId}/switch`, { pin: '1357' }, kidSession)).status).toBe(200);
  });
});

describe('offline downloads', () => {
  it('gives a standard subscriber one encrypted MP4 (video and audio) whose licence key decrypts it frame for frame, with byte ranges', async () => {
    const v = await viewer();
    const checkout = await api(platform.api, 'POST', '/v1/subscriptions/checkout', { planId: 'standard' }, v.token);
    expect((await submit(checkout.body.url, { method: 'wallet' })).status).toBe(303);
    const grant = await api(platform.api, 'POST', '/v1/downloads', { titleId: titles.download, profileId: v.profileId, deviceId: 'phone-1', deviceName: 'Phone' }, v.token);
    expect(grant.status).toBe(201);
    expect(grant.body.rendition).toBe('360p');
    const file = await fetch(grant.body.file);
    expect(file.status).toBe(200);
    expect(file.headers.get('content-type')).toBe('video/mp4');
    const bytes = Buffer.from(await file.arrayBuffer());
    expect(Number(file.headers.get('content-length'))).toBe(bytes.length);
    // Without the token the edge refuses the file (the asset is signed).
    expect((await fetch(grant.body.file.replace(/\/t\/[^/]+/, ''))).status).toBe(401);
    // A resumed download gets the rest, byte for byte.
    const rest = await fetch(grant.body.file, { headers: { range: 'bytes=1000-' } });
    expect(rest.status).toBe(206);
    expect(Buffer.from(await rest.arrayBuffer()).equals(bytes.subarray(1000))).toBe(true);

    const saved = path.join(tmp, 'download.mp4');
    fs.writeFileSync(saved, bytes);
    const probe = JSON.parse(execFileSync('ffprobe', ['-v', 'quiet', '-show_streams', '-of', 'json', saved]).toString());
    expect(probe.streams.map((st: { codec_type: string }) => st.codec_type)).toEqual(['video', 'audio']);
    expect(bytes.includes(Buffer.from('encv'))).toBe(true);
    expect(bytes.includes(Buffer.from('enca'))).toBe(true);

    const licence = await api(platform.api, 'POST', `/v1/downloads/${grant.body.id}/license`, undefined, v.token);
    expect(licence.status).toBe(200);
    expect(licence.body.type).toBe('persistent-license');
    const key = Buffer.from(licence.body.keys[0].k, 'base64url');
    // The same frames as the streamed renditions decrypt to, per track.
    const signedBase = grant.body.file.replace(/360p\.mp4$/, '');
    const rendition = async (name: string) => {
      const playlist = await (await fetch(`${signedBase}${name}/index.m3u8`)).text();
      const segments = playlist.split('\n').filter((l) => l.startsWith('seg-'));
      const parts = [await fetch(`${signedBase}${name}/init.mp4`), ...(await Promise.all(segments.map((sname) => fetch(`${signedBase}${name}/${sname}`))))];
      return Buffer.concat(await Promise.all(parts.map(async (r) => Buffer.from(await r.arrayBuffer()))));
    };
    const strip = (lines: string[], stream: string) => lines.filter((l) => l.startsWith(`${stream},`)).map((l) => l.slice(l.indexOf(',')));
    const expectedVideo = strip(await framemd5(await rendition('360p'), key), '0');
    const expectedAudio = strip(await framemd5(await rendition('audio'), key), '0');
    expect(expectedVideo.length).toBeGreaterThan(50);
    let got: string[] = [];
    for (let attempt = 0; attempt < 3; attempt++) {
      got = await framemd5(bytes, key).catch(() => []);
      if (strip(got, '0').join() === expectedVideo.join() && strip(got, '1').join() === expectedAudio.join()) break;
    }
    expect(strip(got, '0')).toEqual(expectedVideo);
    expect(strip(got, '1')).toEqual(expectedAudio);
    // Signed out: the licence refuses.
    expect((await api(platform.api, 'DELETE', '/v1/devices/phone-1', undefined, v.token)).status).toBe(204);
    expect((await api(platform.api, 'POST', `/v1/downloads/${grant.body.id}/license`, undefined, v.token)).body.code).toBe('DOWNLOAD_REVOKED');
  }, 60_000);
});
