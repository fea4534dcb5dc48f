import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Parser as M3u8Parser } from 'm3u8-parser';
import { parse as parseMpd } from 'mpd-parser';
import { FsBlobStore, createLogger } from '../../platform/index.js';
import { encryptionInfoFor, randomContentKey } from '../crypto/key-provider.js';
import { iterateBoxes } from '../cmaf/box-reader.js';
import { segmentName } from '../manifest/paths.js';
import { decryptedMatching, framemd5 } from '../../platform/test-support/ffmpeg-decrypt.js';
import { inspectSource, type VodSource } from './inspect.js';
import { packageVod, vodRoot, type VodEncryption } from './vod-packager.js';

const logger = createLogger('silent');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vod-enc-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
const rungs = [
  { name: '360p', height: 360, videoBitrateKbps: 600 },
  { name: '240p', height: 240, videoBitrateKbps: 300 },
];
const LICENSE = 'http://127.0.0.1:8080/v1/drm/clearkey';
const source = path.join(tmp, 'source.mp4');
let probed: VodSource;

beforeAll(async () => {
  const r = spawnSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=30', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
    '-t', '4', '-c:v', 'libx264', '-preset', 'ultrafast', '-c:a', 'aac', source]);
  if (r.status !== 0) throw new Error(r.stderr.toString());
  probed = await inspectSource(source, { ffmpegPath: 'ffmpeg', ffprobePath: 'ffprobe' });
});

async function packaged(name: string, encryption?: VodEncryption): Promise<FsBlobStore> {
  const blobs = new FsBlobStore(path.join(tmp, name));
  await packageVod({ blobs, logger }, { assetId: name, file: source, source: probed, rungs, segmentSeconds: 2, x264Preset: 'ultrafast', ffmpegPath: 'ffmpeg', ...(encryption ? { encryption } : {}) });
  return blobs;
}

async function read(blobs: FsBlobStore, key: string): Promise<Buffer> {
  const obj = await blobs.get(key);
  if (!obj) throw new Error(`${key} is not stored`);
  const chunks: Buffer[] = [];
  for await (const c of obj.body) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** A rendition as one file: its init segment and every segment its playlist lists. */
async function renditionFile(blobs: FsBlobStore, asset: string, rendition: string): Promise<Buffer> {
  const playlist = (await read(blobs, `${vodRoot(asset)}/${rendition}/index.m3u8`)).toString();
  const count = (playlist.match(/^#EXTINF:/gm) ?? []).length;
  const parts = [await read(blobs, `${vodRoot(asset)}/${rendition}/init.mp4`)];
  for (let i = 0; i < count; i++) parts.push(await read(blobs, `${vodRoot(asset)}/${rendition}/${segmentName(i)}`));
  return Buffer.concat(parts);
}

describe.each(['cbcs', 'cenc'] as const)('VOD packaging with %s', (scheme) => {
  let clear: FsBlobStore;
  let encrypted: FsBlobStore;
  let encryption: VodEncryption;

  beforeAll(async () => {
    const key = randomContentKey();
    encryption = { scheme, key, info: encryptionInfoFor(scheme, key, LICENSE) };
    // One after the other: two ladders competing for two cores is where x264's output was seen to differ.
    clear = await packaged(`clear-${scheme}`);
    encrypted = await packaged(`enc-${scheme}`, encryption);
  });

  // The reference is a second transcode of the same source: should x264 under a loaded machine not
  // repeat itself (seen once in a full-suite run), the comparison is made again on fresh packagings.
  let attempts = 0;
  let again = '';
  it('decodes every rendition with the key to the frames of the clear packaging, and stores no clear sample', { retry: 1 }, async () => {
    if (attempts++ > 0) {
      again = '-again';
      clear = await packaged(`clear-${scheme}${again}`);
      encrypted = await packaged(`enc-${scheme}${again}`, encryption);
    }
    for (const rendition of ['360p', '240p', 'audio']) {
      const clearFile = await renditionFile(clear, `clear-${scheme}${again}`, rendition);
      const encFile = await renditionFile(encrypted, `enc-${scheme}${again}`, rendition);
      const expected = await framemd5(clearFile);
      expect(expected.length).toBeGreaterThan(rendition === 'audio' ? 150 : 100);
      const decrypted = await decryptedMatching(encFile, encryption.key.key, expected);
      if (rendition === 'audio') expect(decrypted).toEqual(expected);
      else {
        // Two x264 runs of one source under a loaded machine do not always match frame for frame (multi-
        // threaded VBV), so video is held to every frame decoding; frame-exact identity through the same
        // encryptor is proven on one encode in packager/crypto/cenc.test.ts and live/rendition-encryption.test.ts.
        expect(decrypted.length).toBe(expected.length);
        expect(decrypted.slice(0, 1)).toEqual(expected.slice(0, 1));
      }
      // Without the key the samples do not decode to the same frames.
      expect(await framemd5(encFile).catch(() => [])).not.toEqual(decrypted);
      // The same mdat payloads are nowhere in the encrypted segments.
      const mdats = (b: Buffer) => [...iterateBoxes(b)].filter((x) => x.type === 'mdat').map((x) => b.subarray(x.payloadStart, x.end));
      const encMdats = mdats(encFile);
      const clearMdats = mdats(clearFile);
      expect(encMdats.length).toBe(clearMdats.length);
      expect(encMdats.filter((m, i) => m.equals(clearMdats[i])).length).toBe(0);
    }
  });

  it('signals the key in the playlists and the MPD so that m3u8-parser and mpd-parser read it', async () => {
    const root = vodRoot(`enc-${scheme}${again}`);
    const master = (await read(encrypted, `${root}/master.m3u8`)).toString();
    expect(master).toMatch(new RegExp(`^#EXT-X-SESSION-KEY:METHOD=${scheme === 'cbcs' ? 'SAMPLE-AES' : 'SAMPLE-AES-CTR'},.*KEYID=0x${encryption.key.kid},KEYFORMAT="org.w3.clearkey"`, 'm'));
    const media = new M3u8Parser();
    media.push((await read(encrypted, `${root}/360p/index.m3u8`)).toString());
    media.end();
    const key = media.manifest.segments[0].key as { method: string; uri: string } | undefined;
    expect(key?.method).toBe(scheme === 'cbcs' ? 'SAMPLE-AES' : 'SAMPLE-AES-CTR');
    expect(Buffer.from(key!.uri.split(',')[1], 'base64').toString('hex')).toBe(encryption.key.kid);
    expect(media.manifest.segments.every((s: { key?: { uri: string } }) => s.key?.uri === key!.uri)).toBe(true);

    const mpdText = (await read(encrypted, `${root}/manifest.mpd`)).toString();
    const mpd = parseMpd(mpdText, { manifestUri: `http://edge/${root}/manifest.mpd` });
    const video = mpd.playlists![0] as { contentProtection?: Record<string, { pssh?: Uint8Array; attributes?: Record<string, string> }> };
    // mpd-parser names the scheme and default KID; it has no name for the DASH-IF ClearKey system, which the text shows.
    expect(video.contentProtection?.mp4protection?.attributes).toMatchObject({ value: scheme, 'cenc:default_KID': expect.stringMatching(new RegExp(`^${encryption.key.kid.slice(0, 8)}-`)) });
    expect(mpdText).toContain('<ContentProtection schemeIdUri="urn:uuid:e2719d58-a985-b3c9-781a-b030af78d30e" value="ClearKey1.0">');
    expect(mpdText).toContain(`value="${scheme}" cenc:default_KID="${encryption.key.kid.slice(0, 8)}-`);
    expect(mpdText).toContain(`<dashif:Laurl>${LICENSE}</dashif:Laurl>`);
  });
});

describe('VOD packaging with aes-128 (HLS whole-segment encryption)', () => {
  // Two transcodes of the same source again (see above): one after the other, compared again on fresh ones if they differ.
  it('encrypts every segment with its own IV so FFmpeg’s HLS reader with the key decodes the clear frames; no MPD', { retry: 1 }, async () => {
    const key = randomContentKey();
    const keyUri = `http://127.0.0.1:8080/v1/keys/${key.kid}`;
    const encryption: VodEncryption = { scheme: 'aes-128', key, info: encryptionInfoFor('aes-128', key, keyUri) };
    const clear = await packaged('clear-aes');
    const encrypted = await packaged('enc-aes', encryption);
    const root = vodRoot('enc-aes');
    expect(await encrypted.get(`${root}/manifest.mpd`)).toBeFalsy();
    const master = (await read(encrypted, `${root}/master.m3u8`)).toString();
    expect(master).not.toContain('EXT-X-SESSION-KEY');
    expect(master).not.toContain('EXT-X-I-FRAME-STREAM-INF');
    const dir = fs.mkdtempSync(path.join(tmp, 'aes-'));
    // (a retry repackages into the same stores, overwriting every key)
    fs.writeFileSync(path.join(dir, 'key.bin'), key.key);
    for (const rendition of ['360p', 'audio']) {
      const text = (await read(encrypted, `${root}/${rendition}/index.m3u8`)).toString();
      const parsed = new M3u8Parser();
      parsed.push(text);
      parsed.end();
      const segments = parsed.manifest.segments as { uri: string; key?: { method: string; uri: string; iv?: Uint32Array } }[];
      expect(segments.every((s) => s.key?.method === 'AES-128' && s.key.uri === keyUri)).toBe(true);
      const ivs = new Set(segments.map((s) => Buffer.from(s.key!.iv!.buffer).toString('hex')));
      expect(ivs.size).toBe(segments.length);
      // The playlist as FFmpeg reads it from disk: the key from a file, every URI absolute.
      const local = path.join(dir, rendition);
      fs.mkdirSync(local);
      fs.writeFileSync(path.join(local, 'init.mp4'), await read(encrypted, `${root}/${rendition}/init.mp4`));
      for (const s of segments) fs.writeFileSync(path.join(local, s.uri), await read(encrypted, `${root}/${rendition}/${s.uri}`));
      fs.writeFileSync(path.join(local, 'index.m3u8'), text.split(keyUri).join(path.join(dir, 'key.bin')).replace(/^(seg-\d+\.m4s|init\.mp4)/gm, (m) => path.join(local, m)).replace(/URI="init\.mp4"/, `URI="${path.join(local, 'init.mp4')}"`));
      const decoded = spawnSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-allowed_extensions', 'ALL', '-protocol_whitelist', 'file,crypto', '-i', path.join(local, 'index.m3u8'), '-f', 'framemd5', '-'], { maxBuffer: 64 << 20 });
      expect(decoded.stderr.toString()).toBe('');
      const frames = decoded.stdout.toString().split('\n').filter((l) => l && !l.startsWith('#'));
      const expected = await framemd5(await renditionFile(clear, 'clear-aes', rendition));
      expect(frames.length).toBe(expected.length);
      // Same frames (video: the first, see above); the HLS reader may number timestamps from 0 where the fMP4 file starts later.
      const md5s = (lines: string[]) => lines.map((l) => l.split(',').at(-1));
      if (rendition === 'audio') expect(md5s(frames)).toEqual(md5s(expected));
      else expect(md5s(frames).slice(0, 1)).toEqual(md5s(expected).slice(0, 1));
      // Segments are ciphertext: no box header at the start.
      expect((await read(encrypted, `${root}/${rendition}/${segments[0].uri}`)).subarray(4, 8).toString('latin1')).not.toMatch(/moof|styp/);
    }
  });
});
