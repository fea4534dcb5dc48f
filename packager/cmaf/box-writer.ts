/**
 * ISO-BMFF writers: generic box framing plus the boxes the packager builds itself (synthetic fragments
 * for tests, and the Common Encryption boxes senc/saiz/saio/pssh of ISO/IEC 23001-7).
 */

type Bytes = Buffer | Uint8Array;

/** A 4-character code as bytes. */
export function fourcc(code: string): Buffer {
  if (code.length !== 4) throw new RangeError(`box type must be 4 characters: ${JSON.stringify(code)}`);
  return Buffer.from(code, 'latin1');
}

/** 8-bit field. */
export function u8(n: number): Buffer {
  return Buffer.from([n & 0xff]);
}
/** 16-bit big-endian field (unsigned, as are the others unless stated). */
export function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}
/** 24-bit big-endian field. */
export function u24(n: number): Buffer {
  const b = Buffer.alloc(3);
  b.writeUIntBE(n, 0, 3);
  return b;
}
/** 32-bit big-endian field. */
export function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
}
/** Signed 32-bit big-endian field. */
export function i32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b;
}
/** 64-bit big-endian field. */
export function u64(n: number | bigint): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(n));
  return b;
}

/** A box: 32-bit size, type, payload (§4.2); switches to a 64-bit largesize header above 4 GiB. */
export function box(type: string, ...payload: Bytes[]): Buffer {
  return frame(type, payload, false);
}

/** The same box with a largesize header even if it would fit in 32 bits (for tests of readers). */
export function largeBox(type: string, ...payload: Bytes[]): Buffer {
  return frame(type, payload, true);
}

function frame(type: string, payload: Bytes[], forceLarge: boolean): Buffer {
  const bodySize = payload.reduce((n, p) => n + p.length, 0);
  const large = forceLarge || bodySize + 8 > 0xffffffff;
  const header = large ? Buffer.concat([u32(1), fourcc(type), u64(bodySize + 16)]) : Buffer.concat([u32(bodySize + 8), fourcc(type)]);
  return Buffer.concat([header, ...payload]);
}

/** A full box: version and 24-bit flags before the payload (§4.2.2). */
export function fullBox(type: string, version: number, flags: number, ...payload: Bytes[]): Buffer {
  return box(type, u8(version), u24(flags), ...payload);
}

/** One sample of a synthetic fragment. */
export interface FragmentSample {
  data: Bytes;
  duration?: number;
  flags?: number;
  compositionOffset?: number;
}

/** What `buildFragment` writes; each per-sample field is written in the trun only when some sample sets it. */
export interface FragmentSpec {
  sequenceNumber: number;
  trackId: number;
  baseMediaDecodeTime?: number;
  /** tfdt version; 1 (64-bit) by default, as FFmpeg writes. */
  tfdtVersion?: 0 | 1;
  samples: FragmentSample[];
  /** tfhd defaults; omitted fields fall back to trex. */
  defaultSampleDuration?: number;
  defaultSampleSize?: number;
  defaultSampleFlags?: number;
  firstSampleFlags?: number;
}

/** Sample flags of a sync sample (sample_depends_on = 2), as FFmpeg writes them. */
export const SYNC_SAMPLE_FLAGS = 0x02000000;
/** Sample flags of a non-sync sample (depends on others, sample_is_non_sync_sample = 1). */
export const NON_SYNC_SAMPLE_FLAGS = 0x01010000;

/** Builds moof + mdat for one track with default-base-is-moof, as FFmpeg's `default_base_moof` does. */
export function buildFragment(spec: FragmentSpec): Buffer {
  const s = spec.samples;
  const perDuration = s.some((x) => x.duration !== undefined);
  const perSize = spec.defaultSampleSize === undefined;
  const perFlags = s.some((x) => x.flags !== undefined);
  const perCto = s.some((x) => x.compositionOffset !== undefined);
  let tfhdFlags = 0x20000;
  const tfhdBody: Buffer[] = [u32(spec.trackId)];
  const tfhdDefaults: [number | undefined, number][] = [
    [spec.defaultSampleDuration, 0x8],
    [spec.defaultSampleSize, 0x10],
    [spec.defaultSampleFlags, 0x20],
  ];
  for (const [value, flag] of tfhdDefaults) {
    if (value === undefined) continue;
    tfhdFlags |= flag;
    tfhdBody.push(u32(value));
  }
  const tfhd = fullBox('tfhd', 0, tfhdFlags, ...tfhdBody);
  const tfdtVersion = spec.tfdtVersion ?? 1;
  const tfdt =
    spec.baseMediaDecodeTime === undefined
      ? Buffer.alloc(0)
      : fullBox('tfdt', tfdtVersion, 0, tfdtVersion === 1 ? u64(spec.baseMediaDecodeTime) : u32(spec.baseMediaDecodeTime));
  const trunFlags =
    0x1 | (spec.firstSampleFlags !== undefined ? 0x4 : 0) | (perDuration ? 0x100 : 0) | (perSize ? 0x200 : 0) | (perFlags ? 0x400 : 0) | (perCto ? 0x800 : 0);
  const entries: Buffer[] = [];
  for (const x of s) {
    if (perDuration) entries.push(u32(x.duration ?? 0));
    if (perSize) entries.push(u32(x.data.length));
    if (perFlags) entries.push(u32(x.flags ?? 0));
    if (perCto) entries.push(i32(x.compositionOffset ?? 0));
  }
  const trunHead = (dataOffset: number) => [u32(s.length), i32(dataOffset), ...(spec.firstSampleFlags !== undefined ? [u32(spec.firstSampleFlags)] : [])];
  const moofWith = (dataOffset: number) =>
    box('moof', fullBox('mfhd', 0, 0, u32(spec.sequenceNumber)), box('traf', tfhd, tfdt, fullBox('trun', perCto ? 1 : 0, trunFlags, ...trunHead(dataOffset), ...entries)));
  // data_offset counts from the moof start to the first sample byte, after the 8-byte mdat header.
  const moofSize = moofWith(0).length;
  return Buffer.concat([moofWith(moofSize + 8), box('mdat', ...s.map((x) => x.data))]);
}

/** Common Encryption system IDs (dashif.org/identifiers/content_protection). */
export const SYSTEM_IDS = {
  clearKey: Buffer.from('e2719d58a985b3c9781ab030af78d30e', 'hex'),
  commonPssh: Buffer.from('1077efecc0b24d02ace33c1e52e2fb4b', 'hex'),
  widevine: Buffer.from('edef8ba979d64acea3c827dcd51d21ed', 'hex'),
  playready: Buffer.from('9a04f07998404286ab92e65be0885f95', 'hex'),
} as const;

/** pssh (ISO/IEC 23001-7 §8.1): version 1 when key IDs are listed. */
export function pssh(systemId: Bytes, keyIds: Bytes[] = [], data: Bytes = Buffer.alloc(0)): Buffer {
  const kids = keyIds.length ? [u32(keyIds.length), ...keyIds] : [];
  return fullBox('pssh', keyIds.length ? 1 : 0, 0, systemId, ...kids, u32(data.length), data);
}

/** Per-sample encryption parameters for senc. */
export interface SampleEncryption {
  iv: Bytes;
  subsamples?: { clearBytes: number; protectedBytes: number }[];
}

/** senc (ISO/IEC 23001-7 §7.2): flag 0x2 when subsample maps are present. */
export function senc(samples: SampleEncryption[]): Buffer {
  const useSubsamples = samples.some((s) => s.subsamples && s.subsamples.length > 0);
  // Written field by field into one buffer: a part holds tens of samples, each with a few subsamples.
  const size = 16 + sencEntrySizes(samples).reduce((a, b) => a + b, 0);
  const out = Buffer.allocUnsafe(size);
  out.writeUInt32BE(size, 0);
  out.write('senc', 4, 'latin1');
  out.writeUInt32BE(useSubsamples ? 0x2 : 0, 8);
  out.writeUInt32BE(samples.length, 12);
  let p = 16;
  for (const s of samples) {
    out.set(s.iv, p);
    p += s.iv.length;
    if (!useSubsamples) continue;
    const subs = s.subsamples ?? [];
    out.writeUInt16BE(subs.length, p);
    p += 2;
    for (const x of subs) {
      out.writeUInt16BE(x.clearBytes, p);
      out.writeUInt32BE(x.protectedBytes, p + 2);
      p += 6;
    }
  }
  return out;
}

/** Size in bytes of each sample's auxiliary information in senc (IV + optional subsample map). */
export function sencEntrySizes(samples: SampleEncryption[]): number[] {
  const useSubsamples = samples.some((s) => s.subsamples && s.subsamples.length > 0);
  return samples.map((s) => s.iv.length + (useSubsamples ? 2 + 6 * (s.subsamples?.length ?? 0) : 0));
}

/** saiz (§8.7.8): a default size when all entries match, else one byte per sample. */
export function saiz(sizes: number[]): Buffer {
  const uniform = sizes.length > 0 && sizes.every((s) => s === sizes[0]);
  return uniform ? fullBox('saiz', 0, 0, u8(sizes[0]), u32(sizes.length)) : fullBox('saiz', 0, 0, u8(0), u32(sizes.length), Buffer.from(sizes));
}

/** saio (§8.7.9): offsets relative to the moof (default-base-is-moof); version 1 when any exceeds 32 bits. */
export function saio(offsets: number[]): Buffer {
  const wide = offsets.some((o) => o > 0xffffffff);
  return fullBox('saio', wide ? 1 : 0, 0, u32(offsets.length), ...offsets.map((o) => (wide ? u64(o) : u32(o))));
}
