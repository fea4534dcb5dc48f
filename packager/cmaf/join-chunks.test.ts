import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { Fmp4StreamParser, type Fmp4Fragment, type Fmp4Init } from './fmp4-stream-parser.js';
import { joinChunks } from './join-chunks.js';
import { readFragmentSamples } from './moof.js';

/** 2 s of AAC as the live ladder writes it: one moof per AAC frame. */
function liveAac(): { init: Fmp4Init; fragments: Fmp4Fragment[]; bytes: Buffer } {
  const bytes = execFileSync('ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-t', '2', '-i', 'sine=frequency=440:sample_rate=48000',
    '-c:a', 'aac', '-b:a', '64k', '-ac', '2', '-movflags', 'empty_moov+default_base_moof+frag_every_frame', '-f', 'mp4', 'pipe:1',
  ]);
  const parser = new Fmp4StreamParser();
  let init: Fmp4Init | undefined;
  const fragments: Fmp4Fragment[] = [];
  parser.on('init', (i) => (init = i));
  parser.on('fragment', (f) => fragments.push({ ...f, bytes: Buffer.from(f.bytes) }));
  parser.push(bytes);
  return { init: init!, fragments, bytes };
}

describe('joinChunks', () => {
  it('joins one-frame AAC chunks into one chunk with the same samples, a third of the overhead gone, and ffmpeg decodes it', () => {
    const { init, fragments } = liveAac();
    const part = fragments.slice(0, 16);
    const joined = joinChunks(part.map((f) => f.bytes), init.defaults);
    const byTrack = new Map([[init.defaults.trackId, init.defaults]]);
    const run = readFragmentSamples(joined, byTrack).trafs[0];
    const original = part.flatMap((f) => {
      const r = readFragmentSamples(f.bytes, byTrack).trafs[0];
      return r.samples.map((s) => ({ data: f.bytes.subarray(s.offset, s.offset + s.size).toString('hex'), duration: s.duration, sync: s.sync }));
    });
    expect(run.baseMediaDecodeTime).toBe(part[0].decodeTime);
    expect(run.samples.map((s) => ({ data: joined.subarray(s.offset, s.offset + s.size).toString('hex'), duration: s.duration, sync: s.sync }))).toEqual(original);
    const before = part.reduce((a, f) => a + f.bytes.length, 0);
    const payload = original.reduce((a, s) => a + s.data.length / 2, 0);
    // Headers shrink from ~100 bytes per frame to one moof.
    expect(joined.length - payload).toBeLessThan((before - payload) / 5);
    // The whole stream re-chunked 16 frames at a time still decodes, start to end.
    const rechunked: Buffer[] = [init.bytes];
    for (let i = 0; i < fragments.length; i += 16) rechunked.push(joinChunks(fragments.slice(i, i + 16).map((f) => f.bytes), init.defaults));
    const decoded = execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-i', 'pipe:0', '-f', 's16le', '-ac', '1', 'pipe:1'], { input: Buffer.concat(rechunked), maxBuffer: 1 << 24 });
    expect(decoded.length / 2 / 48000).toBeCloseTo(2, 1);
  });

  it('leaves a single chunk as it is', () => {
    const { init, fragments } = liveAac();
    expect(joinChunks([fragments[0].bytes], init.defaults)).toBe(fragments[0].bytes);
  });
});
