import type { TrackDefaults } from './boxes.js';
import { buildFragment, type FragmentSample } from './box-writer.js';
import { readFragmentSamples } from './moof.js';

/**
 * Joins consecutive CMAF chunks of one track into a single chunk (one moof + mdat) with the same
 * samples, decode time and sequence number of the first. FFmpeg writes a moof per AAC frame; at
 * 64 kb/s that header is most of the bitrate again, so audio parts are joined into one chunk each
 * (ISO/IEC 23000-19 §7.3.2.3 allows any number of samples per chunk). Video keeps its chunks: the
 * origin streams a growing segment chunk by chunk.
 */
export function joinChunks(chunks: readonly Buffer[], defaults: TrackDefaults): Buffer {
  if (chunks.length === 1) return chunks[0];
  const byTrack = new Map([[defaults.trackId, defaults]]);
  const samples: FragmentSample[] = [];
  let sequenceNumber = 0;
  let baseMediaDecodeTime: number | undefined;
  chunks.forEach((chunk, i) => {
    const info = readFragmentSamples(chunk, byTrack);
    const run = info.trafs[0];
    if (!run || info.trafs.length !== 1) throw new RangeError(`chunk ${i} must hold exactly one track run`);
    if (i === 0) {
      sequenceNumber = info.sequenceNumber;
      baseMediaDecodeTime = run.baseMediaDecodeTime;
    }
    for (const s of run.samples) {
      samples.push({ data: chunk.subarray(s.offset, s.offset + s.size), duration: s.duration, flags: s.flags, ...(s.compositionOffset ? { compositionOffset: s.compositionOffset } : {}) });
    }
  });
  // One flags value for all samples (every AAC frame is a sync sample) goes in tfhd, not per sample.
  const flags = samples[0]?.flags;
  const sameFlags = samples.every((s) => s.flags === flags);
  return buildFragment({
    sequenceNumber,
    trackId: defaults.trackId,
    baseMediaDecodeTime,
    samples: sameFlags ? samples.map(({ flags: _f, ...rest }) => rest) : samples,
    ...(sameFlags && flags !== undefined ? { defaultSampleFlags: flags } : {}),
  });
}
