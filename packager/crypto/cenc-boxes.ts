/**
 * Common Encryption of CMAF init segments and fragments (ISO/IEC 23001-7): the init's sample entries
 * become `encv`/`enca` with `sinf` (`frma`, `schm`, `schi`/`tenc`) and the moov carries `pssh` boxes;
 * each fragment's samples are encrypted in a copy of its mdat and its trafs gain `senc`, `saiz` and
 * `saio`, with the trun data offsets moved by what the moof grew.
 */
import crypto from 'node:crypto';
import { BoxCursor, childBoxes, findChild, findPath, iterateBoxes, type Box } from '../cmaf/box-reader.js';
import { box, fourcc, fullBox, pssh, saio, saiz, senc, sencEntrySizes, SYSTEM_IDS, u8, u32, type SampleEncryption } from '../cmaf/box-writer.js';
import type { TrackDefaults } from '../cmaf/boxes.js';
import { CmafError } from '../cmaf/errors.js';
import { parseMoof, TFHD_BASE_DATA_OFFSET, TRUN_DATA_OFFSET } from '../cmaf/moof.js';
import { audioEntryFields, VISUAL_ENTRY_FIELDS } from '../cmaf/sample-entry.js';
import { H264ParameterSets } from './h264-slice-header.js';
import { AUDIO_PATTERN, CbcsChain, encryptCbcs, encryptCenc, h264Subsamples, VIDEO_PATTERN, type CencScheme } from './sample-encryption.js';

/** A content key: 16-byte key ID and key. */
export interface ContentKey {
  kid: Buffer;
  key: Buffer;
}

/** How one track is encrypted. */
export interface CencTrackConfig {
  scheme: CencScheme;
  key: ContentKey;
  /** cbcs: the constant IV (16 bytes) every subsample starts from. Ignored by cenc (per-sample IVs). */
  constantIv: Buffer;
}

/** schm scheme_version 1.0 (§4.2). */
const SCHEME_VERSION = 0x00010000;
/** cenc per-sample IV size: 8 bytes, the high half of the CTR block (§9.1). */
const CENC_IV_SIZE = 8;

/** tenc (§8.2): version 1 carries the cbcs pattern and a constant IV. */
function tenc(config: CencTrackConfig, kind: 'video' | 'audio'): Buffer {
  if (config.scheme === 'cenc') return fullBox('tenc', 0, 0, u8(0), u8(0), u8(1), u8(CENC_IV_SIZE), config.key.kid);
  const p = kind === 'video' ? VIDEO_PATTERN : AUDIO_PATTERN;
  return fullBox('tenc', 1, 0, u8(0), u8((p.crypt << 4) | p.skip), u8(1), u8(0), config.key.kid, u8(config.constantIv.length), config.constantIv);
}

/** sinf (§8.12): the original format, the scheme and its tenc. */
function sinf(format: string, config: CencTrackConfig, kind: 'video' | 'audio'): Buffer {
  return box('sinf', box('frma', fourcc(format)), fullBox('schm', 0, 0, fourcc(config.scheme), u32(SCHEME_VERSION)), box('schi', tenc(config, kind)));
}

/**
 * The pssh boxes of an encrypted init: the W3C common system listing the key IDs, which every EME
 * ClearKey implementation reads as "cenc" init data. (A ClearKey-system box is left out: dash.js hands
 * any box it finds for ClearKey to the CDM as "keyids" JSON, which Chromium refuses.) A DRM vendor's
 * adapter adds its own system's box here.
 */
export function psshBoxes(kids: Buffer[]): Buffer[] {
  return [pssh(SYSTEM_IDS.commonPssh, kids)];
}

/** A container box rebuilt with `fixed` payload bytes kept and its children replaced. */
function rebuild(b: Box, fixed: number, children: Buffer[], type = b.type): Buffer {
  return box(type, b.buf.subarray(b.payloadStart, b.payloadStart + fixed), ...children);
}

function whole(b: Box): Buffer {
  return b.buf.subarray(b.start, b.end);
}

/** What {@link encryptInit} found out about each track, for encrypting its fragments. */
export interface EncryptedTrack {
  trackId: number;
  kind: 'video' | 'audio';
  /** H.264 tracks: NAL length size and parameter sets for the subsample maps. */
  nalLengthSize?: number;
  params?: H264ParameterSets;
}

/**
 * The init segment with every video and audio track encrypted under `config`: sample entries renamed
 * to encv/enca with a sinf, pssh boxes (common and ClearKey) appended to the moov. Other boxes are
 * copied as they are.
 */
export function encryptInit(init: Buffer, config: CencTrackConfig, opts: { pssh?: boolean } = {}): { bytes: Buffer; tracks: EncryptedTrack[] } {
  const tracks: EncryptedTrack[] = [];
  const out: Buffer[] = [];
  let sawMoov = false;
  for (const top of iterateBoxes(init)) {
    if (top.type !== 'moov') {
      out.push(whole(top));
      continue;
    }
    sawMoov = true;
    const children = childBoxes(top).map((c) => (c.type === 'trak' ? encryptTrak(c, config, tracks) : whole(c)));
    out.push(rebuild(top, 0, [...children, ...(opts.pssh === false ? [] : psshBoxes([config.key.kid]))]));
  }
  if (!sawMoov) throw new CmafError('UNEXPECTED_BOX', 'init segment has no moov');
  return { bytes: Buffer.concat(out), tracks };
}

function encryptTrak(trak: Box, config: CencTrackConfig, tracks: EncryptedTrack[]): Buffer {
  const tkhd = findChild(trak, 'tkhd');
  const hdlr = findPath(trak, 'mdia', 'hdlr');
  if (!tkhd || !hdlr) throw new CmafError('BOX_INVALID', 'trak without tkhd/hdlr');
  const handler = hdlr.buf.toString('latin1', hdlr.payloadStart + 8, hdlr.payloadStart + 12);
  if (handler !== 'vide' && handler !== 'soun') return whole(trak);
  const kind = handler === 'vide' ? 'video' : 'audio';
  const t = BoxCursor.of(tkhd);
  t.skip(t.fullBoxHeader().version === 1 ? 16 : 8);
  const track: EncryptedTrack = { trackId: t.u32(), kind };
  tracks.push(track);

  const entryOf = (entry: Box): Buffer => {
    const fields = kind === 'video' ? VISUAL_ENTRY_FIELDS : audioEntryFields(entry);
    const kids = childBoxes(entry, fields);
    if (kind === 'video') {
      const avcC = kids.find((k) => k.type === 'avcC');
      if (avcC) {
        const record = avcC.buf.subarray(avcC.payloadStart, avcC.end);
        track.nalLengthSize = (record[4] & 0x3) + 1;
        track.params = H264ParameterSets.fromAvcC(record);
      } else if (!['vp08', 'vp09', 'av01'].includes(entry.type)) {
        throw new CmafError('BOX_INVALID', `cannot encrypt ${entry.type} video: only H.264 (avc1/avc3), VP8/9 and AV1 are supported`);
      }
    }
    return rebuild(entry, fields, [...kids.map(whole), sinf(entry.type, config, kind)], kind === 'video' ? 'encv' : 'enca');
  };
  const walk = (b: Box, path: string[]): Buffer => {
    if (path.length === 0) {
      // stsd: version/flags and entry_count, then the sample entries.
      return rebuild(b, 8, childBoxes(b, 8).map(entryOf));
    }
    return rebuild(b, 0, childBoxes(b).map((c) => (c.type === path[0] ? walk(c, path.slice(1)) : whole(c))));
  };
  return walk(trak, ['mdia', 'minf', 'stbl', 'stsd']);
}

/**
 * The key-rotation boxes of a fragment encrypted under another key than the init's default (ISO/IEC
 * 23001-7 §6): a `seig` sample group description (the fragment's KID, IV size or constant IV and
 * pattern) and the sample-to-group box pointing every sample at it. Players learn of the new key from
 * the playlist (EXT-X-KEY KEYID); no pssh is put in the moof, because hls.js hands the init data of
 * any `encrypted` event to its current key's session, whose licence then names the wrong key.
 */
function seigBoxes(config: CencTrackConfig, kind: 'video' | 'audio', sampleCount: number): Buffer[] {
  const p = kind === 'video' ? VIDEO_PATTERN : AUDIO_PATTERN;
  const entry =
    config.scheme === 'cenc'
      ? Buffer.concat([u8(0), u8(0), u8(1), u8(CENC_IV_SIZE), config.key.kid])
      : Buffer.concat([u8(0), u8((p.crypt << 4) | p.skip), u8(1), u8(0), config.key.kid, u8(config.constantIv.length), config.constantIv]);
  // sgpd version 1 with default_length; sbgp's group_description_index 0x10001 is the first entry of this fragment's sgpd (§8.9.4).
  const sgpd = fullBox('sgpd', 1, 0, fourcc('seig'), u32(entry.length), u32(1), entry);
  const sbgp = fullBox('sbgp', 0, 0, fourcc('seig'), u32(1), u32(sampleCount), u32(0x10001));
  return [sbgp, sgpd];
}

/** Encrypts the fragments of one track, keeping the state samples share (IV counter, parameter sets). */
export class CencFragmentEncryptor {
  private ivCounter: bigint;
  private readonly defaults: Map<number, TrackDefaults>;
  /** The key fragments are encrypted with now (the init's default until `rotate`). */
  private config: CencTrackConfig;
  /** cbcs: the cipher of the current key. */
  private chain?: { key: Buffer; iv: Buffer; chain: CbcsChain };

  constructor(
    private readonly initConfig: CencTrackConfig,
    private readonly track: EncryptedTrack,
    defaults: TrackDefaults,
  ) {
    this.config = initConfig;
    this.defaults = new Map([[defaults.trackId, defaults]]);
    // cenc IVs must never repeat under one key: a random 64-bit start, then one per sample.
    this.ivCounter = crypto.randomBytes(8).readBigUInt64BE();
  }

  /** Fragments from now on are encrypted with this key (live key rotation); the init's default key again when it is that one. */
  rotate(config: CencTrackConfig): void {
    this.config = config;
  }

  private get rotated(): boolean {
    return !this.config.key.kid.equals(this.initConfig.key.kid);
  }

  /**
   * Encrypts every moof + mdat pair in `bytes` (a part or segment: one or more CMAF chunks, with any
   * styp/prft/emsg boxes copied as they are) into a new buffer of the encrypted chunks. The new moofs
   * are planned from the clear bytes (subsample maps read only headers, which stay clear), then every
   * box is copied once into the output, where the samples are encrypted in place.
   */
  encrypt(bytes: Buffer | readonly Buffer[]): Buffer {
    const pieces: { bytes: Buffer; plan?: ChunkPlan }[] = [];
    for (const chunk of Buffer.isBuffer(bytes) ? [bytes] : bytes) {
      let moof: Box | undefined;
      for (const b of iterateBoxes(chunk)) {
        if (b.type === 'moof') moof = b;
        else if (b.type === 'mdat' && moof) {
          const plan = this.planChunk(moof, b);
          pieces.push({ bytes: plan.moof }, { bytes: whole(b), plan });
          moof = undefined;
        } else {
          if (moof) pieces.push({ bytes: whole(moof) });
          moof = undefined;
          pieces.push({ bytes: whole(b) });
        }
      }
      if (moof) throw new CmafError('UNEXPECTED_BOX', 'moof without its mdat');
    }
    const out = Buffer.allocUnsafe(pieces.reduce((n, p) => n + p.bytes.length, 0));
    let at = 0;
    for (const p of pieces) {
      p.bytes.copy(out, at);
      if (p.plan) for (const s of p.plan.samples) this.encryptSample(out.subarray(at + s.offset, at + s.offset + s.size), s.enc);
      at += p.bytes.length;
    }
    return out;
  }

  /** The encrypted chunk's moof, and where each sample lies in its mdat with how it is encrypted. */
  private planChunk(moof: Box, mdat: Box): ChunkPlan {
    const info = parseMoof(moof, this.defaults);
    const samples: ChunkPlan['samples'] = [];
    const aux = new Map<number, SampleEncryption[] | undefined>();
    for (const run of info.trafs) {
      if (run.trackId !== this.track.trackId) throw new CmafError('BOX_INVALID', `fragment of track ${run.trackId}, encryptor of track ${this.track.trackId}`);
      const entries: SampleEncryption[] = [];
      for (const s of run.samples) {
        const enc = this.sampleParams(mdat.buf.subarray(s.offset, s.offset + s.size));
        entries.push(enc);
        samples.push({ offset: s.offset - mdat.start, size: s.size, enc });
      }
      // cbcs audio (constant IV, no subsamples) needs no auxiliary information at all.
      const needed = entries.some((e) => e.iv.length > 0 || (e.subsamples?.length ?? 0) > 0);
      aux.set(run.trackId, needed ? entries : undefined);
    }

    const trafs: Buffer[] = [];
    for (const child of childBoxes(moof)) {
      if (child.type !== 'traf') {
        trafs.push(whole(child));
        continue;
      }
      const tfhd = findChild(child, 'tfhd');
      if (tfhd && tfhd.buf.readUInt32BE(tfhd.payloadStart) & TFHD_BASE_DATA_OFFSET) throw new CmafError('BOX_INVALID', 'cannot encrypt a fragment with an absolute base_data_offset');
      const trackId = tfhd ? tfhd.buf.readUInt32BE(tfhd.payloadStart + 4) : 0;
      const entries = aux.get(trackId);
      const extra = entries ? [senc(entries), saiz(sencEntrySizes(entries)), saio([0])] : [];
      const count = info.trafs.find((t) => t.trackId === trackId)?.samples.length ?? 0;
      const groups = this.rotated ? seigBoxes(this.config, this.track.kind, count) : [];
      trafs.push(rebuild(child, 0, [...childBoxes(child).map(whole), ...groups, ...extra]));
    }
    const newMoof = box('moof', ...trafs);
    const growth = newMoof.length - (moof.end - moof.start);
    // Patch the offsets: trun data offsets (from the moof start) move by the growth; saio points at senc's first entry.
    for (const traf of iterateBoxes(newMoof, 8)) {
      if (traf.type !== 'traf') continue;
      let sencStart: number | undefined;
      for (const c of childBoxes(traf)) {
        if (c.type === 'trun' && newMoof.readUInt32BE(c.payloadStart) & TRUN_DATA_OFFSET) {
          newMoof.writeInt32BE(newMoof.readInt32BE(c.payloadStart + 8) + growth, c.payloadStart + 8);
        } else if (c.type === 'senc') sencStart = c.start;
        else if (c.type === 'saio' && sencStart !== undefined) newMoof.writeUInt32BE(sencStart + 16, c.payloadStart + 8);
      }
    }
    return { moof: newMoof, samples };
  }

  /** A sample's IV and subsample map, from its clear bytes. */
  private sampleParams(data: Buffer): SampleEncryption {
    const { scheme } = this.config;
    const t = this.track;
    const subsamples = t.kind === 'video' && t.nalLengthSize && t.params ? h264Subsamples(data, t.nalLengthSize, t.params, scheme) : undefined;
    let iv = EMPTY;
    if (scheme === 'cenc') {
      iv = Buffer.allocUnsafe(CENC_IV_SIZE);
      iv.writeBigUInt64BE(this.ivCounter);
      this.ivCounter = (this.ivCounter + 1n) & 0xffffffffffffffffn;
    }
    return subsamples ? { iv, subsamples } : { iv };
  }

  /** Encrypts one sample in place as planned. */
  private encryptSample(data: Buffer, enc: SampleEncryption): void {
    const { scheme, key, constantIv } = this.config;
    if (scheme === 'cenc') return encryptCenc(data, key.key, enc.iv as Buffer, enc.subsamples);
    // One cipher per key (the chain resets to the IV in place at every range), not one per sample.
    if (!this.chain || !this.chain.key.equals(key.key) || !this.chain.iv.equals(constantIv)) this.chain = { key: key.key, iv: constantIv, chain: new CbcsChain(key.key, constantIv) };
    encryptCbcs(data, key.key, constantIv, this.track.kind === 'video' ? VIDEO_PATTERN : AUDIO_PATTERN, enc.subsamples, this.chain.chain);
  }
}

/** How one chunk is encrypted: its new moof and its samples (offsets from the mdat's start). */
interface ChunkPlan {
  moof: Buffer;
  samples: { offset: number; size: number; enc: SampleEncryption }[];
}

const EMPTY = Buffer.alloc(0);

/** Encrypts one track's init segment and then its fragments under one content key. */
export class CencTrackEncryptor {
  private fragments?: CencFragmentEncryptor;

  /**
   * `pssh: false` leaves the init without pssh boxes: for rotating live keys, where a box naming the
   * first key would be stale (and mislead hls.js, see seigBoxes) once the key changes.
   */
  constructor(
    private readonly config: CencTrackConfig,
    private readonly opts: { pssh?: boolean } = {},
  ) {}

  /** The encrypted init segment; `defaults` are the track's trex defaults (from the clear init). */
  init(bytes: Buffer, defaults: TrackDefaults): Buffer {
    const { bytes: encrypted, tracks } = encryptInit(bytes, this.config, this.opts);
    const track = tracks.find((t) => t.trackId === defaults.trackId);
    if (!track) throw new CmafError('BOX_INVALID', `init segment has no track ${defaults.trackId}`);
    this.fragments = new CencFragmentEncryptor(this.config, track, defaults);
    return encrypted;
  }

  /** A part or segment of the track (its bytes, or its chunks in order), encrypted under `key` when given (live rotation). */
  fragment(bytes: Buffer | readonly Buffer[], key?: CencTrackConfig): Buffer {
    if (!this.fragments) throw new Error('CencTrackEncryptor: init segment first');
    this.fragments.rotate(key ?? this.config);
    return this.fragments.encrypt(bytes);
  }
}
