import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { CacheEntry } from './cache-entry.js';
import { CacheStore } from './cache-store.js';
import { DiskTier } from './disk-tier.js';
import { TestOrigin } from './test-origin.js';
import { get, metricValue, startEdge } from './test-helpers.js';

const IMMUTABLE = { 'content-type': 'video/iso.segment', 'cache-control': 'public, max-age=31536000, immutable' };
const policy = { store: true, freshMs: 60_000, staleIfErrorMs: 0, immutable: true };
const entry = (key: string, bytes: number, now = Date.now()) =>
  CacheEntry.fromResponse(key, 200, { 'cache-control': 'max-age=60' }, crypto.randomBytes(bytes), policy, now);

describe('cache store', () => {
  const dirs: string[] = [];
  afterEach(async () => {
    for (const d of dirs.splice(0)) await fs.rm(d, { recursive: true, force: true });
  });
  async function tempDir(): Promise<string> {
    const d = await fs.mkdtemp(path.join(os.tmpdir(), 'edge-disk-'));
    dirs.push(d);
    return d;
  }

  it('keeps memory under its byte bound, evicting least recently used entries', () => {
    let evictions = 0;
    const store = new CacheStore({ maxBytes: 100_000, maxObjectBytes: 50_000, onEvict: () => evictions++ });
    store.set(entry('/a', 30_000), Date.now());
    store.set(entry('/b', 30_000), Date.now());
    store.set(entry('/c', 30_000), Date.now());
    store.get('/a'); // /a is now more recent than /b
    store.set(entry('/d', 30_000), Date.now());
    expect(store.bytes).toBeLessThanOrEqual(100_000);
    expect(store.get('/b')).toBeUndefined();
    expect(store.get('/a')).toBeDefined();
    expect(evictions).toBe(1);
    store.set(entry('/huge', 60_000), Date.now());
    expect(store.get('/huge')).toBeUndefined();
  });

  it('drops entries once they are past fresh + stale-if-error', async () => {
    const store = new CacheStore({ maxBytes: 100_000, maxObjectBytes: 50_000 });
    const e = CacheEntry.fromResponse('/p', 200, {}, Buffer.from('x'), { store: true, freshMs: 0, staleIfErrorMs: 50, immutable: false }, Date.now());
    store.set(e, Date.now());
    expect(store.get('/p')).toBe(e);
    await new Promise((r) => setTimeout(r, 80));
    expect(store.get('/p')).toBeUndefined();
  });

  it('through the edge: many objects never push memory over the bound, and evictions are counted', async () => {
    const origin = await new TestOrigin().start();
    const size = 100 * 1024;
    for (let i = 0; i < 30; i++) origin.route(`/vod/big/seg-${i}.m4s`, { headers: IMMUTABLE, body: crypto.randomBytes(size) });
    const bound = 1024 * 1024;
    const edge = await startEdge([origin.url], { cacheBytes: bound });
    try {
      for (let i = 0; i < 30; i++) {
        expect((await get(`${edge.url}/vod/big/seg-${i}.m4s`)).body.length).toBe(size);
        expect(edge.edge.stats().bytes).toBeLessThanOrEqual(bound);
      }
      expect(edge.edge.stats().entries).toBeLessThanOrEqual(10);
      expect(await metricValue(edge.registry, 'edge_cache_evictions_total')).toBeGreaterThanOrEqual(20);
      expect(await metricValue(edge.registry, 'edge_cache_bytes')).toBeLessThanOrEqual(bound);
      // The newest object is a hit, the oldest went back to the origin.
      expect((await get(`${edge.url}/vod/big/seg-29.m4s`)).headers['x-cache']).toBe('HIT');
      expect((await get(`${edge.url}/vod/big/seg-0.m4s`)).headers['x-cache']).toBe('MISS');
      expect(origin.count('/vod/big/seg-0.m4s')).toBe(2);
    } finally {
      await edge.close();
      await origin.kill();
    }
  });

  it('disk tier: bounded, survives a restart, serves after the origin is gone', async () => {
    const dir = await tempDir();
    const origin = await new TestOrigin().start();
    origin.route('/vod/d1/seg-1.m4s', { headers: IMMUTABLE, body: 'on disk' });
    origin.route('/live/d1/720p/index.m3u8', { headers: { 'cache-control': 'no-cache' }, body: '#EXTM3U\n' });
    const first = await startEdge([origin.url], { diskCacheDir: dir });
    await get(`${first.url}/vod/d1/seg-1.m4s`);
    await get(`${first.url}/live/d1/720p/index.m3u8`);
    await first.close(); // flushes disk writes
    await origin.kill();
    // Only long-lived objects are written to disk.
    expect((await fs.readdir(dir)).length).toBe(1);

    const second = await startEdge([origin.url], { diskCacheDir: dir, connectTimeoutMs: 200 });
    try {
      const r = await get(`${second.url}/vod/d1/seg-1.m4s`);
      expect(r.status).toBe(200);
      expect(r.body.toString()).toBe('on disk');
      expect(r.headers['cache-control']).toBe('public, max-age=31536000, immutable');
      expect((await get(`${second.url}/vod/d1/seg-1.m4s`)).headers['x-cache']).toBe('HIT');
      expect((await get(`${second.url}/live/d1/720p/index.m3u8`)).status).toBe(502);
    } finally {
      await second.close();
    }
  });

  it('disk tier: evicts files beyond its byte bound and ignores foreign or corrupt files', async () => {
    const dir = await tempDir();
    const log = pino({ level: 'silent' });
    const disk = new DiskTier({ logger: log }, dir, 25_000);
    await disk.start();
    const now = Date.now();
    for (const k of ['/1', '/2', '/3']) {
      disk.write(entry(k, 10_000, now));
      await disk.close(); // one at a time, so LRU order is write order
    }
    await new Promise((r) => setTimeout(r, 20)); // unlink of the evicted file is fire-and-forget
    expect(disk.bytes).toBeLessThanOrEqual(25_000);
    expect((await fs.readdir(dir)).length).toBe(2);
    expect(await disk.read('/1', now)).toBeUndefined();
    expect((await disk.read('/3', now))?.body.length).toBe(10_000);

    // Corrupt the file of /3: it is dropped, not served.
    const files = await fs.readdir(dir);
    for (const f of files) await fs.writeFile(path.join(dir, f), 'junk');
    await fs.writeFile(path.join(dir, 'unrelated.txt'), 'x');
    const again = new DiskTier({ logger: log }, dir, 25_000);
    await again.start();
    expect(await again.read('/3', now)).toBeUndefined();
  });
});
