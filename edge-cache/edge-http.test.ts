import crypto from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestOrigin } from './test-origin.js';
import { get, metricValue, sleep, startEdge, type TestEdge } from './test-helpers.js';

const IMMUTABLE = { 'content-type': 'video/iso.segment', 'cache-control': 'public, max-age=31536000, immutable' };

describe('edge HTTP semantics', () => {
  let origin: TestOrigin;
  let edge: TestEdge;
  const body = crypto.randomBytes(1000);

  beforeAll(async () => {
    origin = await new TestOrigin().start();
    origin.route('/vod/a1/seg-1.m4s', { headers: IMMUTABLE, body });
    origin.route('/vod/a1/seg-2.m4s', { headers: { ...IMMUTABLE, etag: '"origin-tag"' }, body: 'tagged' });
    origin.route('/vod/a1/seg-3.m4s', { headers: IMMUTABLE, body, delayMs: 100 });
    origin.route('/vod/a1/seg-4.m4s', { headers: IMMUTABLE, body: 'head first' });
    origin.route('/live/s1/720p/index.m3u8', {
      headers: { 'content-type': 'application/vnd.apple.mpegurl', 'cache-control': 'max-age=1', 'x-origin-note': 'kept', 'set-cookie': 'a=b' },
      body: '#EXTM3U\n',
    });
    origin.route('/live/s1/master.m3u8', { headers: { 'content-type': 'application/vnd.apple.mpegurl', 'cache-control': 'public, max-age=1' }, body: '#EXTM3U\n#m\n' });
    edge = await startEdge([origin.url]);
  });
  afterAll(async () => {
    await edge.close();
    await origin.kill();
  });

  const url = (p: string) => `${edge.url}${p}`;

  it('answers single ranges from cached bytes with 206 and Content-Range, and 416 outside', async () => {
    await get(url('/vod/a1/seg-1.m4s'));
    const r = await get(url('/vod/a1/seg-1.m4s'), { range: 'bytes=10-19' });
    expect(r.status).toBe(206);
    expect(r.headers['content-range']).toBe('bytes 10-19/1000');
    expect(r.headers['content-length']).toBe('10');
    expect(r.body.equals(body.subarray(10, 20))).toBe(true);
    const suffix = await get(url('/vod/a1/seg-1.m4s'), { range: 'bytes=-100' });
    expect(suffix.headers['content-range']).toBe('bytes 900-999/1000');
    expect(suffix.body.equals(body.subarray(900))).toBe(true);
    const open = await get(url('/vod/a1/seg-1.m4s'), { range: 'bytes=995-' });
    expect(open.body.equals(body.subarray(995))).toBe(true);
    const clipped = await get(url('/vod/a1/seg-1.m4s'), { range: 'bytes=990-5000' });
    expect(clipped.headers['content-range']).toBe('bytes 990-999/1000');
    const bad = await get(url('/vod/a1/seg-1.m4s'), { range: 'bytes=1000-' });
    expect(bad.status).toBe(416);
    expect(bad.headers['content-range']).toBe('bytes */1000');
    // Several ranges: the whole representation (RFC 9110 §14.2 allows ignoring Range).
    const multi = await get(url('/vod/a1/seg-1.m4s'), { range: 'bytes=0-1,5-6' });
    expect(multi.status).toBe(200);
    expect(multi.body.length).toBe(1000);
    // If-Range with another validator: the whole thing.
    const ifRange = await get(url('/vod/a1/seg-1.m4s'), { range: 'bytes=0-1', 'if-range': '"other"' });
    expect(ifRange.status).toBe(200);
    expect(origin.count('/vod/a1/seg-1.m4s')).toBe(1);
  });

  it('answers a range on a cold object once the object is in, from one upstream fetch', async () => {
    const got = await Promise.all([get(url('/vod/a1/seg-3.m4s'), { range: 'bytes=0-3' }), get(url('/vod/a1/seg-3.m4s'))]);
    expect(got[0].status).toBe(206);
    expect(got[0].body.equals(body.subarray(0, 4))).toBe(true);
    expect(got[1].body.equals(body)).toBe(true);
    expect(origin.count('/vod/a1/seg-3.m4s')).toBe(1);
  });

  it('answers HEAD with the length and validator and no body, filling the cache for the GET', async () => {
    const h = await get(url('/vod/a1/seg-4.m4s'), {}, 'HEAD');
    expect(h.status).toBe(200);
    expect(h.headers['content-length']).toBe('10');
    expect(h.headers.etag).toMatch(/^"[A-Za-z0-9_-]{27}"$/);
    expect(h.body.length).toBe(0);
    const g = await get(url('/vod/a1/seg-4.m4s'));
    expect(g.body.toString()).toBe('head first');
    expect(g.headers['x-cache']).toBe('HIT');
    expect(origin.count('/vod/a1/seg-4.m4s')).toBe(1);
  });

  it('generates a strong ETag when the origin sent none, keeps the origin one otherwise, and answers 304', async () => {
    const a = await get(url('/vod/a1/seg-1.m4s'));
    const tag = a.headers.etag!;
    expect(tag).toBe(`"${crypto.createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`);
    const nm = await get(url('/vod/a1/seg-1.m4s'), { 'if-none-match': `"x", ${tag}` });
    expect(nm.status).toBe(304);
    expect(nm.body.length).toBe(0);
    expect(nm.headers.etag).toBe(tag);
    expect(nm.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect((await get(url('/vod/a1/seg-1.m4s'), { 'if-none-match': '"nope"' })).status).toBe(200);
    const b = await get(url('/vod/a1/seg-2.m4s'), { 'if-none-match': '"origin-tag"' });
    expect(b.status).toBe(304);
    expect(b.headers.etag).toBe('"origin-tag"');
  });

  it('does CORS: preflight, and allow-origin plus exposed headers on every response', async () => {
    const pre = await get(url('/live/s1/720p/index.m3u8'), { origin: 'https://player.example', 'access-control-request-method': 'GET', 'access-control-request-headers': 'authorization, range' }, 'OPTIONS');
    expect(pre.status).toBe(204);
    expect(pre.headers['access-control-allow-origin']).toBe('*');
    expect(pre.headers['access-control-allow-methods']).toContain('GET');
    expect(pre.headers['access-control-allow-headers']).toMatch(/Authorization/);
    expect(pre.headers['access-control-allow-headers']).toMatch(/Range/);
    expect(origin.count('/live/s1/720p/index.m3u8')).toBe(0);
    const g = await get(url('/live/s1/720p/index.m3u8'), { origin: 'https://player.example' });
    expect(g.headers['access-control-allow-origin']).toBe('*');
    expect(g.headers['access-control-expose-headers']).toContain('Content-Range');
    expect(g.headers['access-control-expose-headers']).toContain('Age');
    // Origin headers are relayed, except hop-by-hop and cookies (a shared cache never replays them).
    expect(g.headers['x-origin-note']).toBe('kept');
    expect(g.headers['set-cookie']).toBeUndefined();
    const err = await get(url('/nothing'));
    expect(err.status).toBe(404);
    expect(err.headers['access-control-allow-origin']).toBe('*');
  });

  it('honours max-age: fresh hits with a growing Age, then a refetch', async () => {
    const first = await get(url('/live/s1/master.m3u8'));
    expect(first.headers['x-cache']).toBe('MISS');
    const hit = await get(url('/live/s1/master.m3u8'));
    expect(hit.headers['x-cache']).toBe('HIT');
    expect(hit.headers.age).toBe('0');
    await sleep(1100);
    const again = await get(url('/live/s1/master.m3u8'));
    expect(again.headers['x-cache']).toBe('MISS');
    expect(origin.count('/live/s1/master.m3u8')).toBe(2);
  });

  it('refuses what it does not serve: 404, 405, 400 on bad directives, 404 on traversal, none reaching the origin', async () => {
    const before = origin.requests.length;
    expect((await get(url('/live/s1/../other/720p/index.m3u8'))).status).toBe(404);
    expect((await get(url('/live/s1/%2e%2e/x/index.m3u8'))).status).toBe(404);
    expect((await get(url('/etc/passwd'))).status).toBe(404);
    const post = await get(url('/live/s1/master.m3u8'), {}, 'POST');
    expect(post.status).toBe(405);
    expect(post.headers.allow).toBe('GET, HEAD, OPTIONS');
    const bad = await get(url('/live/s1/720p/index.m3u8?_HLS_msn=abc'));
    expect(bad.status).toBe(400);
    expect(JSON.parse(bad.body.toString()).code).toBe('BAD_DELIVERY_DIRECTIVE');
    expect((await get(url('/live/s1/720p/index.m3u8?_HLS_part=1'))).status).toBe(400);
    expect(origin.requests.length).toBe(before);
  });

  it('relays origin 404s without caching them', async () => {
    expect((await get(url('/vod/a1/missing.m4s'))).status).toBe(404);
    expect((await get(url('/vod/a1/missing.m4s'))).status).toBe(404);
    expect(origin.count('/vod/a1/missing.m4s')).toBe(2);
  });

  it('serves its clock at /time for DASH UTCTiming, uncached', async () => {
    const before = Date.now();
    const t = await get(url('/time'));
    expect(t.status).toBe(200);
    expect(t.headers['cache-control']).toBe('no-store');
    const ms = Date.parse(t.body.toString());
    expect(ms).toBeGreaterThanOrEqual(before - 1000);
    expect(ms).toBeLessThanOrEqual(Date.now() + 1000);
  });

  it('serves /healthz and /metrics', async () => {
    const h = await get(url('/healthz'));
    expect(h.status).toBe(200);
    expect(JSON.parse(h.body.toString())).toMatchObject({ status: 'ok', origins: [{ origin: origin.url, up: true }] });
    const m = await get(url('/metrics'));
    expect(m.status).toBe(200);
    const text = m.body.toString();
    for (const name of [
      'edge_requests_total{status="200",cache="hit"}',
      'edge_cache_hit_ratio',
      'edge_bytes_served_total',
      'edge_upstream_request_duration_seconds_bucket',
      'edge_coalesced_waiters_total',
      'edge_cache_evictions_total',
      'edge_cache_bytes',
      `edge_origin_up{origin="${origin.url}"} 1`,
    ]) {
      expect(text).toContain(name);
    }
    const ratio = await metricValue(edge.registry, 'edge_cache_hit_ratio');
    expect(ratio).toBeGreaterThan(0);
    expect(ratio).toBeLessThan(1);
  });
});
