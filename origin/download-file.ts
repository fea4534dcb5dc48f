/**
 * `/vod/{assetId}/{rendition}.mp4`: one video rendition and the audio of an on-demand asset as a
 * single fragmented MP4 file for offline viewing (packager's mergeInits: one moov with both tracks,
 * then every segment's stored fragments, still encrypted with the asset's keys). Assembled on request
 * from the stored init and segments with a length known up front, so byte ranges resume a download.
 */
import crypto from 'node:crypto';
import { once } from 'node:events';
import type http from 'node:http';
import type { BlobInfo, BlobStore } from '../platform/index.js';
import { AUDIO_RENDITION, mergeInits, patchFragmentTrackId } from '../packager/index.js';
import { IMMUTABLE } from './growing-segment.js';
import { parseRange, sendProblem } from './http-replies.js';

/** One piece of the file: the merged header, or a stored segment (audio ones get their track ID patched). */
type Piece = { bytes: Buffer; size: number } | { key: string; size: number; audioTrackId?: number };

const SEGMENT = /\/seg-(\d{1,15})\.m4s$/;

function segmentsOf(listing: BlobInfo[]): BlobInfo[] {
  return listing.filter((b) => SEGMENT.test(b.key)).sort((a, b) => Number(SEGMENT.exec(a.key)![1]) - Number(SEGMENT.exec(b.key)![1]));
}

/** The audio that goes in the file: the one `audio` track, or the first of several languages (`audio-{lang}`). */
async function defaultAudio(blobs: BlobStore, root: string): Promise<BlobInfo[]> {
  const single = await blobs.list(`${root}/${AUDIO_RENDITION}/`);
  if (single.length > 0) return single;
  const languages = await blobs.list(`${root}/${AUDIO_RENDITION}-`);
  const first = languages[0]?.key.slice(0, languages[0].key.lastIndexOf('/') + 1);
  return first ? languages.filter((b) => b.key.startsWith(first)) : [];
}

/** The file's pieces in order, or undefined when the rendition has no init or segments. */
async function piecesOf(blobs: BlobStore, assetId: string, rendition: string): Promise<Piece[] | undefined> {
  const root = `vod/${assetId}`;
  if (rendition === AUDIO_RENDITION || rendition.startsWith(`${AUDIO_RENDITION}-`)) return undefined;
  const [video, audio] = await Promise.all([blobs.list(`${root}/${rendition}/`), defaultAudio(blobs, root)]);
  const videoSegments = segmentsOf(video);
  if (!video.some((b) => b.key.endsWith('/init.mp4')) || videoSegments.length === 0) return undefined;
  const audioInitKey = audio.find((b) => b.key.endsWith('/init.mp4'))?.key;
  const [videoInit, audioInit] = await Promise.all([read(blobs, `${root}/${rendition}/init.mp4`), audioInitKey ? read(blobs, audioInitKey) : undefined]);
  if (!videoInit) return undefined;
  const header = mergeInits(videoInit, audioInit);
  const audioSegments = audioInit ? segmentsOf(audio) : [];
  const pieces: Piece[] = [{ bytes: header.init, size: header.init.length }];
  for (let i = 0; i < Math.max(videoSegments.length, audioSegments.length); i++) {
    if (videoSegments[i]) pieces.push({ key: videoSegments[i].key, size: videoSegments[i].size });
    if (audioSegments[i]) pieces.push({ key: audioSegments[i].key, size: audioSegments[i].size, audioTrackId: header.audioTrackId });
  }
  return pieces;
}

/** A stored object's bytes (straight from storage: a download must not flush the origin's hot objects). */
async function read(blobs: BlobStore, key: string): Promise<Buffer | undefined> {
  const obj = await blobs.get(key);
  if (!obj) return undefined;
  const chunks: Buffer[] = [];
  for await (const c of obj.body) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

async function bytesOf(blobs: BlobStore, piece: Piece): Promise<Buffer> {
  if ('bytes' in piece) return piece.bytes;
  const body = await read(blobs, piece.key);
  if (!body) throw new Error(`segment ${piece.key} vanished while a download was served`);
  return piece.audioTrackId !== undefined ? patchFragmentTrackId(body, piece.audioTrackId) : body;
}

/** Serves the download file (200, or 206 for a range), HEAD included. */
export async function serveDownloadFile(req: http.IncomingMessage, res: http.ServerResponse, blobs: BlobStore, assetId: string, rendition: string): Promise<number> {
  const pieces = await piecesOf(blobs, assetId, rendition);
  if (!pieces) return sendProblem(res, 404, 'NOT_FOUND', `asset ${assetId} has no rendition ${rendition}`);
  const total = pieces.reduce((n, p) => n + p.size, 0);
  const listingTag = crypto.createHash('sha256').update(pieces.map((p) => ('key' in p ? `${p.key}:${p.size}` : `h:${p.size}`)).join('|')).digest('base64url').slice(0, 27);
  const range = parseRange(req.headers.range);
  if (range === 'invalid') return sendProblem(res, 416, 'RANGE_NOT_SATISFIABLE', 'malformed Range header');
  const start = range?.start ?? 0;
  const end = Math.min(range?.end ?? total - 1, total - 1);
  if (start >= total) {
    res.setHeader('Content-Range', `bytes */${total}`);
    return sendProblem(res, 416, 'RANGE_NOT_SATISFIABLE', `the file has ${total} bytes`);
  }
  const status = range ? 206 : 200;
  res.writeHead(status, {
    'Content-Type': 'video/mp4',
    'Content-Length': end - start + 1,
    'Cache-Control': IMMUTABLE,
    'Accept-Ranges': 'bytes',
    ETag: `"${listingTag}"`,
    'Content-Disposition': `attachment; filename="${assetId}-${rendition}.mp4"`,
    ...(range ? { 'Content-Range': `bytes ${start}-${end}/${total}` } : {}),
  });
  if (req.method === 'HEAD') {
    res.end();
    return status;
  }
  let at = 0;
  for (const piece of pieces) {
    const from = at;
    at += piece.size;
    if (at <= start || from > end) continue;
    if (res.destroyed) return status;
    const bytes = await bytesOf(blobs, piece);
    const chunk = bytes.subarray(Math.max(0, start - from), Math.min(bytes.length, end - from + 1));
    if (!res.write(chunk)) await Promise.race([once(res, 'drain'), once(res, 'close')]);
  }
  res.end();
  return status;
}
