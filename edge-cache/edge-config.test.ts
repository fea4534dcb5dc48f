import { describe, expect, it } from 'vitest';
import { loadConfig } from '../platform/index.js';
import { edgeConfigFrom, resolveEdgeConfig } from './edge-config.js';

describe('edge config', () => {
  it('maps platform Config onto the edge config with defaults', () => {
    const config = loadConfig({ EDGE_PORT: '9100', ORIGIN_URLS: 'http://a:1, http://b:2/', EDGE_CACHE_BYTES: String(4 << 20), PLAYBACK_SIGNING_KEY: 'k' });
    const edge = resolveEdgeConfig(edgeConfigFrom(config));
    expect(edge).toMatchObject({
      port: 9100,
      originUrls: ['http://a:1', 'http://b:2'],
      cacheBytes: 4 << 20,
      playbackSigningKey: 'k',
      requireToken: false,
      staleIfErrorSeconds: 30,
      upstreamTimeoutMs: 15_000,
      maxObjectBytes: 1 << 20,
      diskCacheBytes: 40 << 20,
    });
    expect(edge.diskCacheDir).toBeUndefined();
  });

  it('reads optional edge fields platform Config may grow, and keeps the upstream timeout above the origin hold', () => {
    const config = loadConfig({ ORIGIN_BLOCKING_TIMEOUT_MS: '20000' });
    Object.assign(config.edge, { requireToken: true, playbackSigningKey: 'k', diskCacheDir: '/tmp/x', staleIfErrorSeconds: 5 });
    const edge = resolveEdgeConfig(edgeConfigFrom(config));
    expect(edge).toMatchObject({ requireToken: true, diskCacheDir: '/tmp/x', staleIfErrorSeconds: 5, upstreamTimeoutMs: 25_000 });
  });

  it('refuses a token requirement without a key, and no origins', () => {
    const base = { port: 0, bindHost: '127.0.0.1', originUrls: ['http://a'], cacheBytes: 1 << 20 };
    expect(() => resolveEdgeConfig({ ...base, requireToken: true })).toThrow(/PLAYBACK_SIGNING_KEY/);
    expect(() => resolveEdgeConfig({ ...base, originUrls: [] })).toThrow(/origin/);
  });
});
