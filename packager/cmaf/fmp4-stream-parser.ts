import { EventEmitter } from 'node:events';
import { MAX_BOX_HEADER, iterateBoxes, readBoxHeader, type Box } from './box-reader.js';
import { parseFtyp, parseMoov, type FileType, type TrackDefaults, type TrackInfo } from './boxes.js';
import { CmafError } from './errors.js';
import { parseMoof, parsePrft, summarizeRun, type ProducerReferenceTime } from './moof.js';

/** Re-exported so a pipeline needs only this module. */
export type { TrackInfo, TrackDefaults } from './boxes.js';

/** The initialization segment of the stream (ftyp + moov), ready to store as `init.mp4`. */
export interface Fmp4Init {
  bytes: Buffer;
  track: TrackInfo;
  defaults: TrackDefaults;
  fileType?: FileType;
}

/** One CMAF chunk: optional prft/emsg, then moof + mdat, as one standalone buffer. */
export interface Fmp4Fragment {
  bytes: Buffer;
  /** baseMediaDecodeTime, in track timescale (continues from the previous fragment if tfdt is missing). */
  decodeTime: number;
  /** Sum of sample durations, in track timescale. */
  duration: number;
  /** The first sample is a sync sample: a part or segment may start here. */
  keyframe: boolean;
  sampleCount: number;
  /** mfhd sequence number. */
  sequenceNumber: number;
  /** From a prft box before the moof (FFmpeg `-write_prft`), when present. */
  producerReference?: ProducerReferenceTime;
}

/** Events of the parser, emitted synchronously from `push()`. */
export interface Fmp4StreamParserEvents {
  /** Once per moov; a second one means the stream restarted with a new init segment. */
  init: [init: Fmp4Init];
  fragment: [fragment: Fmp4Fragment];
}

/** Limits of the parser. */
export interface Fmp4StreamParserConfig {
  /** Largest box accepted; a bigger declared size is an error instead of unbounded buffering. Default 64 MiB. */
  maxBoxBytes?: number;
}

/** Top-level boxes that belong to the CMAF chunk that follows them (ISO/IEC 23000-19 §7.3.2.3). */
const CHUNK_PREFIX_BOXES = new Set(['prft', 'emsg']);

/**
 * Incremental fragmented-MP4 parser for one single-track stream (one FFmpeg output pipe). Feed it
 * chunks split anywhere; it emits `init` once the moov is complete and `fragment` for every complete
 * moof + mdat. Bytes are copied at most twice (chunk gather + fragment concat), so cost is linear, and
 * it buffers at most one box plus one pending moof.
 *
 * File-level boxes (styp, sidx, mfra, free) are dropped: parts and segments are rebuilt from chunks.
 * Malformed input throws a CmafError from `push()`; the parser is then unusable (make a new one).
 */
export class Fmp4StreamParser extends EventEmitter<Fmp4StreamParserEvents> {
  private readonly maxBoxBytes: number;
  private chunks: Buffer[] = [];
  private headOffset = 0;
  private buffered = 0;
  private streamOffset = 0;
  private failed?: Error;
  private ftyp?: Buffer;
  private initInfo?: Fmp4Init;
  private prefix: Buffer[] = [];
  private producerReference?: ProducerReferenceTime;
  private pendingMoof?: { bytes: Buffer; offset: number };
  private nextDecodeTime = 0;

  constructor(config: Fmp4StreamParserConfig = {}) {
    super();
    this.maxBoxBytes = config.maxBoxBytes ?? 64 * 1024 * 1024;
  }

  /** The init segment, once seen. */
  get init(): Fmp4Init | undefined {
    return this.initInfo;
  }

  /** Bytes held waiting for the rest of a box. */
  get bufferedBytes(): number {
    return this.buffered + (this.pendingMoof?.bytes.length ?? 0);
  }

  /** Feeds bytes from the pipe. */
  push(chunk: Buffer): void {
    if (this.failed) throw this.failed;
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    try {
      this.drain();
    } catch (err) {
      this.failed = err as Error;
      throw err;
    }
  }

  /** End of the stream: a trailing box with size 0 runs to here; anything else left over is truncation. */
  end(): void {
    if (this.failed) throw this.failed;
    if (this.buffered > 0) {
      const header = readBoxHeader(this.peek(Math.min(this.buffered, MAX_BOX_HEADER)), 0);
      if (!header || header.size !== 0) this.failed = new CmafError('BOX_TRUNCATED', `stream ended inside a box (${this.buffered} bytes buffered)`);
      else {
        try {
          this.onBox(header.type, this.take(this.buffered));
        } catch (err) {
          this.failed = err as Error;
        }
      }
    }
    if (!this.failed && this.pendingMoof) this.failed = new CmafError('BOX_TRUNCATED', 'stream ended after a moof without its mdat');
    if (this.failed) throw this.failed;
  }

  private drain(): void {
    while (this.buffered >= 8) {
      const header = readBoxHeader(this.peek(Math.min(this.buffered, MAX_BOX_HEADER)), 0);
      if (!header) return; // need more header bytes
      // A to-end box (size 0) is resolved in end(), but may not buffer past the limit meanwhile.
      const size = header.size === 0 ? this.buffered : header.size;
      if (size > this.maxBoxBytes) throw new CmafError('BOX_TOO_LARGE', `box ${header.type} of ${size} bytes exceeds ${this.maxBoxBytes}`);
      if (header.size === 0) return;
      if (this.buffered < header.size) return;
      this.onBox(header.type, this.take(header.size));
    }
  }

  private onBox(type: string, bytes: Buffer): void {
    const offset = this.streamOffset;
    this.streamOffset += bytes.length;
    switch (type) {
      case 'ftyp':
        parseFtyp(topBox(bytes));
        this.ftyp = bytes;
        return;
      case 'moov':
        return this.onMoov(bytes);
      case 'moof':
        if (!this.initInfo) throw new CmafError('UNEXPECTED_BOX', 'moof before moov');
        if (this.pendingMoof) throw new CmafError('UNEXPECTED_BOX', 'moof not followed by mdat');
        this.pendingMoof = { bytes, offset };
        return;
      case 'mdat':
        return this.onMdat(bytes);
      default:
        if (CHUNK_PREFIX_BOXES.has(type) && this.initInfo) {
          if (type === 'prft') this.producerReference = parsePrft(topBox(bytes));
          this.prefix.push(bytes);
        }
    }
  }

  private onMoov(bytes: Buffer): void {
    const { tracks, defaults } = parseMoov(topBox(bytes));
    if (tracks.length !== 1) throw new CmafError('UNSUPPORTED_TRACK', `expected one audio or video track, found ${tracks.length}`);
    const track = tracks[0];
    const trex = defaults.get(track.trackId) ?? { trackId: track.trackId, sampleDescriptionIndex: 1, sampleDuration: 0, sampleSize: 0, sampleFlags: 0 };
    // Always a copy: the init outlives the pipe chunks it was cut from.
    const init: Fmp4Init = { bytes: Buffer.concat(this.ftyp ? [this.ftyp, bytes] : [bytes]), track, defaults: trex };
    if (this.ftyp) init.fileType = parseFtyp(topBox(this.ftyp));
    this.ftyp = undefined;
    this.initInfo = init;
    this.prefix = [];
    this.pendingMoof = undefined;
    this.emit('init', init);
  }

  private onMdat(mdat: Buffer): void {
    const init = this.initInfo;
    const moof = this.pendingMoof;
    if (!init || !moof) throw new CmafError('UNEXPECTED_BOX', 'mdat without a preceding moof');
    this.pendingMoof = undefined;
    const info = parseMoof(topBox(moof.bytes), new Map([[init.track.trackId, init.defaults]]), moof.offset);
    const run = info.trafs.find((t) => t.trackId === init.track.trackId);
    if (!run) throw new CmafError('BOX_INVALID', `moof ${info.sequenceNumber} has no traf for track ${init.track.trackId}`);
    // Samples must sit inside this mdat's payload (offsets are relative to the moof's own buffer).
    const mdatHeader = readBoxHeader(mdat, 0)!.headerSize;
    const lo = moof.bytes.length + mdatHeader;
    const hi = moof.bytes.length + mdat.length;
    for (const s of run.samples) {
      if (s.offset < lo || s.offset + s.size > hi) {
        throw new CmafError('BOX_INVALID', `moof ${info.sequenceNumber}: sample at ${s.offset}+${s.size} outside mdat`);
      }
    }
    const summary = summarizeRun(run);
    const decodeTime = summary.decodeTime ?? this.nextDecodeTime;
    this.nextDecodeTime = decodeTime + summary.duration;
    const fragment: Fmp4Fragment = {
      bytes: Buffer.concat([...this.prefix, moof.bytes, mdat]),
      decodeTime,
      duration: summary.duration,
      keyframe: summary.keyframe,
      sampleCount: summary.sampleCount,
      sequenceNumber: info.sequenceNumber,
    };
    if (this.producerReference) fragment.producerReference = this.producerReference;
    this.prefix = [];
    this.producerReference = undefined;
    this.emit('fragment', fragment);
  }

  /** The first `n` buffered bytes, without consuming them (copies only when they span chunks). */
  private peek(n: number): Buffer {
    const first = this.chunks[0];
    if (first.length - this.headOffset >= n) return first.subarray(this.headOffset, this.headOffset + n);
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    for (let i = 0; filled < n; i++) {
      const c = this.chunks[i];
      const from = i === 0 ? this.headOffset : 0;
      filled += c.copy(out, filled, from, Math.min(c.length, from + n - filled));
    }
    return out;
  }

  /** Consumes `n` bytes as one buffer (a view when they lie in one chunk). */
  private take(n: number): Buffer {
    const out = this.peek(n);
    this.buffered -= n;
    let left = n;
    while (left > 0) {
      const avail = this.chunks[0].length - this.headOffset;
      if (avail > left) {
        this.headOffset += left;
        break;
      }
      left -= avail;
      this.chunks.shift();
      this.headOffset = 0;
    }
    return out;
  }
}

/** The single box that fills `bytes`. */
function topBox(bytes: Buffer): Box {
  return iterateBoxes(bytes).next().value as Box;
}
