import crypto from 'node:crypto';
import type { BlobStore } from '../../platform/index.js';
import type { RenditionState, SegmentEntry, StreamState } from '../contract.js';
import { segmentName } from '../manifest/paths.js';
import { toRenditionPlaylist, toStreamMpd, toStreamMultivariant } from '../manifest/from-catalog.js';

/** Anything whose final rendition state and init segment key are known (a finished pipeline). */
export interface RecordedRendition {
  readonly state: RenditionState | undefined;
  readonly initKey: string | undefined;
  /** Every init segment the session used (storage keys); default `initKey` alone. */
  readonly initKeysUsed?: readonly string[];
  /** Every segment of the session, oldest first; default the DVR window's. */
  readonly recordedSegments?: readonly SegmentEntry[];
  /** Where a segment is stored now; default the live rendition folder. */
  segmentKey?(msn: number): string;
}

/** A recording written under `vod/{assetId}/`. */
export interface Recording {
  assetId: string;
  durationSeconds: number;
}

const IMMUTABLE = 'public, max-age=31536000, immutable';
const COPY_CONCURRENCY = 8;

/**
 * Turns a finished live session into an on-demand asset: every segment of the session (those that
 * left the DVR window were moved there as the stream ran) and the init segments end up under
 * `vod/{assetId}/{rendition}/`, with a VOD media playlist per rendition, a multivariant playlist and a
 * static MPD. Copies (rather than references) so the live window is trimmed freely.
 * Returns undefined when the session produced no complete segment.
 */
export async function writeRecording(blobs: BlobStore, stream: StreamState, renditions: RecordedRendition[], assetId: string = crypto.randomUUID()): Promise<Recording | undefined> {
  const root = `vod/${assetId}`;
  // The whole session, not just the DVR window: a recording plays from the start of the stream.
  const done = renditions
    .filter((r): r is RecordedRendition & { state: RenditionState; initKey: string } => Boolean(r.state && r.initKey))
    .map((r) => ({ r, state: { ...r.state, segments: [...(r.recordedSegments ?? r.state.segments)], discontinuitySequence: 0, ended: true } }))
    .filter(({ state }) => state.segments.length > 0);
  if (done.length === 0) return undefined;
  let duration = 0;
  for (const { r, state } of done) {
    const src = `live/${state.streamId}/${state.rendition}`;
    const dst = `${root}/${state.rendition}`;
    for (const key of r.initKeysUsed ?? [r.initKey]) await copy(blobs, key, `${dst}/${key.slice(key.lastIndexOf('/') + 1)}`);
    const queue = state.segments.map((s) => async () => {
      const from = r.segmentKey?.(s.msn) ?? `${src}/${segmentName(s.msn)}`;
      const to = `${dst}/${segmentName(s.msn)}`;
      // Segments that left the DVR window were moved here while the stream ran.
      if (from !== to) await copy(blobs, from, to);
    });
    await runLimited(queue, COPY_CONCURRENCY);
    const playlist = toRenditionPlaylist(state, { playlistType: 'VOD', ...(stream.encryption ? { encryption: stream.encryption } : {}) });
    await blobs.put(`${dst}/index.m3u8`, Buffer.from(playlist), { contentType: 'application/vnd.apple.mpegurl', cacheControl: IMMUTABLE });
    if (state.kind === 'video') duration = Math.max(duration, state.segments.reduce((a, s) => a + s.duration, 0));
  }
  const recorded: StreamState = { ...stream, ended: true, renditions: stream.renditions.filter((r) => done.some((d) => d.state.rendition === r.name)) };
  const states = done.map((d) => d.state);
  await blobs.put(`${root}/master.m3u8`, Buffer.from(toStreamMultivariant(recorded)), { contentType: 'application/vnd.apple.mpegurl', cacheControl: IMMUTABLE });
  await blobs.put(`${root}/manifest.mpd`, Buffer.from(toStreamMpd(recorded, states, Date.now())), { contentType: 'application/dash+xml', cacheControl: IMMUTABLE });
  return { assetId, durationSeconds: Math.round(duration * 1000) / 1000 };
}

async function copy(blobs: BlobStore, from: string, to: string): Promise<void> {
  const obj = await blobs.get(from);
  if (!obj) throw new Error(`recording source ${from} is missing`);
  await blobs.put(to, obj.body, { contentType: obj.info.contentType, cacheControl: IMMUTABLE });
}

async function runLimited(jobs: (() => Promise<void>)[], limit: number): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < jobs.length) await jobs[next++]();
  };
  await Promise.all(Array.from({ length: Math.min(limit, jobs.length) }, worker));
}

