/** On-demand packaging: upload validation, the per-title ladder, VOD packaging and the worker. */
export { inspectSource, VodError, type VodErrorCode, type VodSource, type SourceAudioTrack } from './inspect.js';
export { perTitleLadder, ladderFromProbe, probeComplexity, type PerTitleLadder } from './per-title.js';
export { packageVod, vodRoot, audioTrackNames, type VodPackaged, type VodProgress, type VodPackageOptions } from './vod-packager.js';
export { VodWorker, type VodWorkerDeps } from './vod-worker.js';
export { makeThumbnails, thumbnailVtt, tileInterval, type VodThumbnails } from './thumbnails.js';
export { mergeInits, patchFragmentTrackId, defaultKeyIdOf, type DownloadHeader } from './download-file.js';
