import { describe, expect, it } from 'vitest';
import { audioCodecName, avcSpsFromSequenceHeader, parseAacSequenceHeader, videoCodecName } from './media-info.js';

describe('media-info', () => {
  it('names FLV and Enhanced RTMP video codecs', () => {
    expect(videoCodecName(7)).toBe('h264');
    expect(videoCodecName(Buffer.from('hvc1').readUInt32BE())).toBe('hevc');
    expect(videoCodecName(Buffer.from('av01').readUInt32BE())).toBe('av1');
    expect(videoCodecName(99)).toBe('flv-99');
  });

  it('names audio codecs from the tag body', () => {
    expect(audioCodecName(Buffer.from([0xaf, 0x01]))).toBe('aac');
    expect(audioCodecName(Buffer.from([0x2f, 0x00]))).toBe('mp3');
    expect(audioCodecName(Buffer.concat([Buffer.from([0x90]), Buffer.from('Opus')]))).toBe('opus');
    expect(audioCodecName(Buffer.alloc(0))).toBe('unknown');
  });

  it('reads AAC AudioSpecificConfig: LC 48 kHz stereo, LC 44.1 kHz mono', () => {
    // 0x11 0x90: object type 2 (LC), frequency index 3 (48000), channels 2.
    expect(parseAacSequenceHeader(Buffer.from([0xaf, 0x00, 0x11, 0x90]))).toEqual({ sampleRate: 48000, channels: 2 });
    // 0x12 0x08: object type 2, frequency index 4 (44100), channels 1.
    expect(parseAacSequenceHeader(Buffer.from([0xaf, 0x00, 0x12, 0x08]))).toEqual({ sampleRate: 44100, channels: 1 });
    expect(parseAacSequenceHeader(Buffer.from([0xaf, 0x01, 0x12, 0x08]))).toBeNull();
    expect(parseAacSequenceHeader(Buffer.from([0xaf, 0x00, 0xff]))).toBeNull();
  });

  it('finds the SPS in an AVC sequence header and rejects short ones', () => {
    const sps = Buffer.from([0x67, 0x64, 0x00, 0x0d, 0xac, 0xd9]);
    const avcc = Buffer.concat([Buffer.from([0x01, 0x64, 0x00, 0x0d, 0xff, 0xe1, 0x00, sps.length]), sps, Buffer.from([0x01, 0x00, 0x02, 0x68, 0xeb])]);
    const body = Buffer.concat([Buffer.from([0x17, 0x00, 0x00, 0x00, 0x00]), avcc]);
    expect(avcSpsFromSequenceHeader(body)).toEqual(sps);
    expect(avcSpsFromSequenceHeader(body.subarray(0, 15))).toBeNull();
    expect(avcSpsFromSequenceHeader(Buffer.from([0x27, 0x01]))).toBeNull();
  });
});
