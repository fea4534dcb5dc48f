import { afterEach, describe, expect, it } from 'vitest';
import { TestOrigin } from './test-origin.js';
import { eventually, get, metricValue, sleep, startEdge, type TestEdge } from './test-helpers.js';

const IMMUTABLE = { 'content-type': 'video/mp4', 'cache-control': 'public, max-age=31536000, immutable' };
const LIVE = { 'content-type': 'application/vnd.apple.mpegurl', 'cache-control': 'no-cache' };

describe('edge with failing origins', () => {
  const cleanup: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c();
  });
  async function origin(): Promise<TestOrigin> {
    const o = await new TestOrigin().start();
    cleanup.push(() => o.kill());
    return o;
  }
  async function edgeFor(urls: string[], staleIfErrorSeconds = 1): Promise<TestEdge> {
    const e = await startEdge(urls, { staleIfErrorSeconds, connectTimeoutMs: 300 });
    cleanup.push(() => e.close());
    return e;
  }

  it('origin killed: cached media is still served, playlists stale for the bound, then a 502 problem', async () => {
    const o = await origin();
    o.route('/live/s1/720p/init-1.mp4', { headers: IMMUTABLE, body: 'INIT' });
    o.route('/live/s1/720p/index.m3u8', { headers: LIVE, body: '#EXTM3U\n#v1\n' });
    o.route('/live/s1/master.m3u8', { headers: { ...LIVE, 'cache-control': 'max-age=0, stale-if-error=3' }, body: '#EXTM3U\n#master\n' });
    const edge = await edgeFor([o.url], 1);
    expect((await get(`${edge.url}/live/s1/720p/init-1.mp4`)).status).toBe(200);
    expect((await get(`${edge.url}/live/s1/720p/index.m3u8`)).headers['x-cache']).toBe('MISS');
    await get(`${edge.url}/live/s1/master.m3u8`);
    // no-cache: each use goes upstream while the origin is there.
    expect((await get(`${edge.url}/live/s1/720p/index.m3u8`)).headers['x-cache']).toBe('MISS');
    expect(o.count('/live/s1/720p/index.m3u8')).toBe(2);

    await o.kill();
    const seg = await get(`${edge.url}/live/s1/720p/init-1.mp4`);
    expect(seg.status).toBe(200);
    expect(seg.body.toString()).toBe('INIT');
    const stale = await get(`${edge.url}/live/s1/720p/index.m3u8`);
    expect(stale.status).toBe(200);
    expect(stale.headers['x-cache']).toBe('STALE');
    expect(stale.body.toString()).toBe('#EXTM3U\n#v1\n');
    expect(await metricValue(edge.registry, 'edge_requests_total', 'cache="stale"')).toBe(1);

    await sleep(1300); // past the 1 s stale-if-error bound of the edge default
    const gone = await get(`${edge.url}/live/s1/720p/index.m3u8`);
    expect(gone.status).toBe(502);
    expect(gone.headers['content-type']).toBe('application/problem+json');
    const problem = JSON.parse(gone.body.toString());
    expect(problem).toMatchObject({ status: 502, code: 'ORIGIN_UNAVAILABLE' });
    // The problem says what failed, never where the internal origins are (they are in the log).
    expect(problem.detail).toBe('no origin could serve the request');
    expect(gone.body.toString()).not.toContain(o.url);
    expect(gone.body.toString()).not.toContain('127.0.0.1');
    // The origin's own stale-if-error=3 outlives the edge default.
    const master = await get(`${edge.url}/live/s1/master.m3u8`);
    expect(master.headers['x-cache']).toBe('STALE');
    // Immutable media is unaffected by any of this.
    expect((await get(`${edge.url}/live/s1/720p/init-1.mp4`)).headers['x-cache']).toBe('HIT');
    await eventually(async () => (await metricValue(edge.registry, 'edge_origin_up', `origin="${o.url}"`)) === 0);
  });

  it('a held request whose origin dies mid-wait gets the stale copy or a problem, never a hang', async () => {
    const o = await origin();
    o.route('/live/s2/720p/index.m3u8', { headers: LIVE, body: '#EXTM3U\n', delayMs: 2000 });
    const edge = await edgeFor([o.url]);
    const pending = get(`${edge.url}/live/s2/720p/index.m3u8?_HLS_msn=3`);
    await sleep(200);
    await o.kill();
    const r = await pending;
    expect(r.status).toBe(502);
    expect(JSON.parse(r.body.toString()).code).toBe('ORIGIN_UNAVAILABLE');
  });

  it('fails over to the next origin on connect errors and 5xx, and back to the first when it recovers', async () => {
    const a = await origin();
    const b = await origin();
    for (const o of [a, b]) {
      o.route('/vod/v1/seg-1.m4s', { headers: IMMUTABLE, body: `from ${o.url}` });
      o.route('/vod/v1/seg-2.m4s', { headers: IMMUTABLE, body: `from ${o.url}` });
    }
    a.route('/vod/v1/broken.m4s', { status: 500, body: 'boom' });
    b.route('/vod/v1/broken.m4s', { headers: IMMUTABLE, body: 'b is fine' });
    const edge = await edgeFor([a.url, b.url]);

    expect((await get(`${edge.url}/vod/v1/seg-1.m4s`)).body.toString()).toBe(`from ${a.url}`);
    const r5 = await get(`${edge.url}/vod/v1/broken.m4s`);
    expect(r5.status).toBe(200);
    expect(r5.body.toString()).toBe('b is fine');
    expect(a.count('/vod/v1/broken.m4s')).toBe(1);

    await a.kill();
    // Before any health check notices, the connect error itself moves the request on to b.
    const r = await get(`${edge.url}/vod/v1/seg-2.m4s`);
    expect(r.status).toBe(200);
    expect(r.body.toString()).toBe(`from ${b.url}`);
    expect(await metricValue(edge.registry, 'edge_origin_up', `origin="${a.url}"`)).toBe(0);
    expect(await metricValue(edge.registry, 'edge_origin_up', `origin="${b.url}"`)).toBe(1);

    await a.start(); // same port
    await eventually(async () => (await metricValue(edge.registry, 'edge_origin_up', `origin="${a.url}"`)) === 1);
    a.route('/vod/v1/seg-3.m4s', { headers: IMMUTABLE, body: 'a again' });
    expect((await get(`${edge.url}/vod/v1/seg-3.m4s`)).body.toString()).toBe('a again');
  });

  it('a failing health check takes an origin out of rotation', async () => {
    const a = await origin();
    const b = await origin();
    a.route('/vod/v2/x.m4s', { headers: IMMUTABLE, body: 'a' });
    b.route('/vod/v2/x.m4s', { headers: IMMUTABLE, body: 'b' });
    const edge = await edgeFor([a.url, b.url]);
    a.healthy = false;
    await eventually(async () => (await metricValue(edge.registry, 'edge_origin_up', `origin="${a.url}"`)) === 0);
    expect((await get(`${edge.url}/vod/v2/x.m4s`)).body.toString()).toBe('b');
    expect(a.count('/vod/v2/x.m4s')).toBe(0);
  });

  it('every origin answering 5xx gives a clear 502 problem; a 503 with Retry-After is relayed as the origin said', async () => {
    const a = await origin();
    const b = await origin();
    for (const o of [a, b]) {
      o.route('/live/s3/720p/index.m3u8', { status: 500, body: 'nope' });
      o.route('/live/s3/720p/part-9.0.m4s', { status: 503, headers: { 'retry-after': '1', 'cache-control': 'no-store' }, body: 'not yet' });
    }
    const edge = await edgeFor([a.url, b.url]);
    const r = await get(`${edge.url}/live/s3/720p/index.m3u8`);
    expect(r.status).toBe(502);
    expect(JSON.parse(r.body.toString())).toMatchObject({ code: 'ORIGIN_ERROR', status: 502 });
    expect(a.count('/live/s3/720p/index.m3u8') + b.count('/live/s3/720p/index.m3u8')).toBe(2);
    const held = await get(`${edge.url}/live/s3/720p/part-9.0.m4s`);
    expect(held.status).toBe(503);
    expect(held.headers['retry-after']).toBe('1');
    expect(b.count('/live/s3/720p/part-9.0.m4s')).toBe(0);
  });

  it('an origin that never answers gives a 504 after the upstream timeout', async () => {
    const o = await origin();
    o.route('/live/s4/720p/index.m3u8', { headers: LIVE, body: 'late', delayMs: 5000 });
    const e = await startEdge([o.url], { upstreamTimeoutMs: 300 });
    cleanup.push(() => e.close());
    const r = await get(`${e.url}/live/s4/720p/index.m3u8`);
    expect(r.status).toBe(504);
    expect(JSON.parse(r.body.toString()).code).toBe('ORIGIN_TIMEOUT');
  });
});
