import crypto from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TestOrigin } from './test-origin.js';
import { get, metricValue, sleep, startEdge, type TestEdge } from './test-helpers.js';

const IMMUTABLE = { 'content-type': 'video/iso.segment', 'cache-control': 'public, max-age=31536000, immutable' };

describe('edge request coalescing', () => {
  let origin: TestOrigin;
  let edge: TestEdge;

  beforeEach(async () => {
    origin = await new TestOrigin().start();
    edge = await startEdge([origin.url]);
  });
  afterEach(async () => {
    await edge.close();
    await origin.kill();
  });

  it('N concurrent cold requests make exactly one upstream fetch and get N identical bodies', async () => {
    const body = crypto.randomBytes(256 * 1024);
    // Held long enough that all N requests arrive while the fetch is under way, even on a busy machine.
    origin.route('/vod/a1/720p/seg-1.m4s', { headers: IMMUTABLE, body, delayMs: 500 });
    const n = 40;
    const got = await Promise.all(Array.from({ length: n }, () => get(`${edge.url}/vod/a1/720p/seg-1.m4s`)));
    expect(origin.count('/vod/a1/720p/seg-1.m4s')).toBe(1);
    for (const g of got) {
      expect(g.status).toBe(200);
      expect(g.body.equals(body)).toBe(true);
    }
    expect(await metricValue(edge.registry, 'edge_coalesced_waiters_total')).toBe(n - 1);
    expect(await metricValue(edge.registry, 'edge_requests_total', 'cache="miss"')).toBe(1);
    expect(await metricValue(edge.registry, 'edge_requests_total', 'cache="coalesced"')).toBe(n - 1);
    // And now it is cached: a later request is a hit with our pre-built head.
    const again = await get(`${edge.url}/vod/a1/720p/seg-1.m4s`);
    expect(again.headers['x-cache']).toBe('HIT');
    expect(again.body.equals(body)).toBe(true);
    expect(origin.count('/vod/a1/720p/seg-1.m4s')).toBe(1);
  });

  it('fetches and stores a segment once however many random delivery directives are appended to it', async () => {
    const body = crypto.randomBytes(4096);
    origin.route('/live/s1/720p/seg-7.m4s', { headers: IMMUTABLE, body });
    for (let i = 0; i < 25; i++) {
      const g = await get(`${edge.url}/live/s1/720p/seg-7.m4s?_HLS_msn=${crypto.randomInt(1e9)}&_HLS_part=${i}`);
      expect(g.status).toBe(200);
      expect(g.body.equals(body)).toBe(true);
    }
    expect(origin.count('/live/s1/720p/seg-7.m4s')).toBe(1);
    expect(origin.requests.filter((r) => r.startsWith('/live/s1/720p/seg-7.m4s'))).toEqual(['/live/s1/720p/seg-7.m4s']);
  });

  it('streams bytes to every waiter as they arrive; a late joiner gets the buffered bytes, then the tail', async () => {
    const parts = [Buffer.alloc(1000, 1), Buffer.alloc(1000, 2), Buffer.alloc(1000, 3)];
    // A part still being produced: the origin writes each third 500 ms apart (done at ~1000 ms).
    origin.route('/live/s1/720p/part-5.2.m4s', { headers: IMMUTABLE, body: parts, chunkDelayMs: 500 });
    const url = `${edge.url}/live/s1/720p/part-5.2.m4s`;
    const started = Date.now();
    const first = get(url);
    await sleep(100);
    const early = get(url); // joins before the second chunk
    await sleep(550);
    const lateAt = Date.now();
    const late = get(url); // joins at ~650 ms, after two chunks were produced
    const [a, b, c] = await Promise.all([first, early, late]);
    const originDone = origin.finishedAt.get('/live/s1/720p/part-5.2.m4s')!;
    expect(origin.count('/live/s1/720p/part-5.2.m4s')).toBe(1);
    const whole = Buffer.concat(parts);
    for (const g of [a, b, c]) {
      expect(g.status).toBe(200);
      expect(g.body.equals(whole)).toBe(true);
      // No waiter waited for the whole object: first bytes came well before the origin finished.
      expect(g.firstByteAt!).toBeLessThan(originDone - 150);
    }
    expect(a.firstByteAt! - started).toBeLessThan(350);
    // The late joiner got its buffered bytes at once (not at the end).
    expect(c.firstByteAt! - lateAt).toBeLessThan(200);
  });

  it('coalesces blocking playlist reloads by (msn, part, skip) only, and caches the answer', async () => {
    let served = 0;
    origin.route('/live/s1/720p/index.m3u8', (u) => {
      served++;
      return {
        delayMs: 500, // held until the part exists
        headers: { 'content-type': 'application/vnd.apple.mpegurl', 'cache-control': 'no-cache' },
        body: `#EXTM3U\n# msn=${u.searchParams.get('_HLS_msn')} part=${u.searchParams.get('_HLS_part')} n=${served}\n`,
      };
    });
    const base = `${edge.url}/live/s1/720p/index.m3u8`;
    // Same directives in any order, with tokens and unknown params: one key.
    const variants = [
      `${base}?_HLS_msn=7&_HLS_part=2`,
      `${base}?_HLS_part=2&_HLS_msn=7`,
      `${base}?token=abc&_HLS_msn=7&_HLS_part=2`,
      `${base}?_HLS_msn=7&foo=bar&_HLS_part=2&token=xyz`,
    ];
    const got = await Promise.all(Array.from({ length: 20 }, (_, i) => get(variants[i % variants.length])));
    expect(origin.requests).toEqual(['/live/s1/720p/index.m3u8?_HLS_msn=7&_HLS_part=2']);
    const text = got[0].body.toString();
    expect(text).toContain('msn=7 part=2 n=1');
    for (const g of got) expect(g.body.toString()).toBe(text);

    // A response for (msn, part) never changes: cached although the origin said no-cache.
    const later = await get(`${base}?_HLS_msn=7&_HLS_part=2`);
    expect(later.headers['x-cache']).toBe('HIT');
    expect(later.body.toString()).toBe(text);
    expect(served).toBe(1);

    // Other directives are other keys.
    await Promise.all([get(`${base}?_HLS_msn=7&_HLS_part=3`), get(`${base}?_HLS_msn=7&_HLS_part=3&_HLS_skip=YES`)]);
    expect(origin.requests.slice(1).sort()).toEqual([
      '/live/s1/720p/index.m3u8?_HLS_msn=7&_HLS_part=3',
      '/live/s1/720p/index.m3u8?_HLS_msn=7&_HLS_part=3&_HLS_skip=YES',
    ]);
  });

  it('coalesces but does not cache a no-store response', async () => {
    origin.route('/live/s1/keys/k1', { delayMs: 400, headers: { 'cache-control': 'private, no-store' }, body: 'secret' });
    const got = await Promise.all(Array.from({ length: 5 }, () => get(`${edge.url}/live/s1/keys/k1`)));
    for (const g of got) expect(g.body.toString()).toBe('secret');
    expect(origin.count('/live/s1/keys/k1')).toBe(1);
    await get(`${edge.url}/live/s1/keys/k1`);
    expect(origin.count('/live/s1/keys/k1')).toBe(2);
    expect(await metricValue(edge.registry, 'edge_requests_total', 'cache="bypass"')).toBe(2);
  });

  it('a viewer that disconnects mid-stream does not disturb the others, and the object is still cached', async () => {
    const parts = [Buffer.alloc(2000, 7), Buffer.alloc(2000, 8)];
    origin.route('/vod/a2/seg.m4s', { headers: IMMUTABLE, body: parts, chunkDelayMs: 200 });
    const url = `${edge.url}/vod/a2/seg.m4s`;
    const http = await import('node:http');
    const quitter = new Promise<void>((resolve) => {
      const req = http.get(url, { agent: false }, (res) => {
        res.once('data', () => {
          req.destroy();
          resolve();
        });
      });
      req.on('error', () => resolve());
    });
    const stayer = get(url);
    await quitter;
    const g = await stayer;
    expect(g.body.equals(Buffer.concat(parts))).toBe(true);
    const hit = await get(url);
    expect(hit.headers['x-cache']).toBe('HIT');
    expect(origin.count('/vod/a2/seg.m4s')).toBe(1);
  });
});
