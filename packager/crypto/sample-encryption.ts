/**
 * Common Encryption of single samples (ISO/IEC 23001-7): `cenc` (AES-128 CTR, §10.1) and `cbcs`
 * (AES-128 CBC with a 1:9 block pattern for video and every whole block for audio, a constant IV reset
 * at each subsample, §10.4). Video samples are length-prefixed H.264 NAL units: only coded slices are
 * encrypted, after their NAL and slice headers.
 */
import crypto from 'node:crypto';
import { H264ParameterSets, NAL } from './h264-slice-header.js';

/** The two Common Encryption schemes players decrypt through EME. */
export type CencScheme = 'cenc' | 'cbcs';

/** One BytesOfClearData / BytesOfProtectedData pair of a subsample map (senc, §7.2.2). */
export interface Subsample {
  clearBytes: number;
  protectedBytes: number;
}

/** cbcs video pattern: 1 encrypted block then 9 clear (the HLS and CMAF norm). */
export const VIDEO_PATTERN = { crypt: 1, skip: 9 } as const;
/** cbcs audio: no pattern, every whole block of the sample encrypted. */
export const AUDIO_PATTERN = { crypt: 0, skip: 0 } as const;

const BLOCK = 16;
/** senc's BytesOfClearData is 16 bits. */
const MAX_CLEAR = 0xffff;
/** A slice shorter than this after its header stays clear (nothing worth a block). */
const MIN_PROTECTED = BLOCK;
/** When a slice header cannot be parsed, this much of the NAL stays clear (the HLS SAMPLE-AES lead-in). */
const FALLBACK_CLEAR = 32;

/**
 * The subsample map of one H.264 sample: NAL length fields, non-VCL NAL units and slice headers clear,
 * slice data protected. For `cenc` the protected run of each slice is a whole number of blocks (the
 * remainder moves to the clear part before it), as ISO/IEC 23001-7 §10.2 asks of AVC.
 */
export function h264Subsamples(sample: Buffer, nalLengthSize: number, params: H264ParameterSets, scheme: CencScheme): Subsample[] {
  const out: Subsample[] = [];
  let pendingClear = 0;
  let p = 0;
  while (p + nalLengthSize <= sample.length) {
    const len = sample.readUIntBE(p, nalLengthSize);
    const nalStart = p + nalLengthSize;
    const nalEnd = Math.min(sample.length, nalStart + len);
    const nal = sample.subarray(nalStart, nalEnd);
    const type = nal.length ? nal[0] & 0x1f : 0;
    let clear = nalEnd - p;
    let protectedBytes = 0;
    if (type === NAL.SLICE || type === NAL.IDR) {
      const header = params.sliceHeaderBytes(nal) ?? Math.min(nal.length, FALLBACK_CLEAR);
      let body = nal.length - header;
      if (scheme === 'cenc') body -= body % BLOCK;
      if (body >= MIN_PROTECTED) {
        protectedBytes = body;
        clear = nalEnd - p - body;
      }
    } else if (type === NAL.SPS || type === NAL.PPS) {
      params.add(nal);
    }
    pendingClear += clear;
    if (protectedBytes > 0) {
      while (pendingClear > MAX_CLEAR) {
        out.push({ clearBytes: MAX_CLEAR, protectedBytes: 0 });
        pendingClear -= MAX_CLEAR;
      }
      out.push({ clearBytes: pendingClear, protectedBytes });
      pendingClear = 0;
    }
    p = nalEnd;
  }
  pendingClear += sample.length - p;
  while (pendingClear > 0) {
    const n = Math.min(pendingClear, MAX_CLEAR);
    out.push({ clearBytes: n, protectedBytes: 0 });
    pendingClear -= n;
  }
  return out;
}

/**
 * Encrypts `data` in place as `cenc`: one AES-CTR keystream from IV || 0 runs over the protected
 * bytes of every subsample in order (the whole sample when there is no map).
 */
export function encryptCenc(data: Buffer, key: Buffer, iv8: Buffer, subsamples?: readonly Subsample[]): void {
  const iv = Buffer.alloc(16);
  iv8.copy(iv, 0, 0, 8);
  const cipher = crypto.createCipheriv('aes-128-ctr', key, iv);
  if (!subsamples) {
    cipher.update(data).copy(data);
    return;
  }
  let p = 0;
  for (const s of subsamples) {
    p += s.clearBytes;
    if (s.protectedBytes) {
      const range = data.subarray(p, p + s.protectedBytes);
      cipher.update(range).copy(range);
      p += s.protectedBytes;
    }
  }
}

/**
 * One AES-CBC cipher for many cbcs ranges under one key and constant IV. cbcs restarts the chain from
 * the IV at every protected range; instead of a new cipher per range (a sample, mostly: one per AAC
 * frame), the chain is reset in place: after a range ending in ciphertext block C, the block D(IV) ⊕ C
 * encrypts to E(D(IV)) = IV, so the next block chains from the IV again. That block's output is dropped.
 */
export class CbcsChain {
  private readonly cipher: crypto.Cipher;
  private readonly resetBase: Buffer;
  /** The chain's last ciphertext block (the IV when nothing was encrypted since the last reset). */
  private last: Buffer;
  private fresh = true;

  constructor(
    key: Buffer,
    private readonly iv: Buffer,
  ) {
    this.cipher = crypto.createCipheriv('aes-128-cbc', key, iv).setAutoPadding(false);
    const d = crypto.createDecipheriv('aes-128-ecb', key, null).setAutoPadding(false);
    this.resetBase = d.update(iv);
    this.last = iv;
  }

  private buffer = Buffer.alloc(0);

  /** A reusable buffer of `size` bytes for gathering blocks (valid until the next call). */
  scratch(size: number): Buffer {
    if (this.buffer.length < size) this.buffer = Buffer.allocUnsafe(Math.max(size, 2 * this.buffer.length));
    return this.buffer.subarray(0, size);
  }

  /** Encrypts whole blocks as a chain that starts from the IV. */
  encrypt(blocks: Buffer): Buffer {
    if (!this.fresh) {
      const reset = Buffer.allocUnsafe(BLOCK);
      for (let i = 0; i < BLOCK; i++) reset[i] = this.resetBase[i] ^ this.last[i];
      this.cipher.update(reset);
    }
    const out = this.cipher.update(blocks);
    this.last = out.subarray(out.length - BLOCK);
    this.fresh = false;
    return out;
  }
}

/**
 * Encrypts `data` in place as `cbcs`: in each protected range (the whole sample when there is no map)
 * `crypt` blocks of every `crypt + skip` are AES-CBC encrypted, chained from the constant IV, which is
 * reset at each range; a trailing partial block stays clear. Pattern 0:0 encrypts every whole block.
 * `chain` carries one cipher across calls under the same key and IV.
 */
export function encryptCbcs(data: Buffer, key: Buffer, constantIv: Buffer, pattern: { crypt: number; skip: number }, subsamples?: readonly Subsample[], chain = new CbcsChain(key, constantIv)): void {
  const ranges: [number, number][] = [];
  if (!subsamples) ranges.push([0, data.length]);
  else {
    let p = 0;
    for (const s of subsamples) {
      p += s.clearBytes;
      if (s.protectedBytes) ranges.push([p, p + s.protectedBytes]);
      p += s.protectedBytes;
    }
  }
  for (const [start, end] of ranges) {
    if (pattern.crypt === 0) {
      const whole = start + Math.floor((end - start) / BLOCK) * BLOCK;
      if (whole > start) chain.encrypt(data.subarray(start, whole)).copy(data, start);
      continue;
    }
    // Gather the encrypted blocks, encrypt them as one CBC chain, scatter them back.
    const stride = (pattern.crypt + pattern.skip) * BLOCK;
    const run = pattern.crypt * BLOCK;
    const count = end - start >= run ? Math.floor((end - start - run) / stride) + 1 : 0;
    if (count === 0) continue;
    // Blocks are 16 bytes: copied byte by byte, which beats a Buffer.copy call per block.
    const gathered = chain.scratch(count * run);
    for (let i = 0, q = 0; i < count; i++) for (let k = start + i * stride, e = k + run; k < e; k++) gathered[q++] = data[k];
    const encrypted = chain.encrypt(gathered);
    for (let i = 0, q = 0; i < count; i++) for (let k = start + i * stride, e = k + run; k < e; k++) data[k] = encrypted[q++];
  }
}
