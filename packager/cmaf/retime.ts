import { findChild, iterateBoxes } from './box-reader.js';
import { CmafError } from './errors.js';

/**
 * Shifts a CMAF chunk's `tfdt` baseMediaDecodeTime by `delta` ticks, in place, and returns the new
 * value. Used to keep one media timeline across a transcoder restart or publisher reconnect, so DASH
 * (one Period) and recordings stay continuous. Version-0 tfdt boxes hold 32 bits; a shift past that
 * is refused rather than silently wrapped (FFmpeg writes version 1).
 */
export function shiftDecodeTime(chunk: Buffer, delta: number): number {
  let result: number | undefined;
  for (const box of iterateBoxes(chunk)) {
    if (box.type !== 'moof') continue;
    for (const traf of iterateBoxes(chunk, box.payloadStart, box.end)) {
      if (traf.type !== 'traf') continue;
      const tfdt = findChild(traf, 'tfdt');
      if (!tfdt) throw new CmafError('MISSING_TFDT', 'traf without tfdt cannot be retimed');
      const version = chunk[tfdt.payloadStart];
      const at = tfdt.payloadStart + 4;
      if (version === 1) {
        const next = Number(chunk.readBigUInt64BE(at)) + delta;
        if (next < 0) throw new CmafError('BAD_RETIME', `decode time would become negative (${next})`);
        chunk.writeBigUInt64BE(BigInt(next), at);
        result = next;
      } else {
        const next = chunk.readUInt32BE(at) + delta;
        if (next < 0 || next > 0xffffffff) throw new CmafError('BAD_RETIME', `decode time ${next} does not fit a version-0 tfdt`);
        chunk.writeUInt32BE(next, at);
        result = next;
      }
    }
  }
  if (result === undefined) throw new CmafError('MISSING_TFDT', 'no moof/traf/tfdt in chunk');
  return result;
}
