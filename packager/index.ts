/** The packager's public face: live packaging service, live catalog, and manifest builders. */
export * from './contract.js';
export { LiveCatalog, type CatalogChange, type LoadedRendition, type PublishableTimeline } from './live/live-catalog.js';
export { foldRenditionEvent, openRenditionState } from './live/rendition-fold.js';
export { LivePackager, type LivePackagerDeps, type LivePackagerTopics } from './live/live-packager.js';
export { RenditionPipeline, type RenditionPipelineConfig } from './live/rendition-pipeline.js';
export { createLiveMetrics, type LiveMetrics } from './live/live-session.js';
export * from './manifest/index.js';
export { RenditionTimeline, type TimelineInit } from './live/rendition-timeline.js';
export { ffmpegLadderArgs, LadderProcess, LadderSupervisor, probeSource, ProbeError, type LadderOutput, type LadderArgs, type LadderInput } from './ladder/index.js';
export { Fmp4StreamParser, type Fmp4Fragment, type Fmp4Init, type TrackInfo } from './cmaf/fmp4-stream-parser.js';
export { CmafSegmenter, type CmafPart, type CmafSegment } from './cmaf/segmenter.js';
export * from './vod/index.js';
export { CencTrackEncryptor, type CencTrackConfig } from './crypto/cenc-boxes.js';
export { joinChunks } from './cmaf/join-chunks.js';
export type { TrackDefaults } from './cmaf/boxes.js';
