/** Manifest builders and the URL layout (pure). */
export { toMediaPlaylist, toMultivariantPlaylist, type MediaPlaylistState, type HlsSegment, type SegmentTextMemo, type HlsPart } from './hls.js';
export { toMpd, type MpdState, type DashAdaptationSet } from './dash.js';
export { partName, segmentName, siblingPlaylistUri, mediaPlaylistUri, initName, AUDIO_RENDITION } from './paths.js';
export { toRenditionPlaylist, toStreamMultivariant, toStreamMpd, mediaPlaylistState, lastPartOf, type NextPart } from './from-catalog.js';
export { kidAsUuid, hlsKeyTag, dashContentProtection, type EncryptionInfo } from './encryption-info.js';
