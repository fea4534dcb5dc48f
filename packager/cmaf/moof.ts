import { BoxCursor, childBoxes, iterateBoxes, type Box } from './box-reader.js';
import type { TrackDefaults } from './boxes.js';
import { CmafError } from './errors.js';

/** One sample of a track fragment, with its bytes located in the buffer the moof was parsed from. */
export interface SampleInfo {
  /** Absolute offset of the sample's first byte (inside the mdat) in the parsed buffer. */
  offset: number;
  size: number;
  duration: number;
  /** sample_flags (§8.8.3.1) after applying trun / tfhd / trex defaults. */
  flags: number;
  compositionOffset: number;
  sync: boolean;
}

/** A traf resolved against its defaults (§8.8.6–8.8.8, §8.8.12). */
export interface TrackRun {
  trackId: number;
  /** tfdt baseMediaDecodeTime; undefined when the traf has no tfdt. */
  baseMediaDecodeTime?: number;
  sampleDescriptionIndex: number;
  samples: SampleInfo[];
}

/** A parsed movie fragment box. */
export interface MoofInfo {
  sequenceNumber: number;
  trafs: TrackRun[];
}

/** The summary the segmenter cuts on. */
export interface FragmentSummary {
  trackId: number;
  decodeTime?: number;
  /** Sum of sample durations, in track timescale. */
  duration: number;
  /** The first sample is a sync sample. */
  keyframe: boolean;
  sampleCount: number;
}

/** prft (§8.16.5): the wall clock at which the sample with `mediaTime` was produced. */
export interface ProducerReferenceTime {
  trackId: number;
  /** NTP timestamp converted to Unix epoch ms. */
  wallClockMs: number;
  mediaTime: number;
}

/** tfhd flag: base_data_offset present (§8.8.7). */
export const TFHD_BASE_DATA_OFFSET = 0x1;
const TFHD_SAMPLE_DESCRIPTION_INDEX = 0x2;
const TFHD_DEFAULT_DURATION = 0x8;
const TFHD_DEFAULT_SIZE = 0x10;
const TFHD_DEFAULT_FLAGS = 0x20;
const TFHD_DEFAULT_BASE_IS_MOOF = 0x20000;
/** trun flag: data_offset present (§8.8.8). */
export const TRUN_DATA_OFFSET = 0x1;
const TRUN_FIRST_SAMPLE_FLAGS = 0x4;
const TRUN_DURATION = 0x100;
const TRUN_SIZE = 0x200;
const TRUN_FLAGS = 0x400;
const TRUN_CTO = 0x800;
/** Far above any real fragment (an hour of 48 kHz AAC frames is 169k samples). */
const MAX_SAMPLES_PER_RUN = 1_000_000;
/** Seconds between the NTP epoch (1900) and the Unix epoch (1970). */
const NTP_UNIX_OFFSET = 2_208_988_800;

/**
 * sample_flags (§8.8.3.1): a sync sample is one not marked sample_is_non_sync_sample and not declared
 * as depending on other samples (sample_depends_on == 1). All-zero flags mean sync.
 */
export function isSyncSample(flags: number): boolean {
  const nonSync = (flags >>> 16) & 0x1;
  const dependsOn = (flags >>> 24) & 0x3;
  return nonSync === 0 && dependsOn !== 1;
}

/**
 * Parses a moof, resolving every sample's duration, size, flags and byte offset. `bufferFileOffset` is
 * the stream offset of `moof.buf[0]`, needed only when tfhd carries an absolute base_data_offset
 * (FFmpeg's default_base_moof avoids that).
 */
export function parseMoof(moof: Box, defaults: ReadonlyMap<number, TrackDefaults>, bufferFileOffset = 0): MoofInfo {
  let sequenceNumber = 0;
  const trafs: TrackRun[] = [];
  let previousDataEnd = moof.start;
  for (const child of childBoxes(moof)) {
    if (child.type === 'mfhd') {
      const c = BoxCursor.of(child);
      c.fullBoxHeader();
      sequenceNumber = c.u32();
    } else if (child.type === 'traf') {
      const traf = parseTraf(child, moof, defaults, trafs.length === 0 ? moof.start : previousDataEnd, bufferFileOffset);
      trafs.push(traf.run);
      previousDataEnd = traf.dataEnd;
    }
  }
  return { sequenceNumber, trafs };
}

function parseTraf(
  traf: Box,
  moof: Box,
  defaults: ReadonlyMap<number, TrackDefaults>,
  implicitBase: number,
  bufferFileOffset: number,
): { run: TrackRun; dataEnd: number } {
  const boxes = childBoxes(traf);
  const tfhd = boxes.find((b) => b.type === 'tfhd');
  if (!tfhd) throw new CmafError('BOX_INVALID', 'traf without tfhd');
  const h = BoxCursor.of(tfhd);
  const tf = h.fullBoxHeader().flags;
  const trackId = h.u32();
  const trex = defaults.get(trackId);
  let base = implicitBase;
  if (tf & TFHD_BASE_DATA_OFFSET) base = h.u64() - bufferFileOffset;
  else if (tf & TFHD_DEFAULT_BASE_IS_MOOF) base = moof.start;
  const sampleDescriptionIndex = tf & TFHD_SAMPLE_DESCRIPTION_INDEX ? h.u32() : (trex?.sampleDescriptionIndex ?? 1);
  const defaultDuration = tf & TFHD_DEFAULT_DURATION ? h.u32() : (trex?.sampleDuration ?? 0);
  const defaultSize = tf & TFHD_DEFAULT_SIZE ? h.u32() : (trex?.sampleSize ?? 0);
  const defaultFlags = tf & TFHD_DEFAULT_FLAGS ? h.u32() : (trex?.sampleFlags ?? 0);

  let baseMediaDecodeTime: number | undefined;
  const samples: SampleInfo[] = [];
  let dataEnd = base;
  let firstRun = true;
  for (const box of boxes) {
    if (box.type === 'tfdt') {
      const c = BoxCursor.of(box);
      baseMediaDecodeTime = c.fullBoxHeader().version === 1 ? c.u64() : c.u32();
    } else if (box.type === 'trun') {
      const c = BoxCursor.of(box);
      const { version, flags } = c.fullBoxHeader();
      const count = c.u32();
      // A corrupt count must not allocate billions of samples (fields all defaulted read no bytes).
      if (count > MAX_SAMPLES_PER_RUN) throw new CmafError('BOX_INVALID', `trun declares ${count} samples`);
      // §8.8.8: without data_offset a run follows the previous run, or starts at the base for the first one.
      let offset = flags & TRUN_DATA_OFFSET ? base + c.i32() : firstRun ? base : dataEnd;
      const firstFlags = flags & TRUN_FIRST_SAMPLE_FLAGS ? c.u32() : undefined;
      for (let i = 0; i < count; i++) {
        const duration = flags & TRUN_DURATION ? c.u32() : defaultDuration;
        const size = flags & TRUN_SIZE ? c.u32() : defaultSize;
        let sampleFlags = flags & TRUN_FLAGS ? c.u32() : defaultFlags;
        if (i === 0 && firstFlags !== undefined) sampleFlags = firstFlags;
        const compositionOffset = flags & TRUN_CTO ? (version === 0 ? c.u32() : c.i32()) : 0;
        samples.push({ offset, size, duration, flags: sampleFlags, compositionOffset, sync: isSyncSample(sampleFlags) });
        offset += size;
      }
      dataEnd = offset;
      firstRun = false;
    }
  }
  const run: TrackRun = { trackId, sampleDescriptionIndex, samples };
  if (baseMediaDecodeTime !== undefined) run.baseMediaDecodeTime = baseMediaDecodeTime;
  return { run, dataEnd };
}

/** Decode time, duration, keyframe and sample count of one track run. */
export function summarizeRun(run: TrackRun): FragmentSummary {
  let duration = 0;
  for (const s of run.samples) duration += s.duration;
  const summary: FragmentSummary = {
    trackId: run.trackId,
    duration,
    keyframe: run.samples.length > 0 && run.samples[0].sync,
    sampleCount: run.samples.length,
  };
  if (run.baseMediaDecodeTime !== undefined) summary.decodeTime = run.baseMediaDecodeTime;
  return summary;
}

/** prft (§8.16.5). */
export function parsePrft(box: Box): ProducerReferenceTime {
  const c = BoxCursor.of(box);
  const { version } = c.fullBoxHeader();
  const trackId = c.u32();
  const seconds = c.u32();
  const fraction = c.u32();
  const mediaTime = version === 0 ? c.u32() : c.u64();
  return { trackId, wallClockMs: (seconds - NTP_UNIX_OFFSET) * 1000 + (fraction / 2 ** 32) * 1000, mediaTime };
}

/**
 * Locates every sample of a fragment (optional prft/emsg, then moof + mdat) inside `fragment`, and
 * checks each lies within the mdat payload. This is the hook for sample encryption: senc/saiz/saio
 * are built from these offsets and sizes.
 */
export function readFragmentSamples(fragment: Buffer, defaults: ReadonlyMap<number, TrackDefaults>): MoofInfo {
  let moof: Box | undefined;
  let mdat: Box | undefined;
  for (const box of iterateBoxes(fragment)) {
    if (box.type === 'moof' && !moof) moof = box;
    else if (box.type === 'mdat' && moof && !mdat) mdat = box;
  }
  if (!moof || !mdat) throw new CmafError('UNEXPECTED_BOX', 'fragment needs a moof followed by an mdat');
  const info = parseMoof(moof, defaults);
  for (const run of info.trafs) {
    for (const s of run.samples) {
      if (s.offset < mdat.payloadStart || s.offset + s.size > mdat.end) {
        throw new CmafError('BOX_INVALID', `sample at ${s.offset}+${s.size} lies outside mdat [${mdat.payloadStart}, ${mdat.end})`);
      }
    }
  }
  return info;
}
