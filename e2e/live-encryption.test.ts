/**
 * Encrypted live end to end: an RTMP publish to a cbcs stream is packaged with keys that rotate every
 * two segments; hls.js plays it through ClearKey EME across key changes, dash.js plays a stream with
 * one key per session, and FFmpeg decrypts each key period's segments with the key the licence
 * server gives for the key ID the playlist names.
 */
import type { ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import m3u8 from 'm3u8-parser';
import type { Browser } from 'playwright-core';
import { decodedFrameCount } from '../platform/test-support/ffmpeg-decrypt.js';
import { launchChromium, playEncrypted } from './player.js';
import { api, getText, publishTestPattern, signUp, startTestPlatform, stop, waitUntil, type TestPlatform } from './support.js';

let platform: TestPlatform;
let token: string;
let browser: Browser;
const publishers: ChildProcess[] = [];

beforeAll(async () => {
  platform = await startTestPlatform({
    KEY_ENCRYPTION_KEY: crypto.randomBytes(32).toString('hex'), PLAYBACK_SIGNING_KEY: crypto.randomBytes(32).toString('hex'),
    LIVE_SEGMENT_SECONDS: '1', LIVE_PART_TARGET: '0.334', LICENSE_REQUESTS_PER_MINUTE: '1000', LIVE_LADDER: '240p:240:300',
  });
  token = await signUp(platform.api);
  browser = await launchChromium();
}, 120_000);

afterAll(async () => {
  for (const p of publishers) await stop(p);
  await browser?.close();
  await platform?.close();
});

/** Creates an encrypted stream, publishes a test pattern to it and waits for its playlist. */
async function liveEncrypted(body: { encryption?: string; keyRotationSegments: number }): Promise<{ id: string; grant: { token: string; playback: { hls: string; dash: string }; drm: { clearkey: { licenseUrl: string } } } }> {
  const stream = (await api(platform.api, 'POST', '/v1/live-streams', { title: 'protected live', encryption: 'cbcs', ...body }, token)).body;
  expect(stream.encryption).toBe(body.encryption ?? 'cbcs');
  publishers.push(publishTestPattern(`${stream.rtmpUrl}/${stream.streamKey}`, { seconds: 120 }));
  const grant = (await api(platform.api, 'POST', '/v1/playback-tokens', { streamId: stream.id }, token)).body;
  await waitUntil('encrypted live playlist', async () => {
    const res = await fetch(grant.playback.hls.replace('master.m3u8', '240p/index.m3u8'));
    return res.ok && (await res.text()).includes('#EXT-X-KEY') ? true : undefined;
  }, 60_000, 250);
  return { id: stream.id, grant };
}

/** Key IDs the media playlist lists, in order, with the segments each covers. */
function keyPeriods(text: string): { kid: string; uris: string[] }[] {
  const periods: { kid: string; uris: string[] }[] = [];
  for (const line of text.split('\n')) {
    const kid = /^#EXT-X-KEY:.*KEYID=0x([0-9a-f]{32})/.exec(line)?.[1];
    if (kid) periods.push({ kid, uris: [] });
    else if (line.startsWith('seg-') && periods.length) periods.at(-1)!.uris.push(line.trim());
  }
  return periods;
}

describe('encrypted live', () => {
  it('rotates keys every two segments and hls.js keeps playing across three key changes', async () => {
    const { grant } = await liveEncrypted({ keyRotationSegments: 2 });
    const master = await getText(grant.playback.hls);
    expect(master).toMatch(/^#EXT-X-SESSION-KEY:METHOD=SAMPLE-AES,.*KEYFORMAT="org\.w3\.clearkey"/m);
    const mediaUrl = grant.playback.hls.replace('master.m3u8', '240p/index.m3u8');
    // Wait until the window holds three key changes (four periods of two segments).
    const text = await waitUntil('three key changes', async () => {
      const t = await getText(mediaUrl);
      return keyPeriods(t).length >= 4 ? t : undefined;
    }, 60_000, 500);
    const periods = keyPeriods(text);
    expect(new Set(periods.map((p) => p.kid)).size).toBe(periods.length);
    for (const p of periods.slice(1, -1)) expect(p.uris.length).toBe(2);
    const parsed = new m3u8.Parser();
    parsed.push(text);
    parsed.end();
    expect(parsed.manifest.segments.at(-1).key.method).toBe('SAMPLE-AES');

    // Each period's segments decrypt with the key the licence server gives for that period's key ID.
    const base = mediaUrl.replace('index.m3u8', '');
    const init = Buffer.from(await (await fetch(`${base}${/#EXT-X-MAP:URI="([^"]+)"/.exec(text)![1]}`)).arrayBuffer());
    for (const p of periods.slice(0, 3)) {
      const res = await fetch(grant.drm.clearkey.licenseUrl, { method: 'POST', body: JSON.stringify({ kids: [Buffer.from(p.kid, 'hex').toString('base64url')] }) });
      expect(res.status).toBe(200);
      const key = Buffer.from(((await res.json()) as { keys: { k: string }[] }).keys[0].k, 'base64url');
      const segments = await Promise.all(p.uris.map(async (u) => Buffer.from(await (await fetch(base + u)).arrayBuffer())));
      expect(await decodedFrameCount(Buffer.concat([init, ...segments]), key)).toBeGreaterThanOrEqual(25 * p.uris.length);
      await expect(decodedFrameCount(Buffer.concat([init, ...segments]), crypto.randomBytes(16))).rejects.toThrow();
    }

    // Rotating keys travel in the playlist only: hls.js names each KEYID in its licence request.
    const report = await playEncrypted('hls', grant.playback.hls, grant.drm.clearkey.licenseUrl, 7, browser, { keyIdsFromPlaylist: true });
    expect(report.fatalErrors).toEqual([]);
    expect(report.played).toBeGreaterThan(5.5);
    expect(report.decodedFrames).toBeGreaterThan(150);
    // Seven seconds at one key per two seconds: the player asked for at least three more licences.
    const metrics = await getText(`${platform.api}/metrics`);
    const granted = Number(/drm_license_requests_total\{kind="clearkey",outcome="granted"\} (\d+)/.exec(metrics)?.[1] ?? 0);
    expect(granted).toBeGreaterThanOrEqual(3 + 3);
  }, 120_000);

  it('packages cenc (one key for the session) that FFmpeg decrypts and dash.js plays, and refuses a licence to another stream’s token', async () => {
    const { grant } = await liveEncrypted({ encryption: 'cenc', keyRotationSegments: 0 });
    const mpd = await waitUntil('MPD', async () => {
      const res = await fetch(grant.playback.dash);
      return res.ok ? res.text() : undefined;
    }, 30_000, 250);
    expect(mpd).toMatch(/<ContentProtection schemeIdUri="urn:mpeg:dash:mp4protection:2011" value="cenc" cenc:default_KID="[0-9a-f-]{36}"\/>/);
    const mediaUrl = grant.playback.hls.replace('master.m3u8', '240p/index.m3u8');
    const text = await getText(mediaUrl);
    expect(text).toMatch(/^#EXT-X-KEY:METHOD=SAMPLE-AES-CTR,/m);
    const [period] = keyPeriods(text);
    const res = await fetch(grant.drm.clearkey.licenseUrl, { method: 'POST', body: JSON.stringify({ kids: [Buffer.from(period.kid, 'hex').toString('base64url')] }) });
    const key = Buffer.from(((await res.json()) as { keys: { k: string }[] }).keys[0].k, 'base64url');
    const base = mediaUrl.replace('index.m3u8', '');
    const init = Buffer.from(await (await fetch(`${base}${/#EXT-X-MAP:URI="([^"]+)"/.exec(text)![1]}`)).arrayBuffer());
    const segments = await Promise.all(period.uris.slice(0, 3).map(async (u) => Buffer.from(await (await fetch(base + u)).arrayBuffer())));
    expect(await decodedFrameCount(Buffer.concat([init, ...segments]), key)).toBeGreaterThanOrEqual(25 * segments.length);
    const report = await playEncrypted('dash', grant.playback.dash, grant.drm.clearkey.licenseUrl, 4, browser);
    expect(report.fatalErrors).toEqual([]);
    expect(report.played).toBeGreaterThan(2.5);
    expect(report.decodedFrames).toBeGreaterThan(60);

    const other = await api(platform.api, 'POST', '/v1/live-streams', { title: 'someone else' }, token);
    const otherToken = (await api(platform.api, 'POST', '/v1/playback-tokens', { streamId: other.body.id }, token)).body.token as string;
    const wrong = await playEncrypted('dash', grant.playback.dash, `${grant.drm.clearkey.licenseUrl.split('?')[0]}?token=${otherToken}`, 1, browser);
    expect(wrong.fatalErrors.length).toBeGreaterThan(0);
    expect(wrong.decodedFrames).toBe(0);
  }, 90_000);
});
