import { CmafError } from './errors.js';

/**
 * A box located inside a buffer (ISO/IEC 14496-12 §4.2). Offsets are absolute in `buf`, so nested
 * boxes never copy bytes.
 */
export interface Box {
  type: string;
  buf: Buffer;
  /** First byte of the box (its size field). */
  start: number;
  /** First byte after the header (size, type, optional largesize and uuid user type). */
  payloadStart: number;
  /** One past the last byte of the box. */
  end: number;
}

/** Size and type of a box whose header is readable, even when its body has not arrived yet. */
export interface BoxHeader {
  type: string;
  headerSize: number;
  /** Total size in bytes, or 0 for "extends to the end of the file" (§4.2, size == 0). */
  size: number;
}

/** Largest header: 32-bit size + type + 64-bit largesize + 16-byte uuid user type. */
export const MAX_BOX_HEADER = 32;

/**
 * Reads a box header at `offset`; undefined if fewer bytes than the header are available. Handles
 * largesize (size == 1) and uuid boxes. Throws on sizes smaller than the header.
 */
export function readBoxHeader(buf: Buffer, offset: number, limit = buf.length): BoxHeader | undefined {
  if (limit - offset < 8) return undefined;
  let size = buf.readUInt32BE(offset);
  const type = buf.toString('latin1', offset + 4, offset + 8);
  let headerSize = 8;
  if (size === 1) {
    if (limit - offset < 16) return undefined;
    const large = buf.readBigUInt64BE(offset + 8);
    if (large > BigInt(Number.MAX_SAFE_INTEGER)) throw new CmafError('BOX_TOO_LARGE', `box ${type} declares ${large} bytes`);
    size = Number(large);
    headerSize = 16;
  }
  if (type === 'uuid') {
    if (limit - offset < headerSize + 16) return undefined;
    headerSize += 16;
  }
  if (size !== 0 && size < headerSize) throw new CmafError('BOX_INVALID', `box ${JSON.stringify(type)} has size ${size} < header ${headerSize}`);
  return { type, headerSize, size };
}

/** Iterates the boxes in `buf[start, end)`; a size-0 box runs to `end`. Throws if a box overruns `end`. */
export function* iterateBoxes(buf: Buffer, start = 0, end = buf.length): Generator<Box> {
  let offset = start;
  while (offset < end) {
    const header = readBoxHeader(buf, offset, end);
    if (!header) throw new CmafError('BOX_TRUNCATED', `${end - offset} stray bytes at offset ${offset}`);
    const boxEnd = header.size === 0 ? end : offset + header.size;
    if (boxEnd > end) throw new CmafError('BOX_TRUNCATED', `box ${header.type} at ${offset} needs ${header.size} bytes, ${end - offset} left`);
    yield { type: header.type, buf, start: offset, payloadStart: offset + header.headerSize, end: boxEnd };
    offset = boxEnd;
  }
}

/** The child boxes of a container box (moov, trak, moof, ...), optionally starting `skip` bytes into its payload. */
export function childBoxes(box: Box, skip = 0): Box[] {
  return [...iterateBoxes(box.buf, box.payloadStart + skip, box.end)];
}

/** The first child of `box` with the given type. */
export function findChild(box: Box, type: string, skip = 0): Box | undefined {
  for (const child of iterateBoxes(box.buf, box.payloadStart + skip, box.end)) if (child.type === type) return child;
  return undefined;
}

/** Follows a path of child types (`findPath(moov, 'trak', 'mdia', 'mdhd')`), first match at each level. */
export function findPath(box: Box, ...types: string[]): Box | undefined {
  let current: Box | undefined = box;
  for (const type of types) {
    if (!current) return undefined;
    current = findChild(current, type);
  }
  return current;
}

/** The whole box as a view (no copy). */
export function boxBytes(box: Box): Buffer {
  return box.buf.subarray(box.start, box.end);
}

/**
 * Sequential big-endian field reader over one box's payload, bounds-checked against the box end so a
 * corrupt length field throws a CmafError instead of reading a neighbour's bytes.
 */
export class BoxCursor {
  pos: number;

  constructor(
    readonly buf: Buffer,
    start: number,
    readonly end: number,
    private readonly what = 'box',
  ) {
    this.pos = start;
  }

  /** A cursor over a box's payload. */
  static of(box: Box): BoxCursor {
    return new BoxCursor(box.buf, box.payloadStart, box.end, box.type);
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  private need(n: number): number {
    if (this.pos + n > this.end) throw new CmafError('BOX_TRUNCATED', `${this.what}: need ${n} bytes at ${this.pos}, ${this.remaining} left`);
    const at = this.pos;
    this.pos += n;
    return at;
  }

  u8(): number {
    return this.buf.readUInt8(this.need(1));
  }

  u16(): number {
    return this.buf.readUInt16BE(this.need(2));
  }

  u24(): number {
    return this.buf.readUIntBE(this.need(3), 3);
  }

  u32(): number {
    return this.buf.readUInt32BE(this.need(4));
  }

  i32(): number {
    return this.buf.readInt32BE(this.need(4));
  }

  /** Unsigned 64-bit as a number; throws above 2^53 (decode times that large mean a broken stream). */
  u64(): number {
    const v = this.buf.readBigUInt64BE(this.need(8));
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new CmafError('BOX_INVALID', `${this.what}: 64-bit value ${v} exceeds 2^53`);
    return Number(v);
  }

  /** Four characters (a box type or brand). */
  fourcc(): string {
    return this.buf.toString('latin1', this.need(4), this.pos);
  }

  bytes(n: number): Buffer {
    const at = this.need(n);
    return this.buf.subarray(at, at + n);
  }

  skip(n: number): void {
    this.need(n);
  }

  /** Reads a full box's version and 24-bit flags (§4.2.2). */
  fullBoxHeader(): { version: number; flags: number } {
    const v = this.u32();
    return { version: v >>> 24, flags: v & 0xffffff };
  }
}
