/**
 * Caption uploads: WebVTT is checked, SRT converted to WebVTT (comma to dot in timestamps, cue
 * numbers dropped), and either must hold at least one well-formed cue. What players get is always
 * WebVTT, listed as HLS SUBTITLES and as a DASH text AdaptationSet.
 */
import { badRequest } from '../http/http-errors.js';

/** Largest caption file accepted, bytes. */
export const CAPTIONS_MAX_BYTES = 2 * 1024 * 1024;

const TIMING = /^(\d{1,3}:)?\d{2}:\d{2}[.,]\d{3}\s+-->\s+(\d{1,3}:)?\d{2}:\d{2}[.,]\d{3}/;

/** The text as WebVTT; 400 CAPTIONS_INVALID (with the reason) for anything that is not a caption file. */
export function toWebVtt(text: string, format: 'vtt' | 'srt'): string {
  if (Buffer.byteLength(text) > CAPTIONS_MAX_BYTES) throw badRequest('CAPTIONS_INVALID', `captions are at most ${CAPTIONS_MAX_BYTES} bytes`);
  const normalised = text.replace(/^\uFEFF/, '').replace(/\r\n?/g, '\n');
  let vtt: string;
  if (format === 'vtt') {
    if (!/^WEBVTT(?:[ \t][^\n]*)?(?:\n|$)/.test(normalised)) throw badRequest('CAPTIONS_INVALID', 'a WebVTT file starts with a "WEBVTT" line');
    vtt = normalised;
  } else {
    const blocks = normalised.trim().split(/\n{2,}/);
    const cues = blocks.map((block) => {
      const lines = block.split('\n');
      if (/^\d+$/.test(lines[0]?.trim() ?? '')) lines.shift();
      if (!TIMING.test(lines[0] ?? '')) throw badRequest('CAPTIONS_INVALID', `not an SRT cue: "${block.slice(0, 60)}"`);
      lines[0] = lines[0].replace(/(\d{2}),(\d{3})/g, '$1.$2');
      return lines.join('\n');
    });
    vtt = `WEBVTT\n\n${cues.join('\n\n')}\n`;
  }
  const cueCount = vtt.split('\n').filter((l) => TIMING.test(l)).length;
  if (cueCount === 0) throw badRequest('CAPTIONS_INVALID', 'the captions have no cue (a "00:00:01.000 --> 00:00:03.000" line and its text)');
  return vtt;
}
