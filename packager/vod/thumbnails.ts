/**
 * An asset's pictures: a poster, one sprite sheet of evenly spaced frames and a WebVTT thumbnail track
 * (`sprite.jpg#xywh=x,y,w,h` per cue) that players use for scrubbing previews. Frames come from the
 * source's keyframes only (`-skip_frame nokey`), so a two-hour film costs seconds, not a full decode.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { BlobStore } from '../../platform/index.js';
import type { VodSource } from './inspect.js';

const execFileP = promisify(execFile);
const IMMUTABLE = 'public, max-age=31536000, immutable';

/** Storage keys of the pictures, relative to the asset's folder. */
export interface VodThumbnails {
  poster: string;
  sprite: string;
  vtt: string;
}

/** Tile size and layout of the sprite sheet. */
export const TILE_WIDTH = 160;
const COLUMNS = 10;
/** At most this many tiles: longer media get a tile every few seconds more. */
const MAX_TILES = 100;

/** Seconds between tiles for a duration: every 2 s, stretched so at most MAX_TILES are needed. */
export function tileInterval(durationSeconds: number): number {
  return Math.max(2, Math.ceil(durationSeconds / MAX_TILES));
}

const vttTime = (s: number) => {
  const ms = Math.round(s * 1000);
  const h = Math.floor(ms / 3_600_000);
  const m = Math.floor((ms % 3_600_000) / 60_000);
  const sec = Math.floor((ms % 60_000) / 1000);
  return `${String(h).padStart(2, '0')}:${String(m).padStart(2, '0')}:${String(sec).padStart(2, '0')}.${String(ms % 1000).padStart(3, '0')}`;
};

/** The WebVTT thumbnail track of a sprite with `count` tiles. */
export function thumbnailVtt(count: number, interval: number, duration: number, tileWidth: number, tileHeight: number, sprite = 'sprite.jpg'): string {
  const lines = ['WEBVTT', ''];
  for (let i = 0; i < count; i++) {
    const start = i * interval;
    if (start >= duration) break;
    const x = (i % COLUMNS) * tileWidth;
    const y = Math.floor(i / COLUMNS) * tileHeight;
    lines.push(`${vttTime(start)} --> ${vttTime(Math.min(duration, start + interval))}`, `${sprite}#xywh=${x},${y},${tileWidth},${tileHeight}`, '');
  }
  return lines.join('\n');
}

/** Makes and stores the poster, sprite and VTT under `vod/{assetId}/thumbnails/`. */
export async function makeThumbnails(deps: { blobs: BlobStore }, opts: { assetId: string; file: string; source: VodSource; ffmpegPath: string; timeoutMs?: number }): Promise<VodThumbnails> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'sf-thumbs-'));
  const timeout = opts.timeoutMs ?? 600_000;
  const ff = (args: string[]) => execFileP(opts.ffmpegPath, ['-hide_banner', '-nostdin', '-loglevel', 'error', '-y', ...args], { timeout, maxBuffer: 1 << 22 });
  try {
    const { durationSeconds: duration, width, height } = opts.source;
    // The poster: a frame a tenth of the way in (past black openings), at most 1280 wide.
    const at = Math.min(duration * 0.1, Math.max(0, duration - 0.5));
    const poster = path.join(dir, 'poster.jpg');
    await ff(['-ss', at.toFixed(3), '-protocol_whitelist', 'file', '-i', opts.file, '-frames:v', '1', '-vf', `scale='min(1280,iw)':-2`, '-q:v', '3', poster]);
    const interval = tileInterval(duration);
    const count = Math.max(1, Math.ceil(duration / interval));
    const tileHeight = Math.max(2, Math.round((TILE_WIDTH * height) / width / 2) * 2);
    const rows = Math.ceil(count / COLUMNS);
    const sprite = path.join(dir, 'sprite.jpg');
    await ff([
      '-skip_frame', 'nokey', '-protocol_whitelist', 'file', '-i', opts.file,
      // Keyframes only can leave the last tiles without a frame: clones of the last one fill the sheet.
      '-vf', `fps=1/${interval},tpad=stop_mode=clone:stop_duration=${interval * COLUMNS},scale=${TILE_WIDTH}:${tileHeight},tile=${COLUMNS}x${rows}`,
      '-frames:v', '1', '-q:v', '4', sprite,
    ]);
    const root = `vod/${opts.assetId}/thumbnails`;
    await deps.blobs.put(`${root}/poster.jpg`, await fs.readFile(poster), { contentType: 'image/jpeg', cacheControl: IMMUTABLE });
    await deps.blobs.put(`${root}/sprite.jpg`, await fs.readFile(sprite), { contentType: 'image/jpeg', cacheControl: IMMUTABLE });
    await deps.blobs.put(`${root}/thumbnails.vtt`, Buffer.from(thumbnailVtt(count, interval, duration, TILE_WIDTH, tileHeight)), { contentType: 'text/vtt', cacheControl: IMMUTABLE });
    return { poster: 'thumbnails/poster.jpg', sprite: 'thumbnails/sprite.jpg', vtt: 'thumbnails/thumbnails.vtt' };
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}
