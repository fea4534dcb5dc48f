/**
 * What the publisher sends, read from FLV tag bodies: codec names (FLV v10.1 §E.4.2/E.4.3 plus
 * Enhanced RTMP FourCCs), AAC AudioSpecificConfig (ISO/IEC 14496-3 §1.6.2.1) and the SPS inside an
 * AVCDecoderConfigurationRecord (ISO/IEC 14496-15 §5.3.3.1). Pure functions; bounds-checked.
 */
import type { IngestAudioInfo } from './contract.js';

const FLV_VIDEO_CODECS: Record<number, string> = { 2: 'flv1', 3: 'screen', 4: 'vp6', 5: 'vp6a', 6: 'screen2', 7: 'h264', 12: 'hevc' };
const FLV_AUDIO_CODECS: Record<number, string> = {
  0: 'pcm', 1: 'adpcm', 2: 'mp3', 3: 'pcm_le', 4: 'nellymoser', 5: 'nellymoser', 6: 'nellymoser', 7: 'pcm_alaw', 8: 'pcm_mulaw', 10: 'aac', 11: 'speex',
};
const FOURCC_NAMES: Record<string, string> = { av01: 'av1', vp09: 'vp9', hvc1: 'hevc', avc1: 'h264', Opus: 'opus', 'fLaC': 'flac', '.mp3': 'mp3', 'ac-3': 'ac3', 'ec-3': 'eac3', mp4a: 'aac' };
const AAC_RATES = [96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350];

/** A FourCC packed in a uint32 (as NMS stores Enhanced RTMP codec ids) back to text. */
function fourcc(id: number): string {
  return String.fromCharCode((id >>> 24) & 0xff, (id >>> 16) & 0xff, (id >>> 8) & 0xff, id & 0xff);
}

/** Video codec name for an NMS packet codec_id (FLV id or packed FourCC). */
export function videoCodecName(codecId: number): string {
  if (codecId > 0xffff) return FOURCC_NAMES[fourcc(codecId)] ?? fourcc(codecId);
  return FLV_VIDEO_CODECS[codecId] ?? `flv-${codecId}`;
}

/** Audio codec name for an FLV audio tag body (first byte: SoundFormat; 9 = Enhanced RTMP FourCC). */
export function audioCodecName(body: Buffer): string {
  if (body.length < 1) return 'unknown';
  const format = body[0] >> 4;
  if (format === 9 && body.length >= 5) {
    const cc = body.subarray(1, 5).toString('latin1');
    return FOURCC_NAMES[cc] ?? cc;
  }
  return FLV_AUDIO_CODECS[format] ?? `flv-${format}`;
}

/** Sample rate and channels from an AAC sequence-header tag body (`AF 00 <AudioSpecificConfig>`). */
export function parseAacSequenceHeader(body: Buffer): Pick<IngestAudioInfo, 'sampleRate' | 'channels'> | null {
  if (body.length < 4 || body[0] >> 4 !== 10 || body[1] !== 0) return null;
  // 5 bits object type (31 = escape to 6 more bits), 4 bits frequency index (15 = explicit 24-bit rate),
  // then 4 bits channel configuration.
  let bits = 0;
  let pos = 16;
  const read = (n: number): number => {
    let v = 0;
    for (let i = 0; i < n; i++, pos++) {
      const byte = body[pos >> 3];
      if (byte === undefined) throw new RangeError('short AudioSpecificConfig');
      v = (v << 1) | ((byte >> (7 - (pos & 7))) & 1);
    }
    bits += n;
    return v;
  };
  try {
    if (read(5) === 31) read(6);
    const index = read(4);
    const sampleRate = index === 15 ? read(24) : AAC_RATES[index];
    const channels = read(4);
    if (!sampleRate || bits === 0) return null;
    return { sampleRate, channels: channels === 7 ? 8 : channels };
  } catch {
    return null;
  }
}

/** The first SPS NAL unit of an AVC sequence-header tag body (`17 00 000000 <avcC>`), if present. */
export function avcSpsFromSequenceHeader(body: Buffer): Buffer | null {
  // body[0] frame type/codec, [1] AVCPacketType 0, [2..4] composition time, [5..] avcC:
  // version, profile, compat, level, lengthSize, numSPS, then 16-bit length + SPS.
  if (body.length < 14 || (body[0] & 0x0f) !== 7 || body[1] !== 0 || body[5] !== 1) return null;
  const count = body[10] & 0x1f;
  if (count < 1) return null;
  const len = body.readUInt16BE(11);
  if (len < 4 || 13 + len > body.length) return null;
  return body.subarray(13, 13 + len);
}
