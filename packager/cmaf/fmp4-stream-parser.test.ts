import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { iterateBoxes } from './box-reader.js';
import { box, buildFragment, fullBox, largeBox, u32, u64, SYNC_SAMPLE_FLAGS } from './box-writer.js';
import { CmafError } from './errors.js';
import { Fmp4StreamParser, type Fmp4Fragment, type Fmp4Init } from './fmp4-stream-parser.js';

const fixture = (name: string) => readFileSync(new URL(`./__fixtures__/${name}`, import.meta.url));
const VIDEO = fixture('video-320x180.mp4');
const AUDIO = fixture('audio-aac.mp4');

/** Deterministic PRNG so a failing chunking is reproducible. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

function parseAll(bytes: Buffer, chunkSize: (i: number) => number, complete = true): { init?: Fmp4Init; inits: number; fragments: Fmp4Fragment[] } {
  const parser = new Fmp4StreamParser();
  const out: { init?: Fmp4Init; inits: number; fragments: Fmp4Fragment[] } = { inits: 0, fragments: [] };
  parser.on('init', (i) => {
    out.init = i;
    out.inits++;
  });
  parser.on('fragment', (f) => out.fragments.push(f));
  for (let pos = 0, i = 0; pos < bytes.length; i++) {
    const n = Math.max(1, chunkSize(i));
    parser.push(bytes.subarray(pos, pos + n));
    pos += n;
  }
  if (complete) {
    parser.end();
    expect(parser.bufferedBytes).toBe(0);
  }
  return out;
}

describe('Fmp4StreamParser on FFmpeg 5.1 output (frag_every_frame)', () => {
  it('emits the video init with codec string, size and timescale', () => {
    const { init, inits } = parseAll(VIDEO, () => 65536);
    expect(inits).toBe(1);
    expect(init!.track).toEqual({ trackId: 1, timescale: 15360, kind: 'video', codec: 'avc1.64000d', width: 320, height: 180, nalLengthSize: 4 });
    expect(init!.fileType?.majorBrand).toBe('iso5');
    const types = [...iterateBoxes(init!.bytes)].map((b) => b.type);
    expect(types).toEqual(['ftyp', 'moov']);
  });

  it('emits one fragment per frame, keyframes every 2 s, contiguous decode times', () => {
    const { fragments } = parseAll(VIDEO, () => 65536);
    expect(fragments).toHaveLength(90);
    expect(fragments.flatMap((f, i) => (f.keyframe ? [i] : []))).toEqual([0, 60]);
    expect(fragments.every((f) => f.duration === 512 && f.sampleCount === 1)).toBe(true);
    fragments.forEach((f, i) => {
      expect(f.decodeTime).toBe(i * 512);
      expect(f.sequenceNumber).toBe(i + 1);
    });
  });

  it('emits the audio init and 1024-sample AAC fragments, all sync', () => {
    const { init, fragments } = parseAll(AUDIO, () => 65536);
    expect(init!.track).toEqual({ trackId: 1, timescale: 48000, kind: 'audio', codec: 'mp4a.40.2', sampleRate: 48000, channels: 2 });
    expect(fragments).toHaveLength(142);
    expect(fragments.every((f) => f.keyframe)).toBe(true);
    expect(fragments.slice(0, -1).every((f) => f.duration === 1024)).toBe(true);
    expect(fragments.at(-1)!.decodeTime).toBe(141 * 1024);
  });

  it('reproduces the input byte for byte: init + fragments == file without its mfra', () => {
    for (const file of [VIDEO, AUDIO]) {
      const { init, fragments } = parseAll(file, () => 4096);
      const mfra = [...iterateBoxes(file)].find((b) => b.type === 'mfra')!;
      expect(mfra.end).toBe(file.length);
      expect(Buffer.concat([init!.bytes, ...fragments.map((f) => f.bytes)]).equals(file.subarray(0, mfra.start))).toBe(true);
    }
  });

  it('gives identical results whatever the chunking (random sizes, single bytes, one buffer)', () => {
    const summary = (r: ReturnType<typeof parseAll>) => ({
      init: r.init!.bytes.toString('hex'),
      fragments: r.fragments.map((f) => [f.decodeTime, f.duration, f.keyframe, f.sampleCount, f.bytes.toString('base64')]),
    });
    for (const file of [VIDEO, AUDIO]) {
      const reference = summary(parseAll(file, () => file.length));
      for (const seed of [1, 2, 3]) {
        const next = rng(seed);
        expect(summary(parseAll(file, () => Math.floor(next() * 3000)))).toEqual(reference);
      }
      // Byte by byte over a prefix: the same fragments up to the cut.
      const prefix = summary(parseAll(file.subarray(0, 20_000), () => 1, false));
      expect(prefix.init).toBe(reference.init);
      expect(prefix.fragments.length).toBeGreaterThan(10);
      expect(prefix.fragments).toEqual(reference.fragments.slice(0, prefix.fragments.length));
    }
  });

  it('buffers no more than one box at a time', () => {
    const parser = new Fmp4StreamParser();
    let peak = 0;
    for (let pos = 0; pos < VIDEO.length; pos += 1000) {
      parser.push(VIDEO.subarray(pos, pos + 1000));
      peak = Math.max(peak, parser.bufferedBytes);
    }
    const largest = Math.max(...[...iterateBoxes(VIDEO)].map((b) => b.end - b.start));
    expect(peak).toBeLessThan(largest + 1000 + 200);
  });

  it('passes prft through as the chunk prefix and reads its wall clock', () => {
    const { init } = parseAll(VIDEO, () => 65536);
    const ntpSeconds = 2_208_988_800 + 1_700_000_000;
    const prft = fullBox('prft', 1, 0, u32(1), u32(ntpSeconds), u32(2 ** 31), u64(1024));
    const frag = buildFragment({ sequenceNumber: 1, trackId: 1, baseMediaDecodeTime: 1024, samples: [{ data: Buffer.alloc(10), duration: 512, flags: SYNC_SAMPLE_FLAGS }] });
    const got = parseAll(Buffer.concat([init!.bytes, prft, frag]), () => 7).fragments;
    expect(got).toHaveLength(1);
    expect(got[0].bytes.equals(Buffer.concat([prft, frag]))).toBe(true);
    expect(got[0].producerReference).toEqual({ trackId: 1, wallClockMs: 1_700_000_000_500, mediaTime: 1024 });
  });

  it('takes a trailing size-0 mdat as running to the end of the stream', () => {
    const { init } = parseAll(VIDEO, () => 65536);
    const frag = buildFragment({ sequenceNumber: 1, trackId: 1, baseMediaDecodeTime: 0, samples: [{ data: Buffer.from('abcd'), duration: 512, flags: SYNC_SAMPLE_FLAGS }] });
    const toEnd = Buffer.from(frag);
    toEnd.writeUInt32BE(0, toEnd.indexOf('mdat') - 4);
    const got = parseAll(Buffer.concat([init!.bytes, toEnd]), () => 3).fragments;
    expect(got.map((f) => f.bytes.equals(toEnd))).toEqual([true]);
  });

  it('accepts 64-bit largesize boxes and ignores file-level boxes (styp, sidx, free)', () => {
    const { init } = parseAll(VIDEO, () => 65536);
    const frag = buildFragment({ sequenceNumber: 1, trackId: 1, baseMediaDecodeTime: 0, samples: [{ data: Buffer.from('abc'), duration: 512, flags: SYNC_SAMPLE_FLAGS }] });
    const [moof, mdat] = [...iterateBoxes(frag)];
    const largeMdat = largeBox('mdat', frag.subarray(mdat.payloadStart));
    // data_offset counts from the moof start; the 8 extra header bytes of the largesize mdat shift the sample.
    const moofBytes = Buffer.from(frag.subarray(moof.start, moof.end));
    const trunAt = moofBytes.indexOf('trun') - 4;
    moofBytes.writeInt32BE(moofBytes.readInt32BE(trunAt + 16) + 8, trunAt + 16);
    const stream = Buffer.concat([init!.bytes, box('styp', Buffer.from('msdh')), box('free'), moofBytes, largeMdat]);
    const got = parseAll(stream, () => 5).fragments;
    expect(got).toHaveLength(1);
    expect(got[0].bytes.equals(Buffer.concat([moofBytes, largeMdat]))).toBe(true);
  });

  it('rejects malformed streams with coded errors', () => {
    const frag = buildFragment({ sequenceNumber: 1, trackId: 1, samples: [{ data: Buffer.alloc(4) }] });
    const fail = (bytes: Buffer, config = {}) => {
      const p = new Fmp4StreamParser(config);
      try {
        p.push(bytes);
        p.end();
      } catch (err) {
        expect(err).toBeInstanceOf(CmafError);
        return (err as CmafError).code;
      }
      return 'no error';
    };
    expect(fail(frag)).toBe('UNEXPECTED_BOX'); // moof before moov
    expect(fail(VIDEO, { maxBoxBytes: 1000 })).toBe('BOX_TOO_LARGE');
    expect(fail(VIDEO.subarray(0, 5000))).toBe('BOX_TRUNCATED');
    const moofEnd = [...iterateBoxes(VIDEO)].find((b) => b.type === 'moof')!.end;
    expect(fail(VIDEO.subarray(0, moofEnd))).toBe('BOX_TRUNCATED'); // moof, then the stream ends
    expect(fail(Buffer.from([0, 0, 0, 4, 0x6d, 0x6f, 0x6f, 0x76]))).toBe('BOX_INVALID');
    // A size-0 ("to the end") box may not buffer past the limit while the stream goes on.
    expect(fail(Buffer.concat([u32(0), Buffer.from('free'), Buffer.alloc(2000)]), { maxBoxBytes: 1000 })).toBe('BOX_TOO_LARGE');
    // A trun whose sample count is absurd, with every field defaulted, is refused rather than allocated.
    const init = parseAll(VIDEO, () => 65536).init!.bytes;
    const bogus = Buffer.from(frag);
    bogus.writeUInt32BE(0xffffffff, bogus.indexOf('trun') + 8);
    expect(fail(Buffer.concat([init, bogus]))).toBe('BOX_INVALID');
  });

  it('parses a live FFmpeg pipe as the bytes arrive', async () => {
    const ff = spawn('ffmpeg', [
      ...['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=160x90:rate=25', '-t', '1'],
      ...['-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-g', '25', '-pix_fmt', 'yuv420p'],
      ...['-movflags', 'empty_moov+default_base_moof+frag_every_frame', '-flush_packets', '1', '-f', 'mp4', 'pipe:1'],
    ]);
    const parser = new Fmp4StreamParser();
    const fragments: Fmp4Fragment[] = [];
    let init: Fmp4Init | undefined;
    parser.on('init', (i) => (init = i));
    parser.on('fragment', (f) => fragments.push(f));
    let chunks = 0;
    ff.stdout.on('data', (c: Buffer) => {
      chunks++;
      parser.push(c);
    });
    await new Promise((resolve, reject) => ff.on('close', (code) => (code === 0 ? resolve(code) : reject(new Error(`ffmpeg exited ${code}`)))));
    parser.end();
    expect(chunks).toBeGreaterThan(1);
    expect(init!.track).toMatchObject({ kind: 'video', width: 160, height: 90, codec: expect.stringMatching(/^avc1\.[0-9a-f]{6}$/) });
    expect(fragments).toHaveLength(25);
    expect(fragments[0].keyframe).toBe(true);
  });
});
