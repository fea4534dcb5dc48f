/**
 * One MP4 file for offline viewing, from an asset's CMAF renditions: one video rendition and the
 * audio, as a single fragmented MP4 (ISO/IEC 14496-12 §8.8): ftyp + a moov holding both tracks, then
 * each segment's fragments, video and audio in turn. The fragments are the stored ones byte for byte
 * (so an encrypted asset stays encrypted with its keys), except the audio track's ID, renumbered when
 * both renditions call their track 1.
 */
import { boxBytes, childBoxes, findChild, iterateBoxes, type Box } from '../cmaf/box-reader.js';
import { box } from '../cmaf/box-writer.js';
import { CmafError } from '../cmaf/errors.js';

/** The merged init and the audio track's ID in it (fragments of the audio rendition need patchFragmentTrackId to it). */
export interface DownloadHeader {
  init: Buffer;
  videoTrackId: number;
  audioTrackId?: number;
}

function topLevel(init: Buffer): { ftyp?: Box; moov: Box } {
  let ftyp: Box | undefined;
  let moov: Box | undefined;
  for (const b of iterateBoxes(init)) {
    if (b.type === 'ftyp') ftyp = b;
    else if (b.type === 'moov') moov = b;
  }
  if (!moov) throw new CmafError('UNEXPECTED_BOX', 'init segment has no moov');
  return { ftyp, moov };
}

/** tkhd's track_ID offset from the box start (§8.3.2: version 1 has 64-bit times). */
function tkhdTrackIdAt(tkhd: Box): number {
  return tkhd.payloadStart + 4 + (tkhd.buf[tkhd.payloadStart] === 1 ? 16 : 8);
}

function trackIdOf(trak: Box): number {
  const tkhd = findChild(trak, 'tkhd');
  if (!tkhd) throw new CmafError('BOX_INVALID', 'trak without tkhd');
  return tkhd.buf.readUInt32BE(tkhdTrackIdAt(tkhd));
}

/** A copy of a trak with another track ID. */
function retrackTrak(trak: Box, trackId: number): Buffer {
  const copy = Buffer.from(boxBytes(trak));
  const tkhd = findChild({ ...trak, buf: copy, start: 0, payloadStart: trak.payloadStart - trak.start, end: copy.length }, 'tkhd')!;
  copy.writeUInt32BE(trackId, tkhdTrackIdAt(tkhd));
  return copy;
}

/** A copy of a trex with another track ID (§8.8.3: right after version and flags). */
function retrackTrex(trex: Box, trackId: number): Buffer {
  const copy = Buffer.from(boxBytes(trex));
  copy.writeUInt32BE(trackId, trex.payloadStart - trex.start + 4);
  return copy;
}

/**
 * The header of the download file: the video init's ftyp and moov with the audio init's track (and
 * its trex) added, `next_track_ID` past both, and the video init's pssh boxes.
 */
export function mergeInits(videoInit: Buffer, audioInit?: Buffer): DownloadHeader {
  const video = topLevel(videoInit);
  const videoChildren = childBoxes(video.moov);
  const videoTrak = videoChildren.find((b) => b.type === 'trak');
  const mvhd = videoChildren.find((b) => b.type === 'mvhd');
  const mvex = videoChildren.find((b) => b.type === 'mvex');
  if (!videoTrak || !mvhd || !mvex) throw new CmafError('BOX_INVALID', 'video init lacks trak, mvhd or mvex');
  const videoTrackId = trackIdOf(videoTrak);
  let audioTrackId: number | undefined;
  let audioTrak: Buffer | undefined;
  let audioTrex: Buffer | undefined;
  if (audioInit) {
    const audio = topLevel(audioInit);
    const trak = findChild(audio.moov, 'trak');
    const trex = findChild(audio.moov, 'mvex') && findChild(findChild(audio.moov, 'mvex')!, 'trex');
    if (!trak || !trex) throw new CmafError('BOX_INVALID', 'audio init lacks trak or trex');
    const own = trackIdOf(trak);
    audioTrackId = own === videoTrackId ? videoTrackId + 1 : own;
    audioTrak = retrackTrak(trak, audioTrackId);
    audioTrex = retrackTrex(trex, audioTrackId);
  }
  // mvhd ends with next_track_ID (§8.2.2).
  const mvhdBytes = Buffer.from(boxBytes(mvhd));
  mvhdBytes.writeUInt32BE(Math.max(videoTrackId, audioTrackId ?? 0) + 1, mvhdBytes.length - 4);
  const mvexChildren = childBoxes(mvex).map(boxBytes);
  const moov = box(
    'moov',
    mvhdBytes,
    boxBytes(videoTrak),
    ...(audioTrak ? [audioTrak] : []),
    box('mvex', ...mvexChildren, ...(audioTrex ? [audioTrex] : [])),
    ...videoChildren.filter((b) => b.type === 'pssh').map(boxBytes),
  );
  return { init: Buffer.concat([...(video.ftyp ? [boxBytes(video.ftyp)] : []), moov]), videoTrackId, ...(audioTrackId !== undefined ? { audioTrackId } : {}) };
}

/** Sets the track ID of every fragment in a segment (moof/traf/tfhd, §8.8.7), in place; sizes do not change. */
export function patchFragmentTrackId(segment: Buffer, trackId: number): Buffer {
  for (const b of iterateBoxes(segment)) {
    if (b.type !== 'moof') continue;
    for (const traf of childBoxes(b)) {
      if (traf.type !== 'traf') continue;
      const tfhd = findChild(traf, 'tfhd');
      if (tfhd) segment.writeUInt32BE(trackId, tfhd.payloadStart + 4);
    }
  }
  return segment;
}

/** The default key ID of an init's protected track (tenc, ISO/IEC 23001-7 §8.2), as 32 hex digits. */
export function defaultKeyIdOf(init: Buffer): string | undefined {
  const at = init.indexOf('tenc');
  if (at < 4) return undefined;
  // tenc: type, version/flags, reserved, pattern (or reserved), isProtected, per-sample IV size, then the KID.
  const kid = init.subarray(at + 4 + 4 + 4, at + 4 + 4 + 4 + 16);
  return kid.length === 16 ? kid.toString('hex') : undefined;
}
