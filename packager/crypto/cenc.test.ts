import { execFile, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findPath, iterateBoxes } from '../cmaf/box-reader.js';
import { parseInit } from '../cmaf/boxes.js';
import { Fmp4StreamParser, type TrackDefaults } from '../cmaf/fmp4-stream-parser.js';
import { readFragmentSamples } from '../cmaf/moof.js';
import { CencTrackEncryptor, type CencTrackConfig } from './cenc-boxes.js';
import { H264ParameterSets } from './h264-slice-header.js';
import { AUDIO_PATTERN, CbcsChain, encryptCbcs, VIDEO_PATTERN, type CencScheme } from './sample-encryption.js';
import { decryptedMatching, framemd5 as pipeFramemd5 } from '../../platform/test-support/ffmpeg-decrypt.js';

const run = promisify(execFile);
const FLAGS = ['-movflags', 'empty_moov+default_base_moof+frag_every_frame', '-f', 'mp4'];

let dir: string;
let video: string;
let audio: string;

beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'cenc-'));
  video = path.join(dir, 'video.mp4');
  audio = path.join(dir, 'audio.mp4');
  // x264's defaults (B-frames, weighted P prediction, CABAC), so slice headers carry every optional part.
  await run('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=320x180:rate=30:duration=2',
    '-c:v', 'libx264', '-preset', 'medium', '-g', '30', '-bf', '3', '-b:v', '300k', '-pix_fmt', 'yuv420p', ...FLAGS, video]);
  await run('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000:duration=2',
    '-c:a', 'aac', '-b:a', '64k', '-ac', '2', ...FLAGS, audio]);
});

afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

/** The init segment and fragments of a fragmented file, as the packager's parser sees them. */
async function split(file: string): Promise<{ init: Buffer; defaults: TrackDefaults; fragments: Buffer[] }> {
  const parser = new Fmp4StreamParser();
  let init: Buffer | undefined;
  let defaults: TrackDefaults | undefined;
  const fragments: Buffer[] = [];
  parser.on('init', (i) => {
    init = i.bytes;
    defaults = i.defaults;
  });
  parser.on('fragment', (f) => fragments.push(f.bytes));
  parser.push(await fs.readFile(file));
  return { init: init!, defaults: defaults!, fragments };
}

/** Frame checksums of a file as FFmpeg decodes it (see platform/test-support/ffmpeg-decrypt.ts). */
async function framemd5(file: string, key?: Buffer): Promise<string[]> {
  return pipeFramemd5(await fs.readFile(file), key);
}

function configFor(scheme: CencScheme): CencTrackConfig {
  return { scheme, key: { kid: crypto.randomBytes(16), key: crypto.randomBytes(16) }, constantIv: crypto.randomBytes(16) };
}

/** Encrypts a file's fragments in parts of `perPart` chunks each (as the segmenter groups them) and writes the result. */
async function encryptFile(file: string, config: CencTrackConfig, perPart: number): Promise<{ out: string; clearSamples: Buffer[]; encSamples: Buffer[] }> {
  const { init, defaults, fragments } = await split(file);
  const enc = new CencTrackEncryptor(config);
  const pieces = [enc.init(init, defaults)];
  for (let i = 0; i < fragments.length; i += perPart) pieces.push(enc.fragment(Buffer.concat(fragments.slice(i, i + perPart))));
  const out = path.join(dir, `${path.basename(file, '.mp4')}-${config.scheme}-${perPart}.mp4`);
  await fs.writeFile(out, Buffer.concat(pieces));
  const samplesOf = (bytes: Buffer[]) =>
    bytes.flatMap((b) => {
      const samples: Buffer[] = [];
      let start = 0;
      for (const box of iterateBoxes(b)) {
        if (box.type === 'mdat') {
          const chunk = b.subarray(start, box.end);
          for (const s of readFragmentSamples(chunk, new Map([[defaults.trackId, defaults]])).trafs[0].samples) samples.push(chunk.subarray(s.offset, s.offset + s.size));
          start = box.end;
        }
      }
      return samples;
    });
  return { out, clearSamples: samplesOf(fragments), encSamples: samplesOf(pieces.slice(1)) };
}

describe('cbcs with one cipher per key', () => {
  it('encrypts every range exactly as a fresh cipher from the IV would', () => {
    const key = crypto.randomBytes(16);
    const iv = crypto.randomBytes(16);
    const chain = new CbcsChain(key, iv);
    for (let i = 0; i < 20; i++) {
      const sample = crypto.randomBytes(50 + i * 97);
      const subsamples = [{ clearBytes: 5, protectedBytes: sample.length - 5 - (i % 3) }, { clearBytes: i % 3, protectedBytes: 0 }];
      const a = Buffer.from(sample);
      const b = Buffer.from(sample);
      encryptCbcs(a, key, iv, i % 2 ? VIDEO_PATTERN : AUDIO_PATTERN, i % 4 ? subsamples : undefined, chain);
      encryptCbcs(b, key, iv, i % 2 ? VIDEO_PATTERN : AUDIO_PATTERN, i % 4 ? subsamples : undefined);
      expect(a.equals(b)).toBe(true);
      expect(a.equals(sample)).toBe(false);
    }
  });
});

describe('H.264 slice headers', () => {
  it('ends every slice header where FFmpeg’s own bitstream trace says it does', async () => {
    const { stderr } = await run('ffmpeg', ['-hide_banner', '-i', video, '-c', 'copy', '-bsf:v', 'trace_headers', '-f', 'null', '-'], { maxBuffer: 64 << 20 });
    // Each slice header's last traced field: bit position + field length = where slice data starts.
    const expected: number[] = [];
    let inSlice = false;
    let end = 0;
    for (const line of stderr.split('\n')) {
      if (/\] Slice Header/.test(line)) {
        if (inSlice) expected.push(Math.ceil(end / 8));
        inSlice = true;
        continue;
      }
      const m = /\] (\d+)\s+(\w+)\s+([01]+) = /.exec(line);
      if (inSlice && m) end = Number(m[1]) + m[3].length;
      else if (inSlice && /\] (Packet|Sequence|Picture|Supplemental|Access)/.test(line)) {
        expected.push(Math.ceil(end / 8));
        inSlice = false;
      }
    }
    if (inSlice) expected.push(Math.ceil(end / 8));

    const { init, fragments } = await split(video);
    const avcC = findPath([...iterateBoxes(init)].find((b) => b.type === 'moov')!, 'trak', 'mdia', 'minf', 'stbl', 'stsd')!;
    const record = avcC.buf.subarray(avcC.buf.indexOf('avcC', avcC.start) + 4, avcC.end);
    const params = H264ParameterSets.fromAvcC(record);
    const { defaults } = await split(video);
    const found: number[] = [];
    const types = new Set<number>();
    for (const f of fragments) {
      for (const s of readFragmentSamples(f, new Map([[defaults.trackId, defaults]])).trafs[0].samples) {
        const sample = f.subarray(s.offset, s.offset + s.size);
        for (let p = 0; p < sample.length; ) {
          const len = sample.readUInt32BE(p);
          const nal = sample.subarray(p + 4, p + 4 + len);
          if ((nal[0] & 0x1f) === 1 || (nal[0] & 0x1f) === 5) {
            found.push(params.sliceHeaderBytes(nal)!);
            types.add((nal[0] >> 5) & 3);
          }
          p += 4 + len;
        }
      }
    }
    expect(found.length).toBe(60);
    expect(found).toEqual(expected);
    // Reference and non-reference slices (B-frames) were both covered.
    expect(types.has(0) && types.size > 1).toBe(true);
  });
});

describe.each(['cenc', 'cbcs'] as const)('%s sample encryption', (scheme) => {
  it('encrypts video so that FFmpeg with the key decodes the same frames, and without it cannot', async () => {
    const config = configFor(scheme);
    const { out, clearSamples, encSamples } = await encryptFile(video, config, 5);
    expect(encSamples.length).toBe(clearSamples.length);
    // Same sizes, different bytes: the slice data is encrypted, the NAL length fields are not.
    let changed = 0;
    encSamples.forEach((e, i) => {
      expect(e.length).toBe(clearSamples[i].length);
      expect(e.readUInt32BE(0)).toBe(clearSamples[i].readUInt32BE(0));
      if (!e.equals(clearSamples[i])) changed++;
    });
    expect(changed).toBe(clearSamples.length);
    const clear = await framemd5(video);
    expect(clear.length).toBe(60);
    expect(await decryptedMatching(await fs.readFile(out), config.key.key, clear)).toEqual(clear);
    const wrong = await framemd5(out, crypto.randomBytes(16)).catch(() => []);
    expect(wrong).not.toEqual(clear);
  });

  it('encrypts audio so that FFmpeg with the key decodes the same samples', async () => {
    const config = configFor(scheme);
    const { out, clearSamples, encSamples } = await encryptFile(audio, config, 12);
    expect(encSamples.filter((e, i) => !e.equals(clearSamples[i])).length).toBeGreaterThan(clearSamples.length * 0.9);
    const clear = await framemd5(audio);
    expect(clear.length).toBeGreaterThan(90);
    expect(await decryptedMatching(await fs.readFile(out), config.key.key, clear)).toEqual(clear);
  });

  it('writes tenc, pssh and senc that ffprobe and our init parser read', async () => {
    const config = configFor(scheme);
    const { out } = await encryptFile(video, config, 1);
    const init = parseInit(await fs.readFile(out));
    expect(init.tracks[0].codec).toMatch(/^avc1\.64/);
    const { stdout } = await run('ffprobe', ['-v', 'error', '-show_streams', '-show_entries', 'stream=codec_name:stream_side_data', '-of', 'json', out]);
    const stream = (JSON.parse(stdout) as { streams: { codec_name: string; side_data_list?: { side_data_type: string }[] }[] }).streams[0];
    expect(stream.codec_name).toBe('h264');
    // The stream's side data is the pssh and tenc ("Encryption initialization data").
    const sideData = (stream.side_data_list ?? []).map((s) => s.side_data_type);
    expect(sideData.join(' ')).toMatch(/Encryption initialization data/i);
    // Each packet's is its senc entry (IV and subsample map): read from a pipe, see framemd5 above.
    const probe = spawnSync('ffprobe', ['-v', 'error', '-show_entries', 'packet=pts:packet_side_data', '-read_intervals', '%+#10', '-of', 'json', '-i', 'pipe:0'], { input: await fs.readFile(out) });
    const packets = (JSON.parse(probe.stdout.toString()) as { packets: { side_data_list?: { side_data_type: string }[] }[] }).packets;
    expect(packets.length).toBe(10);
    for (const p of packets) expect(p.side_data_list?.map((d) => d.side_data_type)).toContain('Encryption info');
  });
});
