import type { Config } from '../platform/index.js';
import type { EdgeConfig, ResolvedEdgeConfig } from './contract.js';

/** Edge tuning fields platform Config may grow in its `edge` section (read when present). */
type EdgeExtras = Partial<Omit<EdgeConfig, 'port' | 'bindHost' | 'originUrls' | 'cacheBytes' | 'playbackSigningKey'>>;

/** Maps the platform Config onto the edge's own config (optional tuning fields are read if present). */
export function edgeConfigFrom(config: Config): EdgeConfig {
  const extras = config.edge as Config['edge'] & EdgeExtras;
  return {
    // Longer than the origin may hold a blocking request, so a held request is never cut as a timeout.
    upstreamTimeoutMs: Math.max(15_000, config.origin.blockingTimeoutMs + 5000),
    ...pickDefined(extras),
    port: config.ports.edge,
    bindHost: config.bindHost,
    originUrls: config.edge.originUrls,
    cacheBytes: config.edge.cacheBytes,
    playbackSigningKey: config.edge.playbackSigningKey,
  };
}

function pickDefined(extras: EdgeExtras): EdgeExtras {
  const out: Record<string, unknown> = {};
  for (const k of [
    'requireToken',
    'diskCacheDir',
    'diskCacheBytes',
    'staleIfErrorSeconds',
    'healthIntervalMs',
    'connectTimeoutMs',
    'upstreamTimeoutMs',
    'maxObjectBytes',
    'blockingReloadTtlSeconds',
  ] as const) {
    if (extras[k] !== undefined) out[k] = extras[k];
  }
  return out as EdgeExtras;
}

/** Fills defaults and rejects contradictions (a token requirement without a key). */
export function resolveEdgeConfig(c: EdgeConfig): ResolvedEdgeConfig {
  if (c.originUrls.length === 0) throw new Error('edge-cache needs at least one origin URL');
  if (c.requireToken && !c.playbackSigningKey) {
    throw new Error('EDGE_REQUIRE_TOKEN=true needs PLAYBACK_SIGNING_KEY');
  }
  return {
    port: c.port,
    bindHost: c.bindHost,
    originUrls: c.originUrls.map((u) => u.replace(/\/+$/, '')),
    cacheBytes: c.cacheBytes,
    playbackSigningKey: c.playbackSigningKey,
    requireToken: c.requireToken ?? false,
    diskCacheDir: c.diskCacheDir,
    diskCacheBytes: c.diskCacheBytes ?? c.cacheBytes * 10,
    staleIfErrorSeconds: c.staleIfErrorSeconds ?? 30,
    healthIntervalMs: c.healthIntervalMs ?? 2000,
    connectTimeoutMs: c.connectTimeoutMs ?? 2000,
    upstreamTimeoutMs: c.upstreamTimeoutMs ?? 15_000,
    maxObjectBytes: c.maxObjectBytes ?? Math.min(Math.floor(c.cacheBytes / 4), 64 * 1024 * 1024),
    blockingReloadTtlSeconds: c.blockingReloadTtlSeconds ?? 6,
  };
}
