/** Signed playback end to end: control-api issues the token, the edge enforces it, players follow signed URLs. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { playbackPolicyKey } from '../platform/index.js';
import { api, getText, publishTestPattern, signUp, startTestPlatform, stop, waitUntil, type TestPlatform } from './support.js';

describe('signed playback', () => {
  let platform: TestPlatform;
  let token: string;

  beforeAll(async () => {
    platform = await startTestPlatform({ PLAYBACK_SIGNING_KEY: 'test-playback-signing-key-0123456789', EDGE_REQUIRE_TOKEN: 'true' });
    token = await signUp(platform.api);
  }, 60_000);
  afterAll(() => platform?.close());

  it('refuses unsigned playback at the edge and plays with a token from control-api', async () => {
    const stream = (await api(platform.api, 'POST', '/v1/live-streams', { title: 'signed' }, token)).body;
    expect((await fetch(stream.playback.hls)).status).toBe(401);
    const publisher = publishTestPattern(`${stream.rtmpUrl}/${stream.streamKey}`, { seconds: 40 });
    try {
      const issued = await api(platform.api, 'POST', '/v1/playback-tokens', { streamId: stream.id, ttlSeconds: 600 }, token);
      expect(issued.status).toBe(201);
      expect(issued.body.playback.hls).toContain(`/t/${issued.body.token}/live/${stream.id}/master.m3u8`);
      const master = await waitUntil('the signed master playlist', async () => {
        const res = await fetch(issued.body.playback.hls);
        return res.ok ? res.text() : undefined;
      }, 40_000);
      // Relative links in the playlist resolve under the signed path, so every request carries the token.
      const variant = master.split('\n').find((l) => l.endsWith('index.m3u8'))!;
      const media = await waitUntil('the signed media playlist', async () => {
        const res = await fetch(new URL(variant, issued.body.playback.hls));
        return res.ok ? res.text() : undefined;
      }, 20_000);
      expect(media).toContain('#EXT-X-PART');
      const tampered = issued.body.playback.hls.replace(/\/t\/([^/]+)\//, (_: string, t: string) => `/t/${t.slice(0, -2)}xx/`);
      expect((await fetch(tampered)).status).toBe(403);
      const other = (await api(platform.api, 'POST', '/v1/live-streams', { title: 'other' }, token)).body;
      expect((await fetch(issued.body.playback.hls.replace(stream.id, other.id))).status).toBe(403);
      expect((await fetch(new URL(`?token=${issued.body.token}`, stream.playback.hls))).status).toBe(200);
    } finally {
      await stop(publisher);
    }
  }, 90_000);

  it("issues tokens only for the caller's own media", async () => {
    const stranger = await signUp(platform.api);
    const stream = (await api(platform.api, 'POST', '/v1/live-streams', { title: 'mine' }, token)).body;
    expect((await api(platform.api, 'POST', '/v1/playback-tokens', { streamId: stream.id }, stranger)).status).toBe(404);
    expect((await api(platform.api, 'POST', '/v1/playback-tokens', {}, token)).status).toBe(400);
    expect((await getText(`${platform.api}/docs/json`))).toContain('/v1/playback-tokens');
  });
});

describe('per-stream playback policy', () => {
  let platform: TestPlatform;
  let token: string;

  beforeAll(async () => {
    // A signing key, but no EDGE_REQUIRE_TOKEN: only streams created with playbackPolicy "signed" need tokens.
    platform = await startTestPlatform({ PLAYBACK_SIGNING_KEY: 'test-playback-signing-key-0123456789' });
    token = await signUp(platform.api);
  }, 60_000);
  afterAll(() => platform?.close());

  it('keeps refusing a signed stream whose policy entry the live state lost (Redis restart, FLUSHALL)', async () => {
    const signed = (await api(platform.api, 'POST', '/v1/live-streams', { title: 'lost entry', playbackPolicy: 'signed' }, token)).body;
    await platform.liveState.del(playbackPolicyKey(signed.id));
    // A missing entry is not "public": the edge asks control-api, which answers from the database.
    const refused = await fetch(signed.playback.hls);
    expect(refused.status).toBe(401);
    expect((await refused.json()).code).toBe('PLAYBACK_TOKEN_REQUIRED');
    // And control-api published the entry again.
    expect(await platform.liveState.get(playbackPolicyKey(signed.id))).toBe('signed');
  });

  it('asks for a token only for signed streams, before anything reaches the origin', async () => {
    const open = (await api(platform.api, 'POST', '/v1/live-streams', { title: 'open' }, token)).body;
    const signed = (await api(platform.api, 'POST', '/v1/live-streams', { title: 'signed', playbackPolicy: 'signed' }, token)).body;
    expect(signed.playbackPolicy).toBe('signed');
    // Neither is live: the public one reaches the origin (404 STREAM_NOT_FOUND), the signed one stops at the edge.
    const openRes = await fetch(open.playback.hls);
    expect(openRes.status).toBe(404);
    expect((await openRes.json()).code).toBe('STREAM_NOT_FOUND');
    const refused = await fetch(signed.playback.hls);
    expect(refused.status).toBe(401);
    expect((await refused.json()).code).toBe('PLAYBACK_TOKEN_REQUIRED');
    const originBefore = await getText(`${platform.origin}/metrics`);
    for (let i = 0; i < 3; i++) expect((await fetch(signed.playback.hls)).status).toBe(401);
    const originAfter = await getText(`${platform.origin}/metrics`);
    const masterRequests = (text: string) => [...text.matchAll(/origin_requests_total\{kind="master",status="\d+"\} (\d+)/g)].reduce((a, m) => a + Number(m[1]), 0);
    expect(masterRequests(originAfter)).toBe(masterRequests(originBefore));
    const issued = (await api(platform.api, 'POST', '/v1/playback-tokens', { streamId: signed.id }, token)).body;
    const allowed = await fetch(issued.playback.hls);
    expect(allowed.status).toBe(404); // past the edge: the origin says the stream is not live
    expect((await allowed.json()).code).toBe('STREAM_NOT_FOUND');
  });
});
