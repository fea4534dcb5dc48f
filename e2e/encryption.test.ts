/**
 * Content protection end to end on the one-process platform: an upload packaged with cbcs plays in
 * hls.js and dash.js through ClearKey EME with the licence from the key server; the edge only ever
 * holds ciphertext; a licence request with no token, an expired one or one for other media is refused
 * and the player decodes no frame.
 */
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import * as tus from 'tus-js-client';
import { signPlaybackToken } from '../platform/index.js';
import { launchChromium, playEncrypted } from './player.js';
import { api, signUp, startTestPlatform, waitUntil, type TestPlatform } from './support.js';

const SIGNING_KEY = crypto.randomBytes(32).toString('hex');
let platform: TestPlatform;
let token: string;
let browser: Browser;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'enc-e2e-'));
const source = path.join(tmp, 'source.mp4');

beforeAll(async () => {
  platform = await startTestPlatform({
    VOD_SEGMENT_SECONDS: '2', VOD_LADDER: '360p:360:800,240p:240:400', VOD_X264_PRESET: 'veryfast',
    KEY_ENCRYPTION_KEY: crypto.randomBytes(32).toString('hex'), PLAYBACK_SIGNING_KEY: SIGNING_KEY, LICENSE_REQUESTS_PER_MINUTE: '1000',
  });
  token = await signUp(platform.api);
  execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=30', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
    '-t', '10', '-c:v', 'libx264', '-preset', 'ultrafast', '-c:a', 'aac', source]);
  browser = await launchChromium();
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await platform?.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** Uploads the source as a new asset with this encryption and waits until it is ready. */
async function encryptedAsset(encryption: string): Promise<{ id: string; encryption: string; playback: { hls: string; dash: string } }> {
  const created = await api(platform.api, 'POST', '/v1/uploads', { asset: { title: `protected ${encryption}`, encryption } }, token);
  expect(created.status).toBe(201);
  await new Promise<void>((resolve, reject) => new tus.Upload(fs.readFileSync(source), { endpoint: created.body.url, onSuccess: () => resolve(), onError: reject }).start());
  const assetId = await waitUntil('asset created', async () => (await api(platform.api, 'GET', `/v1/uploads/${created.body.id}`, undefined, token)).body.assetId as string | null, 10_000, 50);
  return waitUntil('asset ready', async () => {
    const a = (await api(platform.api, 'GET', `/v1/assets/${assetId}`, undefined, token)).body;
    if (a.status === 'errored') throw new Error(JSON.stringify(a.errors));
    return a.status === 'ready' ? a : undefined;
  }, 120_000, 250);
}

/** The CDM's ClearKey licence request for the key IDs of an init segment's tenc. */
async function licenceRequestFor(initUrl: string): Promise<{ kids: string[]; type: string }> {
  const init = Buffer.from(await (await fetch(initUrl)).arrayBuffer());
  const at = init.indexOf('tenc');
  expect(at).toBeGreaterThan(0);
  // tenc: size, type, version/flags, 2 reserved/pattern bytes, isProtected, IV size, then the 16-byte KID.
  const kid = init.subarray(at + 4 + 4 + 4, at + 4 + 4 + 4 + 16);
  return { kids: [kid.toString('base64url')], type: 'temporary' };
}

describe('encrypted VOD (cbcs): one copy for HLS and DASH, keys only for the token’s media', () => {
  let asset: Awaited<ReturnType<typeof encryptedAsset>>;
  let grant: { token: string; playback: { hls: string; dash: string }; drm: { clearkey: { licenseUrl: string } } };

  beforeAll(async () => {
    asset = await encryptedAsset('cbcs');
    const res = await api(platform.api, 'POST', '/v1/playback-tokens', { assetId: asset.id }, token);
    expect(res.status).toBe(201);
    grant = res.body;
  }, 180_000);

  it('plays in hls.js and dash.js with the ClearKey licence from the key server', async () => {
    expect(asset.encryption).toBe('cbcs');
    expect(grant.drm.clearkey.licenseUrl).toMatch(/\/v1\/drm\/clearkey\?token=/);
    const hls = await playEncrypted('hls', grant.playback.hls, grant.drm.clearkey.licenseUrl, 3, browser);
    expect(hls.fatalErrors).toEqual([]);
    expect(hls.played).toBeGreaterThan(1.5);
    expect(hls.decodedFrames).toBeGreaterThan(40);
    const dash = await playEncrypted('dash', grant.playback.dash, grant.drm.clearkey.licenseUrl, 3, browser);
    expect(dash.fatalErrors).toEqual([]);
    expect(dash.played).toBeGreaterThan(1.5);
    expect(dash.decodedFrames).toBeGreaterThan(40);
  });

  it('keeps only ciphertext at the edge: the init carries tenc and pssh, segments senc', async () => {
    const base = grant.playback.hls.replace('master.m3u8', '360p/');
    const init = Buffer.from(await (await fetch(`${base}init.mp4`)).arrayBuffer());
    for (const box of ['encv', 'sinf', 'frma', 'schm', 'tenc', 'pssh']) expect(init.includes(box), box).toBe(true);
    expect(init.includes('avc1')).toBe(true); // only inside frma
    const segment = Buffer.from(await (await fetch(`${base}seg-0.m4s`)).arrayBuffer());
    for (const box of ['senc', 'saiz', 'saio']) expect(segment.includes(box), box).toBe(true);
  });

  it('refuses a licence without a token (401), with an expired one or one for other media (403), and the player decodes nothing', async () => {
    const licence = grant.drm.clearkey.licenseUrl.split('?')[0];
    const body = await licenceRequestFor(grant.playback.hls.replace('master.m3u8', '360p/init.mp4'));
    const post = (url: string) => fetch(url, { method: 'POST', body: JSON.stringify(body) });

    const ok = await post(grant.drm.clearkey.licenseUrl);
    expect(ok.status).toBe(200);
    const jwks = (await ok.json()) as { keys: { kty: string; kid: string; k: string }[] };
    expect(jwks.keys).toHaveLength(1);
    expect(jwks.keys[0]).toMatchObject({ kty: 'oct', kid: body.kids[0] });
    expect(Buffer.from(jwks.keys[0].k, 'base64url')).toHaveLength(16);

    const none = await post(licence);
    expect(none.status).toBe(401);
    expect(none.headers.get('content-type')).toContain('application/problem+json');

    const expired = signPlaybackToken(SIGNING_KEY, { sub: asset.id, ttlSeconds: 1 });
    await new Promise((r) => setTimeout(r, 1500));
    const late = await post(`${licence}?token=${expired}`);
    expect(late.status).toBe(403);
    expect(((await late.json()) as { code: string }).code).toBe('PLAYBACK_TOKEN_EXPIRED');

    // A token for another of the account's media (a live stream) gets none of this asset's keys.
    const stream = await api(platform.api, 'POST', '/v1/live-streams', { title: 'other' }, token);
    const other = await api(platform.api, 'POST', '/v1/playback-tokens', { streamId: stream.body.id }, token);
    const wrong = await post(`${licence}?token=${other.body.token}`);
    expect(wrong.status).toBe(403);
    expect(((await wrong.json()) as { code: string }).code).toBe('PLAYBACK_TOKEN_WRONG_MEDIA');

    for (const [name, url] of [['no token', licence], ['expired', `${licence}?token=${expired}`], ['other media', `${licence}?token=${other.body.token}`]] as const) {
      const report = await playEncrypted('hls', grant.playback.hls, url, 1, browser);
      expect(report.fatalErrors.length, name).toBeGreaterThan(0);
      expect(report.decodedFrames, name).toBe(0);
    }
  });
});

describe('encrypted VOD (aes-128): HLS players without EME', () => {
  it('plays in hls.js with the key fetched by the playback token, and not without it', async () => {
    const asset = await encryptedAsset('aes-128');
    expect(asset.encryption).toBe('aes-128');
    const grant = (await api(platform.api, 'POST', '/v1/playback-tokens', { assetId: asset.id }, token)).body;
    expect(grant.drm.aes128.keyUrlPrefix).toBe(`${platform.api}/v1/keys/`);
    const media = await (await fetch(grant.playback.hls.replace('master.m3u8', '360p/index.m3u8'))).text();
    expect(media).toMatch(new RegExp(`^#EXT-X-KEY:METHOD=AES-128,URI="${platform.api}/v1/keys/[0-9a-f]{32}",IV=0x[0-9a-f]{32}$`, 'm'));
    expect((await fetch(grant.playback.dash)).status).toBe(404);
    const ok = await playEncrypted('hls', grant.playback.hls, undefined, 3, browser, { aes128Token: grant.token });
    expect(ok.fatalErrors).toEqual([]);
    expect(ok.played).toBeGreaterThan(1.5);
    expect(ok.decodedFrames).toBeGreaterThan(40);
    // Without the token the key server answers 401 and hls.js cannot decrypt a segment.
    const keyUrl = /#EXT-X-KEY:.*URI="([^"]+)"/.exec(media)![1];
    expect((await fetch(keyUrl)).status).toBe(401);
    const refused = await playEncrypted('hls', grant.playback.hls, undefined, 1, browser);
    expect(refused.fatalErrors.join(' ')).toMatch(/keyLoadError/);
    expect(refused.decodedFrames).toBe(0);
  }, 180_000);
});

