import jwt from 'jsonwebtoken';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signPlaybackToken } from './playback-auth.js';
import { TestOrigin } from './test-origin.js';
import { get, metricValue, startEdge, type TestEdge } from './test-helpers.js';

const KEY = 'playback-test-key-0123456789abcdef';
const HEADERS = { 'content-type': 'application/vnd.apple.mpegurl', 'cache-control': 'max-age=60' };

describe('playback authorization at the edge (EDGE_REQUIRE_TOKEN=true)', () => {
  let origin: TestOrigin;
  let edge: TestEdge;

  beforeAll(async () => {
    origin = await new TestOrigin().start();
    origin.route('/live/s1/master.m3u8', { headers: HEADERS, body: '#EXTM3U\n#s1\n' });
    origin.route('/vod/asset9/master.m3u8', { headers: HEADERS, body: '#EXTM3U\n#asset9\n' });
    edge = await startEdge([origin.url], { playbackSigningKey: KEY, requireToken: true });
  });
  afterAll(async () => {
    await edge.close();
    await origin.kill();
  });

  const master = `/live/s1/master.m3u8`;

  it('refuses without reaching the origin: 401 missing, 403 tampered, expired, wrong stream, wrong algorithm or key', async () => {
    const valid = signPlaybackToken(KEY, { sub: 's1', ttlSeconds: 60 });
    const [h, p, s] = valid.split('.');
    const claims = JSON.parse(Buffer.from(p, 'base64url').toString());
    const tampered = `${h}.${Buffer.from(JSON.stringify({ ...claims, sub: 's1', exp: claims.exp + 3600 })).toString('base64url')}.${s}`;
    const expired = jwt.sign({ sub: 's1', exp: Math.floor(Date.now() / 1000) - 10 }, KEY, { algorithm: 'HS256' });
    const otherStream = signPlaybackToken(KEY, { sub: 's2', ttlSeconds: 60 });
    const otherKey = signPlaybackToken('another-key-entirely-0123456789', { sub: 's1', ttlSeconds: 60 });
    const noExp = jwt.sign({ sub: 's1' }, KEY, { algorithm: 'HS256' });
    const hs512 = jwt.sign({ sub: 's1' }, KEY, { algorithm: 'HS512', expiresIn: 60 });
    const none = `${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${p}.`;

    const missing = await get(`${edge.url}${master}`);
    expect(missing.status).toBe(401);
    expect(missing.headers['www-authenticate']).toContain('Bearer');
    expect(JSON.parse(missing.body.toString())).toMatchObject({ status: 401, code: 'PLAYBACK_TOKEN_REQUIRED' });

    const cases: [string, string][] = [
      [tampered, 'PLAYBACK_TOKEN_INVALID'],
      [expired, 'PLAYBACK_TOKEN_EXPIRED'],
      [otherStream, 'PLAYBACK_TOKEN_WRONG_MEDIA'],
      [otherKey, 'PLAYBACK_TOKEN_INVALID'],
      [noExp, 'PLAYBACK_TOKEN_INVALID'],
      [hs512, 'PLAYBACK_TOKEN_INVALID'],
      [none, 'PLAYBACK_TOKEN_INVALID'],
      ['garbage', 'PLAYBACK_TOKEN_INVALID'],
    ];
    for (const [token, code] of cases) {
      const viaQuery = await get(`${edge.url}${master}?token=${token}`);
      expect(viaQuery.status, code).toBe(403);
      expect(JSON.parse(viaQuery.body.toString()).code).toBe(code);
      const viaHeader = await get(`${edge.url}${master}`, { authorization: `Bearer ${token}` });
      expect(viaHeader.status).toBe(403);
    }
    // Each refusal is counted by reason (16 refusals: the query and header form of each case, and the missing one).
    expect(await metricValue(edge.registry, 'edge_token_refusals_total', '{reason="missing"}')).toBe(1);
    expect(await metricValue(edge.registry, 'edge_token_refusals_total', '{reason="expired"}')).toBe(2);
    expect(await metricValue(edge.registry, 'edge_token_refusals_total', '{reason="wrong_media"}')).toBe(2);
    expect(await metricValue(edge.registry, 'edge_token_refusals_total', '{reason="invalid"}')).toBe(12);
    // Blocking reloads and media are guarded the same way.
    expect((await get(`${edge.url}/live/s1/720p/index.m3u8?_HLS_msn=1&token=${expired}`)).status).toBe(403);
    expect(origin.requests).toEqual([]);
    expect(await metricValue(edge.registry, 'edge_requests_total', 'status="403"')).toBe(2 * cases.length + 1);
  });

  it('serves with a valid token in the query or as a bearer token, which never reaches the origin or the cache key', async () => {
    const t = signPlaybackToken(KEY, { sub: 's1', ttlSeconds: 60 });
    const q = await get(`${edge.url}${master}?token=${t}`);
    expect(q.status).toBe(200);
    expect(q.body.toString()).toBe('#EXTM3U\n#s1\n');
    const b = await get(`${edge.url}${master}`, { authorization: `Bearer ${t}` });
    expect(b.status).toBe(200);
    expect(b.headers['x-cache']).toBe('HIT');
    expect(origin.requests).toEqual(['/live/s1/master.m3u8']);

    const asset = signPlaybackToken(KEY, { sub: 'asset9', ttlSeconds: 60 });
    expect((await get(`${edge.url}/vod/asset9/master.m3u8?token=${asset}`)).status).toBe(200);
    // A cached object still needs a token of its own media.
    expect((await get(`${edge.url}${master}?token=${asset}`)).status).toBe(403);
  });

  it('accepts the token as a /t/{token} path prefix, which relative playlist URIs carry to child resources', async () => {
    origin.route('/live/s1/720p/index.m3u8', { headers: HEADERS, body: '#EXTM3U\n#child\n' });
    const t = signPlaybackToken(KEY, { sub: 's1', ttlSeconds: 60 });
    const masterUrl = `${edge.url}/t/${t}/live/s1/master.m3u8`;
    expect((await get(masterUrl)).status).toBe(200);
    // What a player does with `720p/index.m3u8` listed in the master playlist (RFC 3986 §5.2).
    const child = new URL('720p/index.m3u8', masterUrl).toString();
    expect(child).toBe(`${edge.url}/t/${t}/live/s1/720p/index.m3u8`);
    const r = await get(child);
    expect(r.status).toBe(200);
    expect(r.body.toString()).toBe('#EXTM3U\n#child\n');
    expect(origin.count('/live/s1/720p/index.m3u8')).toBe(1);
    const forged = signPlaybackToken('not-the-key-0123456789abcdef', { sub: 's1', ttlSeconds: 60 });
    expect((await get(`${edge.url}/t/${forged}/live/s1/720p/index.m3u8`)).status).toBe(403);
    expect((await get(`${edge.url}/t/${t}/live/s2/master.m3u8`)).status).toBe(403);
    expect(origin.requests.every((u) => !u.includes('/t/') && !u.includes('token'))).toBe(true);
  });

  it('leaves /healthz, /metrics and CORS preflight open', async () => {
    expect((await get(`${edge.url}/healthz`)).status).toBe(200);
    expect((await get(`${edge.url}/metrics`)).status).toBe(200);
    expect((await get(`${edge.url}${master}`, {}, 'OPTIONS')).status).toBe(204);
  });
});
