/**
 * Just enough H.264 (ITU-T H.264 §7.3) to find where a coded slice's data begins: the parameter sets
 * and slice header fields whose lengths depend on them. Subsample encryption (ISO/IEC 23001-7 §10.2,
 * the HLS SAMPLE-AES rules) must leave the NAL header and the whole slice header in the clear, so a
 * decoder can parse them before the CDM has decrypted anything.
 */

/** The sequence parameter set fields a slice header depends on (§7.3.2.1.1). */
export interface Sps {
  id: number;
  chromaArrayType: number;
  log2MaxFrameNum: number;
  picOrderCntType: number;
  log2MaxPocLsb: number;
  deltaPicOrderAlwaysZero: boolean;
  frameMbsOnly: boolean;
  separateColourPlane: boolean;
}

/** The picture parameter set fields a slice header depends on (§7.3.2.2). */
export interface Pps {
  id: number;
  spsId: number;
  entropyCodingMode: boolean;
  bottomFieldPicOrderInFramePresent: boolean;
  numSliceGroups: number;
  numRefIdxL0Default: number;
  numRefIdxL1Default: number;
  weightedPred: boolean;
  weightedBipredIdc: number;
  deblockingFilterControlPresent: boolean;
  redundantPicCntPresent: boolean;
}

/** NAL unit types (§7.4.1, Table 7-1). */
export const NAL = { SLICE: 1, IDR: 5, SEI: 6, SPS: 7, PPS: 8, AUD: 9 } as const;

/** Profiles whose SPS carries chroma_format_idc and bit depths (§7.3.2.1.1). */
const HIGH_PROFILES = new Set([100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135]);

/** The bytes a slice header parse reads at most: headers with long weight tables stay far below. */
const MAX_HEADER_SCAN = 1024;

/**
 * Exp-Golomb bit reader over a NAL unit's RBSP, removing emulation prevention bytes (0x000003) as it
 * goes, so a header parse touches only the bytes the header occupies; it knows the NAL offset just past
 * the last bit read.
 */
class RbspReader {
  /** Next NAL byte to load. */
  private pos: number;
  private zeros = 0;
  private byte = 0;
  /** Bits of `byte` not read yet. */
  private left = 0;

  constructor(
    private readonly nal: Buffer,
    start: number,
    private readonly end: number,
  ) {
    this.pos = start;
  }

  private load(): void {
    if (this.pos >= this.end) throw new RangeError('slice header runs past the scanned bytes');
    let b = this.nal[this.pos++];
    if (this.zeros >= 2 && b === 3) {
      this.zeros = 0;
      if (this.pos >= this.end) throw new RangeError('slice header runs past the scanned bytes');
      b = this.nal[this.pos++];
    }
    this.zeros = b === 0 ? this.zeros + 1 : 0;
    this.byte = b;
    this.left = 8;
  }

  u(n: number): number {
    let v = 0;
    for (let i = 0; i < n; i++) {
      if (this.left === 0) this.load();
      this.left--;
      v = v * 2 + ((this.byte >> this.left) & 1);
    }
    return v;
  }

  flag(): boolean {
    return this.u(1) === 1;
  }

  ue(): number {
    let zeros = 0;
    while (this.u(1) === 0) {
      if (++zeros > 31) throw new RangeError('exp-Golomb code longer than 32 bits');
    }
    return zeros === 0 ? 0 : 2 ** zeros - 1 + this.u(zeros);
  }

  se(): number {
    const k = this.ue();
    return k % 2 === 1 ? (k + 1) / 2 : -(k / 2);
  }

  /** NAL byte offset just past the last bit read (a partly read byte counts as read). */
  nalOffsetAfter(): number {
    return this.pos;
  }
}

function skipScalingList(r: RbspReader, size: number): void {
  let last = 8;
  let next = 8;
  for (let j = 0; j < size; j++) {
    if (next !== 0) next = (last + r.se() + 256) % 256;
    last = next === 0 ? last : next;
  }
}

/** Parses an SPS NAL unit (header byte included). */
export function parseSps(nal: Buffer): Sps {
  const r = new RbspReader(nal, 1, Math.min(nal.length, MAX_HEADER_SCAN));
  const profile = r.u(8);
  r.u(16); // constraint flags, level_idc
  const id = r.ue();
  let chromaFormatIdc = 1;
  let separateColourPlane = false;
  if (HIGH_PROFILES.has(profile)) {
    chromaFormatIdc = r.ue();
    if (chromaFormatIdc === 3) separateColourPlane = r.flag();
    r.ue(); // bit_depth_luma_minus8
    r.ue(); // bit_depth_chroma_minus8
    r.flag(); // qpprime_y_zero_transform_bypass_flag
    if (r.flag()) {
      for (let i = 0; i < (chromaFormatIdc !== 3 ? 8 : 12); i++) if (r.flag()) skipScalingList(r, i < 6 ? 16 : 64);
    }
  }
  const log2MaxFrameNum = r.ue() + 4;
  const picOrderCntType = r.ue();
  let log2MaxPocLsb = 0;
  let deltaPicOrderAlwaysZero = false;
  if (picOrderCntType === 0) log2MaxPocLsb = r.ue() + 4;
  else if (picOrderCntType === 1) {
    deltaPicOrderAlwaysZero = r.flag();
    r.se(); // offset_for_non_ref_pic
    r.se(); // offset_for_top_to_bottom_field
    const n = r.ue();
    for (let i = 0; i < n; i++) r.se();
  }
  r.ue(); // max_num_ref_frames
  r.flag(); // gaps_in_frame_num_value_allowed_flag
  r.ue(); // pic_width_in_mbs_minus1
  r.ue(); // pic_height_in_map_units_minus1
  const frameMbsOnly = r.flag();
  return { id, chromaArrayType: separateColourPlane ? 0 : chromaFormatIdc, log2MaxFrameNum, picOrderCntType, log2MaxPocLsb, deltaPicOrderAlwaysZero, frameMbsOnly, separateColourPlane };
}

/** Parses a PPS NAL unit (header byte included). */
export function parsePps(nal: Buffer): Pps {
  const r = new RbspReader(nal, 1, Math.min(nal.length, MAX_HEADER_SCAN));
  const id = r.ue();
  const spsId = r.ue();
  const entropyCodingMode = r.flag();
  const bottomFieldPicOrderInFramePresent = r.flag();
  const numSliceGroups = r.ue() + 1;
  if (numSliceGroups > 1) {
    // Slice groups (Baseline FMO) are not produced by any encoder the ladder runs; the fields after them are not needed.
    return { id, spsId, entropyCodingMode, bottomFieldPicOrderInFramePresent, numSliceGroups, numRefIdxL0Default: 1, numRefIdxL1Default: 1, weightedPred: false, weightedBipredIdc: 0, deblockingFilterControlPresent: true, redundantPicCntPresent: false };
  }
  const numRefIdxL0Default = r.ue() + 1;
  const numRefIdxL1Default = r.ue() + 1;
  const weightedPred = r.flag();
  const weightedBipredIdc = r.u(2);
  r.se(); // pic_init_qp_minus26
  r.se(); // pic_init_qs_minus26
  r.se(); // chroma_qp_index_offset
  const deblockingFilterControlPresent = r.flag();
  r.flag(); // constrained_intra_pred_flag
  const redundantPicCntPresent = r.flag();
  return { id, spsId, entropyCodingMode, bottomFieldPicOrderInFramePresent, numSliceGroups, numRefIdxL0Default, numRefIdxL1Default, weightedPred, weightedBipredIdc, deblockingFilterControlPresent, redundantPicCntPresent };
}

/** The parameter sets in force for a track: from avcC, updated by in-band SPS/PPS NAL units. */
export class H264ParameterSets {
  private readonly sps = new Map<number, Sps>();
  private readonly pps = new Map<number, Pps>();

  /** Reads the SPS and PPS of an AVCDecoderConfigurationRecord (ISO/IEC 14496-15 §5.3.3.1). */
  static fromAvcC(avcC: Buffer): H264ParameterSets {
    const sets = new H264ParameterSets();
    let p = 5;
    const numSps = avcC[p++] & 0x1f;
    for (let i = 0; i < numSps; i++) {
      const len = avcC.readUInt16BE(p);
      sets.add(avcC.subarray(p + 2, p + 2 + len));
      p += 2 + len;
    }
    const numPps = avcC[p++];
    for (let i = 0; i < numPps; i++) {
      const len = avcC.readUInt16BE(p);
      sets.add(avcC.subarray(p + 2, p + 2 + len));
      p += 2 + len;
    }
    return sets;
  }

  /** Takes an SPS or PPS NAL unit; other types are ignored. */
  add(nal: Buffer): void {
    const type = nal[0] & 0x1f;
    if (type === NAL.SPS) {
      const s = parseSps(nal);
      this.sps.set(s.id, s);
    } else if (type === NAL.PPS) {
      const p = parsePps(nal);
      this.pps.set(p.id, p);
    }
  }

  /**
   * Bytes of a coded slice NAL unit (from its header byte) that its NAL header and slice header
   * occupy, rounded up to a whole byte (§7.3.3). Undefined when the parameter sets it names are
   * unknown or it uses slice groups.
   */
  sliceHeaderBytes(nal: Buffer): number | undefined {
    const nalType = nal[0] & 0x1f;
    const nalRefIdc = (nal[0] >> 5) & 0x3;
    const idr = nalType === NAL.IDR;
    const r = new RbspReader(nal, 1, Math.min(nal.length, MAX_HEADER_SCAN));
    try {
      r.ue(); // first_mb_in_slice
      const sliceType = r.ue() % 5;
      const pps = this.pps.get(r.ue());
      const sps = pps && this.sps.get(pps.spsId);
      if (!pps || !sps || pps.numSliceGroups > 1) return undefined;
      const P = 0, B = 1, I = 2, SP = 3, SI = 4;
      if (sps.separateColourPlane) r.u(2);
      r.u(sps.log2MaxFrameNum);
      let field = false;
      if (!sps.frameMbsOnly) {
        field = r.flag();
        if (field) r.flag();
      }
      if (idr) r.ue();
      if (sps.picOrderCntType === 0) {
        r.u(sps.log2MaxPocLsb);
        if (pps.bottomFieldPicOrderInFramePresent && !field) r.se();
      }
      if (sps.picOrderCntType === 1 && !sps.deltaPicOrderAlwaysZero) {
        r.se();
        if (pps.bottomFieldPicOrderInFramePresent && !field) r.se();
      }
      if (pps.redundantPicCntPresent) r.ue();
      if (sliceType === B) r.flag(); // direct_spatial_mv_pred_flag
      let l0 = pps.numRefIdxL0Default;
      let l1 = pps.numRefIdxL1Default;
      if (sliceType === P || sliceType === SP || sliceType === B) {
        if (r.flag()) {
          l0 = r.ue() + 1;
          if (sliceType === B) l1 = r.ue() + 1;
        }
      }
      // ref_pic_list_modification (§7.3.3.1)
      const modifications = () => {
        if (!r.flag()) return;
        for (let idc = r.ue(); idc !== 3; idc = r.ue()) {
          if (idc > 5) throw new RangeError(`modification_of_pic_nums_idc ${idc}`);
          r.ue();
        }
      };
      if (sliceType !== I && sliceType !== SI) modifications();
      if (sliceType === B) modifications();
      // pred_weight_table (§7.3.3.2)
      if ((pps.weightedPred && (sliceType === P || sliceType === SP)) || (pps.weightedBipredIdc === 1 && sliceType === B)) {
        r.ue();
        if (sps.chromaArrayType !== 0) r.ue();
        const table = (n: number) => {
          for (let i = 0; i < n; i++) {
            if (r.flag()) {
              r.se();
              r.se();
            }
            if (sps.chromaArrayType !== 0 && r.flag()) for (let j = 0; j < 4; j++) r.se();
          }
        };
        table(l0);
        if (sliceType === B) table(l1);
      }
      // dec_ref_pic_marking (§7.3.3.3)
      if (nalRefIdc !== 0) {
        if (idr) r.u(2);
        else if (r.flag()) {
          for (let op = r.ue(); op !== 0; op = r.ue()) {
            if (op > 6) throw new RangeError(`memory_management_control_operation ${op}`);
            if (op === 1 || op === 3) r.ue();
            if (op === 2) r.ue();
            if (op === 3 || op === 6) r.ue();
            if (op === 4) r.ue();
          }
        }
      }
      if (pps.entropyCodingMode && sliceType !== I && sliceType !== SI) r.ue(); // cabac_init_idc
      r.se(); // slice_qp_delta
      if (sliceType === SP || sliceType === SI) {
        if (sliceType === SP) r.flag();
        r.se();
      }
      if (pps.deblockingFilterControlPresent && r.ue() !== 1) {
        r.se();
        r.se();
      }
      return r.nalOffsetAfter();
    } catch {
      return undefined;
    }
  }
}
