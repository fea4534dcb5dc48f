/** The packager's public face: live packaging service, live catalog, and manifest builders. */
export * from './contract.js';
export { LiveCatalog } from './live/live-catalog.js';
export { LivePackager, type LivePackagerDeps, type LivePackagerTopics } from './live/live-packager.js';
export { toMediaPlaylist, toMultivariantPlaylist, type MediaPlaylistState, type HlsSegment, type HlsPart } from './manifest/hls.js';
export { toMpd, type MpdState, type DashAdaptationSet } from './manifest/dash.js';
export { partName, segmentName, siblingPlaylistUri, mediaPlaylistUri, initName } from './manifest/paths.js';
