import { BoxCursor, childBoxes, findChild, type Box } from './box-reader.js';

/** What a sample entry (stsd child) tells about the codec, for CODECS (RFC 6381) and RESOLUTION. */
export interface SampleEntryInfo {
  /** Sample entry type as written (avc1, mp4a, encv, ...). */
  format: string;
  /** RFC 6381 codec string, e.g. `avc1.64001f`, `mp4a.40.2`; the bare fourcc when not understood. */
  codec: string;
  width?: number;
  height?: number;
  sampleRate?: number;
  channels?: number;
  /** H.264 NAL unit length field size (avcC lengthSizeMinusOne + 1), needed for subsample encryption. */
  nalLengthSize?: number;
}

/** MPEG-4 Audio sampling frequencies by samplingFrequencyIndex (ISO/IEC 14496-3 §1.6.3.4). */
const AAC_RATES = [96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350];

/** Bytes of fixed fields before the child boxes: VisualSampleEntry (§12.1.3) and AudioSampleEntry (§12.2.3). */
export const VISUAL_ENTRY_FIELDS = 78;
export const AUDIO_ENTRY_FIELDS = 28;

/** Bytes before an audio sample entry's children: QuickTime sound description versions 1 and 2 carry 16 / 36 more. */
export function audioEntryFields(entry: Box): number {
  const version = entry.buf.readUInt16BE(entry.payloadStart + 8);
  return AUDIO_ENTRY_FIELDS + (version === 1 ? 16 : version === 2 ? 36 : 0);
}

const hex2 = (n: number) => n.toString(16).padStart(2, '0');

/** Parses one sample entry box; encrypted entries (encv/enca) report their original format (sinf/frma). */
export function parseSampleEntry(entry: Box, handler: string): SampleEntryInfo {
  const c = BoxCursor.of(entry);
  if (handler === 'vide') {
    c.skip(24);
    const width = c.u16();
    const height = c.u16();
    const children = childBoxes(entry, VISUAL_ENTRY_FIELDS);
    const format = originalFormat(entry.type, children);
    const info: SampleEntryInfo = { format: entry.type, codec: format, width, height };
    const avcC = children.find((b) => b.type === 'avcC');
    if (avcC && (format === 'avc1' || format === 'avc3')) {
      const a = BoxCursor.of(avcC);
      a.skip(1); // configurationVersion
      const profile = a.u8();
      const compat = a.u8();
      const level = a.u8();
      info.nalLengthSize = (a.u8() & 0x3) + 1;
      info.codec = `${format}.${hex2(profile)}${hex2(compat)}${hex2(level)}`;
    }
    return info;
  }
  c.skip(8);
  c.skip(2); // sound description version (audioEntryFields reads it)
  c.skip(6);
  const channels = c.u16();
  c.skip(6);
  const rate = c.u32() >>> 16;
  const children = childBoxes(entry, audioEntryFields(entry));
  const format = originalFormat(entry.type, children);
  const info: SampleEntryInfo = { format: entry.type, codec: format.toLowerCase(), channels, sampleRate: rate || undefined };
  const wave = children.find((b) => b.type === 'wave');
  const esds = children.find((b) => b.type === 'esds') ?? (wave ? findChild(wave, 'esds') : undefined);
  if (format === 'mp4a' && esds) Object.assign(info, parseEsds(esds));
  return info;
}

/** encv/enca keep the clear format in sinf/frma (ISO/IEC 23001-7 §4.2). */
function originalFormat(type: string, children: Box[]): string {
  if (type !== 'encv' && type !== 'enca') return type;
  const sinf = children.find((b) => b.type === 'sinf');
  const frma = sinf ? findChild(sinf, 'frma') : undefined;
  return frma ? BoxCursor.of(frma).fourcc() : type;
}

/** Reads an MPEG-4 descriptor header (ISO/IEC 14496-1 §8.3.3): tag and variable-length size. */
function descriptor(c: BoxCursor): { tag: number; size: number } {
  const tag = c.u8();
  let size = 0;
  for (let i = 0; i < 4; i++) {
    const b = c.u8();
    size = (size << 7) | (b & 0x7f);
    if (!(b & 0x80)) break;
  }
  return { tag, size };
}

/** esds → codec string, sample rate and channels from the DecoderConfigDescriptor and AudioSpecificConfig. */
function parseEsds(esds: Box): Partial<SampleEntryInfo> {
  const c = BoxCursor.of(esds);
  c.fullBoxHeader();
  const es = descriptor(c);
  if (es.tag !== 0x03) return {};
  c.skip(2); // ES_ID
  const flags = c.u8();
  if (flags & 0x80) c.skip(2); // dependsOn_ES_ID
  if (flags & 0x40) c.skip(c.u8()); // URL
  if (flags & 0x20) c.skip(2); // OCR_ES_Id
  const dc = descriptor(c);
  if (dc.tag !== 0x04) return {};
  const oti = c.u8();
  c.skip(12); // streamType, bufferSizeDB, maxBitrate, avgBitrate
  if (oti !== 0x40) return { codec: `mp4a.${hex2(oti)}` };
  const dsi = descriptor(c);
  if (dsi.tag !== 0x05 || dsi.size < 2) return { codec: 'mp4a.40.2' };
  const asc = parseAudioSpecificConfig(c.bytes(dsi.size));
  return { codec: `mp4a.40.${asc.objectType}`, sampleRate: asc.sampleRate, ...(asc.channels ? { channels: asc.channels } : {}) };
}

/** AudioSpecificConfig (ISO/IEC 14496-3 §1.6.2.1), enough for the codec string and output rate. */
export function parseAudioSpecificConfig(bytes: Buffer): { objectType: number; sampleRate?: number; channels: number } {
  let bitPos = 0;
  const bits = (n: number): number => {
    let v = 0;
    for (let i = 0; i < n; i++, bitPos++) {
      const byte = bytes[bitPos >> 3] ?? 0;
      v = v * 2 + ((byte >> (7 - (bitPos & 7))) & 1);
    }
    return v;
  };
  const objectTypeOf = () => {
    const t = bits(5);
    return t === 31 ? 32 + bits(6) : t;
  };
  const rateOf = () => {
    const index = bits(4);
    return index === 0xf ? bits(24) : AAC_RATES[index];
  };
  const objectType = objectTypeOf();
  let sampleRate = rateOf();
  const channels = bits(4);
  // Explicit SBR/PS signalling (HE-AAC v1/v2): the extension rate is what the decoder outputs.
  if (objectType === 5 || objectType === 29) sampleRate = rateOf();
  return { objectType, sampleRate, channels };
}
