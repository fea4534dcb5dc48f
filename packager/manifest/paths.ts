/**
 * The URL layout the packager writes and the origin serves, in one place. Playlists use the relative
 * forms, so a stream can move between hosts (origin, edge) without rewriting them.
 *
 *   /live/{streamId}/master.m3u8                  multivariant playlist
 *   /live/{streamId}/manifest.mpd                 DASH MPD
 *   /live/{streamId}/{rendition}/index.m3u8       media playlist
 *   /live/{streamId}/{rendition}/init.mp4         init segment (or init-{n}.mp4, versioned)
 *   /live/{streamId}/{rendition}/seg-{msn}.m4s    segment
 *   /live/{streamId}/{rendition}/part-{msn}.{i}.m4s  part
 */

/** Where a stream's files live: live streams, or recordings and uploads served on demand. */
export type MediaScope = 'live' | 'vod';

/** The audio rendition's name (its folder, HLS NAME and DASH Representation id). */
export const AUDIO_RENDITION = 'audio';

/** Multivariant playlist file name, in the stream folder. */
export const MULTIVARIANT_NAME = 'master.m3u8';
/** MPD file name, in the stream folder. */
export const MPD_NAME = 'manifest.mpd';
/** Media playlist file name, in each rendition folder. */
export const MEDIA_PLAYLIST_NAME = 'index.m3u8';

/** DASH SegmentTemplate@initialization matching `initName()` (ISO/IEC 23009-1 §5.3.9.4.4). */
export const DASH_INIT_TEMPLATE = '$RepresentationID$/init.mp4';
/** DASH SegmentTemplate@media matching `segmentName()`. */
export const DASH_MEDIA_TEMPLATE = '$RepresentationID$/seg-$Number$.m4s';

const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

/** Stream ids and rendition names become path segments: only [A-Za-z0-9_-], so no traversal or escaping. */
export function isSafeName(name: string): boolean {
  return SAFE_NAME.test(name);
}

function safe(name: string, what: string): string {
  if (!isSafeName(name)) throw new RangeError(`${what} ${JSON.stringify(name)} is not a safe path segment`);
  return name;
}

/** `/live/{streamId}` (or `/vod/...`). */
export function streamRoot(streamId: string, scope: MediaScope = 'live'): string {
  return `/${scope}/${safe(streamId, 'stream id')}`;
}

/** Absolute path of the multivariant playlist. */
export function multivariantPath(streamId: string, scope: MediaScope = 'live'): string {
  return `${streamRoot(streamId, scope)}/${MULTIVARIANT_NAME}`;
}

/** Absolute path of the MPD. */
export function mpdPath(streamId: string, scope: MediaScope = 'live'): string {
  return `${streamRoot(streamId, scope)}/${MPD_NAME}`;
}

/** Absolute path of a rendition's folder. */
export function renditionRoot(streamId: string, rendition: string, scope: MediaScope = 'live'): string {
  return `${streamRoot(streamId, scope)}/${safe(rendition, 'rendition')}`;
}

/** Absolute path of a media playlist. */
export function mediaPlaylistPath(streamId: string, rendition: string, scope: MediaScope = 'live'): string {
  return `${renditionRoot(streamId, rendition, scope)}/${MEDIA_PLAYLIST_NAME}`;
}

/** Init segment name: `init.mp4`, or `init-{version}.mp4` when a stream re-initialises. */
export function initName(version?: number): string {
  return version === undefined ? 'init.mp4' : `init-${version}.mp4`;
}

/** Segment name, relative to its media playlist. */
export function segmentName(msn: number): string {
  return `seg-${msn}.m4s`;
}

/** Part name, relative to its media playlist. */
export function partName(msn: number, partIndex: number): string {
  return `part-${msn}.${partIndex}.m4s`;
}

/** A media playlist's URI relative to the multivariant playlist. */
export function mediaPlaylistUri(rendition: string): string {
  return `${safe(rendition, 'rendition')}/${MEDIA_PLAYLIST_NAME}`;
}

/** A sibling's media playlist URI relative to a media playlist (EXT-X-RENDITION-REPORT, §4.4.5.4). */
export function siblingPlaylistUri(rendition: string): string {
  return `../${mediaPlaylistUri(rendition)}`;
}

/** What a file name inside a rendition folder refers to. */
export type MediaName =
  | { kind: 'playlist' }
  | { kind: 'init'; version?: number }
  | { kind: 'segment'; msn: number }
  | { kind: 'part'; msn: number; partIndex: number };

/** Parses the last path segment of a rendition resource; undefined for anything else. */
export function parseMediaName(name: string): MediaName | undefined {
  if (name === MEDIA_PLAYLIST_NAME) return { kind: 'playlist' };
  if (name === 'init.mp4') return { kind: 'init' };
  let m = /^init-(\d{1,15})\.mp4$/.exec(name);
  if (m) return { kind: 'init', version: Number(m[1]) };
  m = /^seg-(\d{1,15})\.m4s$/.exec(name);
  if (m) return { kind: 'segment', msn: Number(m[1]) };
  m = /^part-(\d{1,15})\.(\d{1,6})\.m4s$/.exec(name);
  if (m) return { kind: 'part', msn: Number(m[1]), partIndex: Number(m[2]) };
  return undefined;
}
