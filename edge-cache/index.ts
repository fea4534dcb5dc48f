/** edge-cache's public face: the service class, its config mapping and the playback-token signer. */
export { EdgeServer, type EdgeDeps } from './edge-server.js';
export { edgeConfigFrom, resolveEdgeConfig } from './edge-config.js';
export { signPlaybackToken, PlaybackAuth, type AuthVerdict } from './playback-auth.js';
export type { EdgeConfig, ResolvedEdgeConfig, PlaybackTokenClaims, CacheOutcome } from './contract.js';
export { PLAYBACK_TOKEN_ALGORITHM } from './contract.js';
