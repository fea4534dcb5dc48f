/** The packager's public face: live packaging service, live catalog, and manifest builders. */
export * from './contract.js';
export { LiveCatalog } from './live/live-catalog.js';
export { LivePackager, type LivePackagerDeps, type LivePackagerTopics } from './live/live-packager.js';
export * from './manifest/index.js';
export { RenditionTimeline, type TimelineInit } from './live/rendition-timeline.js';
