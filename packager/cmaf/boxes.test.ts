import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { BoxCursor, childBoxes, findPath, iterateBoxes, readBoxHeader } from './box-reader.js';
import {
  box,
  buildFragment,
  fullBox,
  largeBox,
  NON_SYNC_SAMPLE_FLAGS,
  pssh,
  saio,
  saiz,
  senc,
  sencEntrySizes,
  SYNC_SAMPLE_FLAGS,
  SYSTEM_IDS,
  u32,
} from './box-writer.js';
import { parseInit, type TrackDefaults } from './boxes.js';
import { CmafError } from './errors.js';
import { isSyncSample, parseMoof, readFragmentSamples, summarizeRun } from './moof.js';
import { parseAudioSpecificConfig } from './sample-entry.js';

const VIDEO = readFileSync(new URL('./__fixtures__/video-320x180.mp4', import.meta.url));
const AUDIO = readFileSync(new URL('./__fixtures__/audio-aac.mp4', import.meta.url));

/** ftyp + moov of a fixture file. */
function initOf(file: Buffer): Buffer {
  const moov = [...iterateBoxes(file)].find((b) => b.type === 'moov')!;
  return file.subarray(0, moov.end);
}

const noDefaults = new Map<number, TrackDefaults>();

describe('box reader', () => {
  it('reads 32-bit, largesize, uuid and to-end boxes', () => {
    const uuid = Buffer.concat([u32(8 + 16 + 3), Buffer.from('uuid'), Buffer.alloc(16, 7), Buffer.from('xyz')]);
    const toEnd = Buffer.concat([u32(0), Buffer.from('mdat'), Buffer.from('rest')]);
    const buf = Buffer.concat([box('free', Buffer.from('ab')), largeBox('skip', Buffer.from('cd')), uuid, toEnd]);
    const boxes = [...iterateBoxes(buf)];
    expect(boxes.map((b) => [b.type, b.end - b.start, b.end - b.payloadStart])).toEqual([
      ['free', 10, 2],
      ['skip', 18, 2],
      ['uuid', 27, 3],
      ['mdat', 12, 4],
    ]);
    expect(readBoxHeader(buf, 10, 26)).toEqual({ type: 'skip', headerSize: 16, size: 18 });
    expect(readBoxHeader(buf, 10, 15)).toBeUndefined(); // largesize not there yet
  });

  it('throws coded errors on overruns and impossible sizes', () => {
    const code = (fn: () => unknown) => {
      try {
        fn();
      } catch (err) {
        return (err as CmafError).code;
      }
      return 'none';
    };
    expect(code(() => [...iterateBoxes(box('free', Buffer.alloc(4)).subarray(0, 10))])).toBe('BOX_TRUNCATED');
    expect(code(() => [...iterateBoxes(Buffer.from([0, 0, 0, 3, 0x66, 0x72, 0x65, 0x65]))])).toBe('BOX_INVALID');
    const c = new BoxCursor(Buffer.alloc(6), 0, 6);
    c.u32();
    expect(code(() => c.u32())).toBe('BOX_TRUNCATED');
  });
});

describe('init segment parsing', () => {
  it('finds the H.264 track: avcC profile/compat/level, tkhd size, mdhd timescale, trex defaults', () => {
    const init = parseInit(initOf(VIDEO));
    expect(init.fileType).toEqual({ majorBrand: 'iso5', minorVersion: 512, compatibleBrands: ['iso5', 'iso6', 'mp41'] });
    expect(init.tracks).toEqual([{ trackId: 1, timescale: 15360, kind: 'video', codec: 'avc1.64000d', width: 320, height: 180, nalLengthSize: 4 }]);
    expect(init.defaults.get(1)).toEqual({ trackId: 1, sampleDescriptionIndex: 1, sampleDuration: 0, sampleSize: 0, sampleFlags: 0 });
  });

  it('finds the AAC track: esds object type, sample rate, channels', () => {
    expect(parseInit(initOf(AUDIO)).tracks).toEqual([{ trackId: 1, timescale: 48000, kind: 'audio', codec: 'mp4a.40.2', sampleRate: 48000, channels: 2 }]);
  });

  it('reads AudioSpecificConfig variants (LC, HE-AAC with explicit SBR rate, escape object type)', () => {
    expect(parseAudioSpecificConfig(Buffer.from('1190', 'hex'))).toEqual({ objectType: 2, sampleRate: 48000, channels: 2 });
    // HE-AAC: object type 5, core 24 kHz (index 6), 2 channels, extension 48 kHz (index 3), then core type 2.
    expect(parseAudioSpecificConfig(Buffer.from('2b118800', 'hex'))).toEqual({ objectType: 5, sampleRate: 48000, channels: 2 });
    // Object type 31 escapes to 32 + 6 bits: 42 (USAC) = 31, then 10.
    expect(parseAudioSpecificConfig(Buffer.from('f94c4000', 'hex')).objectType).toBe(42);
  });

  it('reports the original codec of an encrypted sample entry (encv + sinf/frma)', () => {
    const init = Buffer.from(initOf(VIDEO));
    const stsd = findPath([...iterateBoxes(init)].find((b) => b.type === 'moov')!, 'trak', 'mdia', 'minf', 'stbl', 'stsd')!;
    const avc1 = childBoxes(stsd, 8)[0];
    const sinf = box('sinf', box('frma', Buffer.from('avc1')), fullBox('schm', 0, 0, Buffer.from('cenc'), u32(0x10000)));
    const encv = box('encv', init.subarray(avc1.payloadStart, avc1.end), sinf);
    // Rebuild the box chain with the new entry (sizes change all the way up).
    const rebuilt = replaceBox(init, [avc1.start, avc1.end], encv, ['moov', 'trak', 'mdia', 'minf', 'stbl', 'stsd']);
    expect(parseInit(rebuilt).tracks[0].codec).toBe('avc1.64000d');
  });
});

/** Replaces bytes [start, end) nested in the given box path and fixes every enclosing size. */
function replaceBox(buf: Buffer, [start, end]: [number, number], replacement: Buffer, path: string[]): Buffer {
  const out = Buffer.concat([buf.subarray(0, start), replacement, buf.subarray(end)]);
  const delta = replacement.length - (end - start);
  let scope = { payloadStart: 0, end: buf.length };
  for (const type of path) {
    const b = [...iterateBoxes(buf, scope.payloadStart, scope.end)].find((x) => x.type === type)!;
    out.writeUInt32BE(out.readUInt32BE(b.start) + delta, b.start);
    scope = b;
  }
  return out;
}

describe('moof parsing', () => {
  it('resolves durations, sizes and flags from trun, then tfhd, then trex', () => {
    const samples = [0, 1, 2].map((i) => ({ data: Buffer.alloc(10 + i, i) }));
    const trex: TrackDefaults = { trackId: 7, sampleDescriptionIndex: 1, sampleDuration: 1001, sampleSize: 0, sampleFlags: NON_SYNC_SAMPLE_FLAGS };
    const defaults = new Map([[7, trex]]);
    // Only sizes in trun; first-sample-flags marks the keyframe; duration and flags come from trex.
    const a = buildFragment({ sequenceNumber: 3, trackId: 7, baseMediaDecodeTime: 2 ** 40, samples, firstSampleFlags: SYNC_SAMPLE_FLAGS });
    const runA = readFragmentSamples(a, defaults).trafs[0];
    expect(summarizeRun(runA)).toEqual({ trackId: 7, decodeTime: 2 ** 40, duration: 3003, keyframe: true, sampleCount: 3 });
    expect(runA.samples.map((s) => s.sync)).toEqual([true, false, false]);
    // tfhd defaults win over trex; tfdt version 0.
    const b = buildFragment({ sequenceNumber: 4, trackId: 7, baseMediaDecodeTime: 90_000, tfdtVersion: 0, samples, defaultSampleDuration: 3000, defaultSampleFlags: SYNC_SAMPLE_FLAGS });
    expect(summarizeRun(readFragmentSamples(b, defaults).trafs[0])).toEqual({ trackId: 7, decodeTime: 90_000, duration: 9000, keyframe: true, sampleCount: 3 });
    // Per-sample values win over everything, signed composition offsets (trun v1).
    const c = buildFragment({
      sequenceNumber: 5,
      trackId: 7,
      samples: samples.map((s, i) => ({ ...s, duration: 100 + i, flags: i === 1 ? SYNC_SAMPLE_FLAGS : NON_SYNC_SAMPLE_FLAGS, compositionOffset: i - 1 })),
      defaultSampleDuration: 3000,
    });
    const runC = readFragmentSamples(c, defaults).trafs[0];
    expect(runC.baseMediaDecodeTime).toBeUndefined();
    expect(runC.samples.map((s) => [s.duration, s.sync, s.compositionOffset])).toEqual([
      [100, false, -1],
      [101, true, 0],
      [102, false, 1],
    ]);
  });

  it('locates every sample inside the mdat (the encryption hook)', () => {
    const samples = [Buffer.from('first'), Buffer.from('second!'), Buffer.from('3')].map((data) => ({ data, duration: 10 }));
    const frag = buildFragment({ sequenceNumber: 1, trackId: 1, baseMediaDecodeTime: 0, samples });
    const prefixed = Buffer.concat([box('emsg', Buffer.alloc(12)), frag]);
    const info = readFragmentSamples(prefixed, noDefaults);
    expect(info.sequenceNumber).toBe(1);
    expect(info.trafs[0].samples.map((s) => prefixed.subarray(s.offset, s.offset + s.size).toString())).toEqual(['first', 'second!', '3']);
  });

  it('follows explicit base_data_offset and runs without data_offset', () => {
    // Hand-built: tfhd with base_data_offset (absolute stream offset 1000), two truns, the second without data_offset.
    const tfhd = fullBox('tfhd', 0, 0x1 | 0x8, u32(1), Buffer.from('00000000000003e8', 'hex'), u32(5));
    const trun1 = fullBox('trun', 0, 0x1 | 0x200, u32(1), u32(0), u32(3));
    const trun2 = fullBox('trun', 0, 0x200, u32(2), u32(2), u32(4));
    const moof = box('moof', fullBox('mfhd', 0, 0, u32(9)), box('traf', tfhd, trun1, trun2));
    const mdatStart = moof.length + 8;
    // Pretend the buffer starts at stream offset 1000 - mdatStart, so base_data_offset hits the mdat payload.
    const parsed = parseMoof([...iterateBoxes(moof)][0], noDefaults, 1000 - mdatStart);
    expect(parsed.trafs[0].samples.map((s) => [s.offset, s.size, s.duration])).toEqual([
      [mdatStart, 3, 5],
      [mdatStart + 3, 2, 5],
      [mdatStart + 5, 4, 5],
    ]);
  });

  it('classifies sample flags per ISO/IEC 14496-12 §8.8.3.1', () => {
    expect(isSyncSample(0)).toBe(true);
    expect(isSyncSample(SYNC_SAMPLE_FLAGS)).toBe(true);
    expect(isSyncSample(NON_SYNC_SAMPLE_FLAGS)).toBe(false);
    expect(isSyncSample(0x00010000)).toBe(false); // non-sync bit alone
    expect(isSyncSample(0x01000000)).toBe(false); // depends on others
  });
});

describe('encryption box writers', () => {
  it('writes pssh v0/v1, senc with subsamples, saiz and saio that read back', () => {
    const kid = Buffer.alloc(16, 0xab);
    const v1 = pssh(SYSTEM_IDS.commonPssh, [kid]);
    const c = BoxCursor.of([...iterateBoxes(v1)][0]);
    expect(c.fullBoxHeader()).toEqual({ version: 1, flags: 0 });
    expect(c.bytes(16).equals(SYSTEM_IDS.commonPssh)).toBe(true);
    expect(c.u32()).toBe(1);
    expect(c.bytes(16).equals(kid)).toBe(true);
    expect(c.u32()).toBe(0);
    expect(pssh(SYSTEM_IDS.widevine, [], Buffer.from('data')).length).toBe(8 + 4 + 16 + 4 + 4);

    const samples = [
      { iv: Buffer.alloc(8, 1), subsamples: [{ clearBytes: 5, protectedBytes: 100 }] },
      { iv: Buffer.alloc(8, 2), subsamples: [{ clearBytes: 6, protectedBytes: 0 }, { clearBytes: 1, protectedBytes: 16 }] },
    ];
    const s = BoxCursor.of([...iterateBoxes(senc(samples))][0]);
    expect(s.fullBoxHeader().flags).toBe(2);
    expect(s.u32()).toBe(2);
    s.skip(8);
    expect([s.u16(), s.u16(), s.u32()]).toEqual([1, 5, 100]);
    expect(sencEntrySizes(samples)).toEqual([16, 22]);
    expect(saiz([16, 16]).subarray(12).toString('hex')).toBe('1000000002');
    expect(saiz([16, 22]).subarray(12).toString('hex')).toBe('00000000021016');
    expect(saio([1234]).subarray(8).toString('hex')).toBe('0000000000000001000004d2');
  });
});
