import { describe, expect, it } from 'vitest';
import { toWebVtt } from './captions.js';

describe('caption files', () => {
  it('converts SRT to WebVTT: cue numbers dropped, comma timestamps made dots, CRLF normalised', () => {
    const srt = '1\r\n00:00:01,000 --> 00:00:03,500\r\nHello\r\n\r\n2\r\n00:00:04,000 --> 00:00:06,000\r\nWorld\r\n';
    expect(toWebVtt(srt, 'srt')).toBe('WEBVTT\n\n00:00:01.000 --> 00:00:03.500\nHello\n\n00:00:04.000 --> 00:00:06.000\nWorld\n');
  });

  it('keeps WebVTT as it is once it has a header and a cue', () => {
    const vtt = 'WEBVTT\n\n00:01.000 --> 00:02.000\nHi\n';
    expect(toWebVtt(vtt, 'vtt')).toBe(vtt);
  });

  it('refuses files that are not captions with CAPTIONS_INVALID and the reason', () => {
    expect(() => toWebVtt('00:01.000 --> 00:02.000\nno header', 'vtt')).toThrow(/starts with a "WEBVTT" line/);
    expect(() => toWebVtt('WEBVTT\n\nNOTE nothing here\n', 'vtt')).toThrow(/no cue/);
    expect(() => toWebVtt('just some text\nand more', 'srt')).toThrow(/not an SRT cue/);
    try {
      toWebVtt('x', 'srt');
    } catch (err) {
      expect((err as { code: string; status: number }).code).toBe('CAPTIONS_INVALID');
      expect((err as { status: number }).status).toBe(400);
    }
  });
});
