import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BENCH_PATHS, BenchOrigin, countRequests, preloadHint } from './bench-origin.js';
import { RawConnection } from './raw-http.js';
import { epochMs } from './stats.js';

describe('BenchOrigin', () => {
  const partMs = 60;
  let origin: BenchOrigin;
  let port: number;
  const conn = async () => {
    const c = new RawConnection('127.0.0.1', port);
    await c.connect();
    return c;
  };

  beforeAll(async () => {
    origin = new BenchOrigin({ playlistBytes: 2048, partBytes: 1500, segmentBytes: 15_000, coldBytes: 600, simPartBytes: 300, partMs, partsPerSegment: 4, holdTimeoutMs: 2000 });
    port = await origin.start();
  });
  afterAll(() => origin.close());

  it('serves the hit-test objects at their exact sizes with caching headers, and counts them', async () => {
    const c = await conn();
    const pl = await c.get(BENCH_PATHS.playlist, true);
    expect(pl.status).toBe(200);
    expect(pl.bytes).toBe(2048);
    expect(pl.body!.toString().startsWith('#EXTM3U\n')).toBe(true);
    expect(pl.headers['cache-control']).toBe('public, max-age=60');
    const part = await c.get(BENCH_PATHS.part);
    expect(part.bytes).toBe(1500);
    expect(part.headers['cache-control']).toContain('immutable');
    expect((await c.get(BENCH_PATHS.segment)).bytes).toBe(15_000);
    expect((await c.get('/healthz')).status).toBe(200);
    const stats = JSON.parse((await c.get('/stats', true)).body!.toString());
    expect(countRequests(stats, BENCH_PATHS.playlist)).toBe(1);
    expect(countRequests(stats, '/healthz')).toBe(0);
    c.close();
  });

  it('delays cold objects by the delay in their path', async () => {
    const c = await conn();
    const r = await c.get(BENCH_PATHS.cold(1, 80));
    expect(r.status).toBe(200);
    expect(r.bytes).toBe(600);
    expect(r.doneAt - r.sentAt).toBeGreaterThanOrEqual(75);
    c.close();
  });

  it('holds blocked playlist requests until released, stamping the release time', async () => {
    const a = await conn();
    const b = await conn();
    const held = [a.get(BENCH_PATHS.blocked(7)), b.get(BENCH_PATHS.blocked(7))];
    await new Promise((r) => setTimeout(r, 50));
    const ctl = await conn();
    const rel = JSON.parse((await ctl.get('/control/release?msn=7', true)).body!.toString());
    expect(rel.released).toBe(2);
    for (const r of await Promise.all(held)) {
      expect(r.status).toBe(200);
      expect(Number(r.headers['x-released-at'])).toBeCloseTo(rel.at, 0);
      expect(r.headers['cache-control']).toBe('public, max-age=12');
    }
    for (const c of [a, b, ctl]) c.close();
  });

  it('publishes a part every partMs and answers a blocking reload once the part exists', async () => {
    const c = await conn();
    const live = await c.get(BENCH_PATHS.simPlaylist, true);
    expect(live.headers['cache-control']).toBe('no-cache');
    const text = live.body!.toString();
    expect(text).toContain('#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES');
    const next = preloadHint(text)!;
    expect(next).toBeDefined();
    const held = await c.get(`${BENCH_PATHS.simPlaylist}?_HLS_msn=${next.msn}&_HLS_part=${next.part}`, true);
    expect(held.status).toBe(200);
    const publishedAt = Number(held.headers['x-part-at']);
    // Answered at publication, not before (the bound after it is loose: CI machines are shared).
    expect(held.doneAt).toBeGreaterThanOrEqual(publishedAt);
    expect(held.doneAt - publishedAt).toBeLessThan(500);
    expect(held.body!.toString()).toContain(`URI="part-${next.msn}.${next.part}.m4s"`);
    const part = await c.get(BENCH_PATHS.simPart(next.msn, next.part));
    expect(part.status).toBe(200);
    expect(part.bytes).toBe(300);
    c.close();
  });

  it('refuses requests for parts that do not exist or are too far ahead', async () => {
    const c = await conn();
    const latest = origin.latestPart(epochMs());
    const far = Math.floor(latest / 4) + 5;
    expect((await c.get(`${BENCH_PATHS.simPlaylist}?_HLS_msn=${far}&_HLS_part=0`)).status).toBe(400);
    expect((await c.get(BENCH_PATHS.simPart(far, 0))).status).toBe(404);
    expect((await c.get(BENCH_PATHS.simPart(0, 4))).status).toBe(404);
    c.close();
  });
});

describe('preloadHint', () => {
  it('reads the hinted part, or nothing', () => {
    expect(preloadHint('#EXTM3U\n#EXT-X-PRELOAD-HINT:TYPE=PART,URI="part-12.3.m4s"\n')).toEqual({ msn: 12, part: 3 });
    expect(preloadHint('#EXTM3U\n')).toBeUndefined();
  });
});
