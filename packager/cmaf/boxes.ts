import { BoxCursor, boxBytes, childBoxes, findChild, findPath, iterateBoxes, type Box } from './box-reader.js';
import { CmafError } from './errors.js';
import { parseSampleEntry } from './sample-entry.js';

/** One media track as the packager needs it: timing, kind and what goes into CODECS/RESOLUTION. */
export interface TrackInfo {
  trackId: number;
  /** Ticks per second of the track's media time (mdhd). */
  timescale: number;
  kind: 'video' | 'audio';
  /** RFC 6381 codec string (`avc1.64001f`, `mp4a.40.2`). */
  codec: string;
  /** Presentation size (tkhd), falling back to the coded size of the sample entry. */
  width?: number;
  height?: number;
  sampleRate?: number;
  channels?: number;
  /** H.264 NAL length size, for subsample encryption later. */
  nalLengthSize?: number;
}

/** Per-track defaults from moov/mvex/trex (§8.8.3), used when tfhd and trun leave a field out. */
export interface TrackDefaults {
  trackId: number;
  sampleDescriptionIndex: number;
  sampleDuration: number;
  sampleSize: number;
  sampleFlags: number;
}

/** The file type box (§4.3). */
export interface FileType {
  majorBrand: string;
  minorVersion: number;
  compatibleBrands: string[];
}

/** Parsed initialization segment: ftyp (if present) and moov. */
export interface InitInfo {
  fileType?: FileType;
  /** Video and audio tracks, in moov order; other handlers (text, hint, meta) are left out. */
  tracks: TrackInfo[];
  defaults: Map<number, TrackDefaults>;
}

/** Parses ftyp. */
export function parseFtyp(box: Box): FileType {
  const c = BoxCursor.of(box);
  const majorBrand = c.fourcc();
  const minorVersion = c.u32();
  const compatibleBrands: string[] = [];
  while (c.remaining >= 4) compatibleBrands.push(c.fourcc());
  return { majorBrand, minorVersion, compatibleBrands };
}

/** Parses an init segment (ftyp + moov, possibly with other top-level boxes around them). */
export function parseInit(buf: Buffer): InitInfo {
  let fileType: FileType | undefined;
  let moov: Box | undefined;
  for (const box of iterateBoxes(buf)) {
    if (box.type === 'ftyp') fileType = parseFtyp(box);
    else if (box.type === 'moov') moov = box;
  }
  if (!moov) throw new CmafError('UNEXPECTED_BOX', 'init segment has no moov');
  return { ...(fileType ? { fileType } : {}), ...parseMoov(moov) };
}

/**
 * The bytes of the first track's sample description (moov/trak/mdia/minf/stbl/stsd): two init segments
 * with the same stsd decode the same media (codec configuration, coded size, channels), whatever their
 * creation times say. Undefined when there is none.
 */
export function sampleDescriptionOf(init: Buffer): Buffer | undefined {
  for (const box of iterateBoxes(init)) {
    if (box.type !== 'moov') continue;
    const trak = findChild(box, 'trak');
    const stsd = trak && findPath(trak, 'mdia', 'minf', 'stbl', 'stsd');
    return stsd ? boxBytes(stsd) : undefined;
  }
  return undefined;
}

/** Tracks and trex defaults of a moov box. */
export function parseMoov(moov: Box): { tracks: TrackInfo[]; defaults: Map<number, TrackDefaults> } {
  const tracks: TrackInfo[] = [];
  const defaults = new Map<number, TrackDefaults>();
  for (const child of childBoxes(moov)) {
    if (child.type === 'trak') {
      const track = parseTrak(child);
      if (track) tracks.push(track);
    } else if (child.type === 'mvex') {
      for (const trex of childBoxes(child)) {
        if (trex.type !== 'trex') continue;
        const d = parseTrex(trex);
        defaults.set(d.trackId, d);
      }
    }
  }
  return { tracks, defaults };
}

/** trex (§8.8.3). */
export function parseTrex(trex: Box): TrackDefaults {
  const c = BoxCursor.of(trex);
  c.fullBoxHeader();
  return { trackId: c.u32(), sampleDescriptionIndex: c.u32(), sampleDuration: c.u32(), sampleSize: c.u32(), sampleFlags: c.u32() };
}

/** One trak → TrackInfo, or undefined for handlers other than vide/soun. */
export function parseTrak(trak: Box): TrackInfo | undefined {
  const tkhd = findChild(trak, 'tkhd');
  const mdia = findChild(trak, 'mdia');
  const mdhd = mdia && findChild(mdia, 'mdhd');
  const hdlr = mdia && findChild(mdia, 'hdlr');
  if (!tkhd || !mdhd || !hdlr) throw new CmafError('BOX_INVALID', 'trak without tkhd/mdhd/hdlr');
  const h = BoxCursor.of(hdlr);
  h.fullBoxHeader();
  h.skip(4); // pre_defined
  const handler = h.fourcc();
  if (handler !== 'vide' && handler !== 'soun') return undefined;

  // tkhd (§8.3.2): version 1 widens creation/modification time and duration to 64 bits.
  const t = BoxCursor.of(tkhd);
  const tv = t.fullBoxHeader().version;
  t.skip(tv === 1 ? 16 : 8);
  const trackId = t.u32();
  t.skip(4 + (tv === 1 ? 8 : 4) + 8 + 2 + 2 + 2 + 2 + 36);
  const tkhdWidth = t.u32() / 65536;
  const tkhdHeight = t.u32() / 65536;

  // mdhd (§8.4.2): timescale follows the (32- or 64-bit) creation and modification times.
  const m = BoxCursor.of(mdhd);
  const mv = m.fullBoxHeader().version;
  m.skip(mv === 1 ? 16 : 8);
  const timescale = m.u32();
  if (!timescale) throw new CmafError('BOX_INVALID', `track ${trackId} has timescale 0`);

  const stsd = mdia && findPath(mdia, 'minf', 'stbl', 'stsd');
  const entry = stsd ? childBoxes(stsd, 8)[0] : undefined; // skip version/flags and entry_count
  if (!entry) throw new CmafError('BOX_INVALID', `track ${trackId} has no sample entry`);
  const se = parseSampleEntry(entry, handler);

  const track: TrackInfo = { trackId, timescale, kind: handler === 'vide' ? 'video' : 'audio', codec: se.codec };
  if (track.kind === 'video') {
    track.width = Math.round(tkhdWidth) || se.width;
    track.height = Math.round(tkhdHeight) || se.height;
    if (se.nalLengthSize) track.nalLengthSize = se.nalLengthSize;
  } else {
    if (se.sampleRate) track.sampleRate = se.sampleRate;
    if (se.channels) track.channels = se.channels;
  }
  return track;
}
