/**
 * A small seeded mutation fuzzer for RTMP client sessions: takes a recorded client→server byte stream
 * and derives hostile variants, weighted towards the bytes after the handshake (the chunk stream and
 * the AMF0 `connect` command, where node-media-server 4.4.3 throws).
 */
import { prng } from '../../platform/index.js';

/** C0 + C1 + C2. */
export const HANDSHAKE_BYTES = 1 + 1536 + 1536;

/** The mutation kinds, for reporting coverage. */
export const MUTATIONS = [
  'bitflip',
  'truncate',
  'insert',
  'delete',
  'amf-type',
  'amf-length',
  'chunk-header',
  'garbage-after-handshake',
  'handshake-garbage',
  'splice',
  'key-swap',
] as const;

/** One mutation kind. */
export type Mutation = (typeof MUTATIONS)[number];

/** Offsets of AMF0 string markers (0x02, 16-bit length, printable text) after the handshake. */
export function amfStringOffsets(session: Buffer): number[] {
  const out: number[] = [];
  for (let i = HANDSHAKE_BYTES; i < session.length - 4; i++) {
    if (session[i] !== 0x02) continue;
    const len = session.readUInt16BE(i + 1);
    if (len < 2 || len > 200 || i + 3 + len > session.length) continue;
    const text = session.subarray(i + 3, i + 3 + len);
    if (text.every((c) => c >= 0x20 && c < 0x7f)) out.push(i);
  }
  return out;
}

/** Builds mutated variants of `session`; `keyFor(i)` supplies same-length stream keys for key swaps. */
export class SessionFuzzer {
  private readonly amf: number[];

  constructor(
    private readonly session: Buffer,
    private readonly streamKey: string,
  ) {
    this.amf = amfStringOffsets(session);
  }

  /** Case `n` of the run seeded with `seed`: always the same bytes for the same (seed, n). */
  mutate(seed: number, n: number): { kind: Mutation; bytes: Buffer } {
    const rnd = prng(seed * 1_000_003 + n);
    const int = (max: number) => Math.floor(rnd() * max);
    const kind = MUTATIONS[int(MUTATIONS.length)];
    const base = this.session;
    // Most cases keep the handshake intact so the mutation reaches the chunk parser and AMF decoder.
    const postHs = () => HANDSHAKE_BYTES + int(Math.max(1, base.length - HANDSHAKE_BYTES));
    let b = Buffer.from(base);
    switch (kind) {
      case 'bitflip': {
        const flips = 1 + int(8);
        for (let i = 0; i < flips; i++) {
          const at = postHs();
          b[at] ^= 1 << int(8);
        }
        break;
      }
      case 'truncate':
        b = b.subarray(0, postHs());
        break;
      case 'insert': {
        const at = postHs();
        const junk = Buffer.from(Array.from({ length: 1 + int(64) }, () => int(256)));
        b = Buffer.concat([b.subarray(0, at), junk, b.subarray(at)]);
        break;
      }
      case 'delete': {
        const at = postHs();
        b = Buffer.concat([b.subarray(0, at), b.subarray(Math.min(b.length, at + 1 + int(64)))]);
        break;
      }
      case 'amf-type': {
        // Turn a string marker into another AMF0 type (number, object, null, ECMA array, long string, …).
        const at = this.pickAmf(int);
        if (at !== undefined) b[at] = [0x00, 0x01, 0x03, 0x05, 0x06, 0x07, 0x08, 0x0a, 0x0b, 0x0c, 0x0d, 0x0f, 0x10, 0x11, 0xff][int(15)];
        break;
      }
      case 'amf-length': {
        const at = this.pickAmf(int);
        if (at !== undefined) b.writeUInt16BE([0, 1, 0xffff, 0x8000, b.readUInt16BE(at + 1) + 1 + int(40)][int(5)] & 0xffff, at + 1);
        break;
      }
      case 'chunk-header': {
        // Corrupt the first post-handshake chunk header: format, chunk stream id, length, type.
        const at = HANDSHAKE_BYTES + int(12);
        if (at < b.length) b[at] = int(256);
        break;
      }
      case 'garbage-after-handshake': {
        const junk = Buffer.from(Array.from({ length: 16 + int(2048) }, () => int(256)));
        b = Buffer.concat([b.subarray(0, HANDSHAKE_BYTES), junk]);
        break;
      }
      case 'handshake-garbage': {
        const at = int(HANDSHAKE_BYTES);
        b = Buffer.concat([b.subarray(0, at), Buffer.from(Array.from({ length: 1 + int(4000) }, () => int(256)))]);
        break;
      }
      case 'splice': {
        // Repeat a random slice of the command stream (duplicate connect/publish, reordered chunks).
        const from = postHs();
        const slice = b.subarray(from, Math.min(b.length, from + 1 + int(512)));
        const at = postHs();
        b = Buffer.concat([b.subarray(0, at), slice, b.subarray(at)]);
        break;
      }
      case 'key-swap': {
        // The intact session under a random key of the same length: exercises authorization.
        const key = Buffer.from(this.streamKey);
        const alt = Buffer.from(Array.from({ length: key.length }, () => 'abcdefghijklmnopqrstuvwxyz0123456789'.charCodeAt(int(36))));
        let i = b.indexOf(key, HANDSHAKE_BYTES);
        while (i >= 0) {
          alt.copy(b, i);
          i = b.indexOf(key, i + key.length);
        }
        break;
      }
    }
    return { kind, bytes: b };
  }

  private pickAmf(int: (max: number) => number): number | undefined {
    return this.amf.length ? this.amf[int(this.amf.length)] : undefined;
  }
}
