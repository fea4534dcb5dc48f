import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Parser as M3u8Parser } from 'm3u8-parser';
import { parse as parseMpd } from 'mpd-parser';
import { FsBlobStore, createLogger } from '../../platform/index.js';
import { inspectSource, VodError } from './inspect.js';
import { ladderFromProbe, perTitleLadder } from './per-title.js';
import { packageVod, type VodProgress } from './vod-packager.js';
import { makeThumbnails, thumbnailVtt, tileInterval } from './thumbnails.js';

const logger = createLogger('silent');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vod-test-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
const tools = { ffmpegPath: 'ffmpeg', ffprobePath: 'ffprobe' };
const ladder = [
  { name: '720p', height: 720, videoBitrateKbps: 2800 },
  { name: '360p', height: 360, videoBitrateKbps: 800 },
  { name: '240p', height: 240, videoBitrateKbps: 400 },
];

function ffmpeg(args: string[]): void {
  const r = spawnSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', ...args]);
  if (r.status !== 0) throw new Error(r.stderr.toString());
}

/** A 360p clip with two audio languages (English, French). */
const twoLanguages = path.join(tmp, 'two-languages.mp4');
/** A flat, low-complexity clip and a noisy, complex one of the same size. */
const flat = path.join(tmp, 'flat.mp4');
const noisy = path.join(tmp, 'noisy.mp4');

beforeAll(() => {
  ffmpeg([
    '-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=30',
    '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
    '-f', 'lavfi', '-i', 'sine=frequency=660:sample_rate=48000',
    '-t', '9', '-map', '0:v', '-map', '1:a', '-map', '2:a',
    '-c:v', 'libx264', '-preset', 'ultrafast', '-c:a', 'aac',
    '-metadata:s:a:0', 'language=eng', '-metadata:s:a:1', 'language=fre',
    '-movflags', '+faststart', twoLanguages,
  ]);
  ffmpeg(['-f', 'lavfi', '-i', 'color=c=blue:size=640x360:rate=30', '-t', '4', '-c:v', 'libx264', '-preset', 'ultrafast', flat]);
  ffmpeg(['-f', 'lavfi', '-i', 'nullsrc=size=640x360:rate=30,geq=random(1)*255:128:128', '-t', '4', '-c:v', 'libx264', '-preset', 'ultrafast', '-qp', '10', noisy]);
});

describe('per-title ladder', () => {
  it('gives a flat clip far fewer bits than a noisy one and never upscales', async () => {
    const flatSource = await inspectSource(flat, tools);
    const noisySource = await inspectSource(noisy, tools);
    const a = await perTitleLadder(flat, flatSource, { ...tools, ladder });
    const b = await perTitleLadder(noisy, noisySource, { ...tools, ladder });
    expect(a.rungs.map((r) => r.name)).toEqual(['360p', '240p']);
    expect(a.probeKbps * 10).toBeLessThan(b.probeKbps);
    expect(a.rungs[0].videoBitrateKbps).toBeLessThan(b.rungs[0].videoBitrateKbps / 2);
    // The noisy clip is capped by the configured rung's headroom.
    expect(b.rungs[0].videoBitrateKbps).toBe(800 * 1.5);
  });

  it('scales the probe to each rung by pixels', () => {
    const source = { width: 1920, height: 1080, fps: 30, durationSeconds: 60, videoCodec: 'h264', bitrateKbps: 0, audio: [], formatName: 'mp4' };
    const rungs = ladderFromProbe(source, ladder, 500);
    expect(rungs.map((r) => r.name)).toEqual(['720p', '360p', '240p']);
    expect(rungs[0].videoBitrateKbps).toBeGreaterThan(rungs[1].videoBitrateKbps * 2);
  });
});

describe('packageVod', () => {
  it('packages every rung and both audio languages as HLS and DASH that ffprobe decodes', async () => {
    const blobs = new FsBlobStore(path.join(tmp, 'store'));
    const source = await inspectSource(twoLanguages, tools);
    expect(source.audio.map((a) => a.language)).toEqual(['en', 'fr']);
    const plan = await perTitleLadder(twoLanguages, source, { ...tools, ladder });
    const progress: VodProgress[] = [];
    const firstPlayable: string[] = [];
    const result = await packageVod(
      { blobs, logger },
      {
        assetId: 'a1', file: twoLanguages, source, rungs: plan.rungs, crf: plan.crf, segmentSeconds: 2, x264Preset: 'ultrafast', ffmpegPath: 'ffmpeg',
        onProgress: (p) => {
          progress.push(p);
          // The first time it is playable, the growing playlists are there and have no ENDLIST.
          if (p.playable && firstPlayable.length === 0) firstPlayable.push('pending');
        },
      },
    );
    expect(result.audio.map((a) => a.name)).toEqual(['audio-en', 'audio-fr']);
    expect(result.durationSeconds).toBeCloseTo(9, 0);
    expect(progress.some((p) => p.playable)).toBe(true);

    const text = async (key: string) => {
      const obj = await blobs.get(key);
      const chunks: Buffer[] = [];
      for await (const c of obj!.body) chunks.push(c as Buffer);
      return Buffer.concat(chunks).toString('utf8');
    };
    const master = new M3u8Parser();
    master.push(await text('vod/a1/master.m3u8'));
    master.end();
    const variants: { attributes: { BANDWIDTH: number; RESOLUTION?: { height: number } } }[] = master.manifest.playlists ?? [];
    expect(variants.map((v) => v.attributes.RESOLUTION?.height)).toEqual([360, 240]);
    for (const v of variants) expect(v.attributes.BANDWIDTH).toBeGreaterThan(0);
    const audioGroup = Object.values(master.manifest.mediaGroups?.AUDIO?.aud ?? {}) as { language?: string }[];
    expect(audioGroup.map((a) => a.language).sort()).toEqual(['en', 'fr']);

    const media = new M3u8Parser();
    media.push(await text('vod/a1/360p/index.m3u8'));
    media.end();
    expect(media.manifest.playlistType).toBe('VOD');
    expect(media.manifest.endList).toBe(true);
    expect(media.manifest.segments.length).toBe(5);

    const mpd = parseMpd(await text('vod/a1/manifest.mpd'), { manifestUri: 'http://x/vod/a1/manifest.mpd' });
    expect(mpd.playlists.map((p: { attributes: { RESOLUTION?: { height: number } } }) => p.attributes.RESOLUTION?.height).sort()).toEqual([240, 360]);
    // One audio AdaptationSet per language.
    expect(Object.values(mpd.mediaGroups.AUDIO.audio as Record<string, { language: string }>).map((a) => a.language).sort()).toEqual(['en', 'fr']);

    // Trick play: an I-frame playlist per rung, each byte range one decodable keyframe.
    expect(master.manifest.iFramePlaylists.map((f: { uri: string }) => f.uri)).toEqual(['360p/iframes.m3u8', '240p/iframes.m3u8']);
    const iframes = new M3u8Parser();
    iframes.push(await text('vod/a1/360p/iframes.m3u8'));
    iframes.end();
    expect(iframes.manifest.iFramesOnly).toBe(true);
    expect(iframes.manifest.segments.length).toBe(5);
    const range = iframes.manifest.segments[1].byterange as { length: number; offset: number };
    expect(range.offset).toBe(0);
    const segFile = path.join(tmp, 'store', 'objects', 'vod', 'a1', '360p', 'seg-1.m4s');
    expect(range.length).toBeLessThan(fs.statSync(segFile).size);
    const keyframe = path.join(tmp, 'keyframe.mp4');
    fs.writeFileSync(keyframe, Buffer.concat([fs.readFileSync(path.join(tmp, 'store', 'objects', 'vod', 'a1', '360p', 'init.mp4')), fs.readFileSync(segFile).subarray(0, range.length)]));
    const one = spawnSync('ffmpeg', ['-v', 'error', '-i', keyframe, '-f', 'null', '-', '-progress', 'pipe:1', '-nostats']);
    expect(Number([...one.stdout.toString().matchAll(/^frame=(\d+)/gm)].pop()?.[1])).toBe(1);

    // Every rendition decodes end to end: init + all segments.
    for (const r of ['360p', '240p', 'audio-en', 'audio-fr']) {
      const segs = Array.from({ length: 5 }, (_, i) => path.join(tmp, 'store', 'objects', 'vod', 'a1', r, `seg-${i}.m4s`));
      const joined = path.join(tmp, `${r}.mp4`);
      fs.writeFileSync(joined, Buffer.concat([fs.readFileSync(path.join(tmp, 'store', 'objects', 'vod', 'a1', r, 'init.mp4')), ...segs.map((s) => fs.readFileSync(s))]));
      const probe = spawnSync('ffprobe', ['-v', 'error', '-count_frames', '-show_entries', 'stream=nb_read_frames', '-of', 'csv=p=0', joined]);
      expect(probe.status, probe.stderr.toString()).toBe(0);
      expect(Number(probe.stdout.toString().trim())).toBeGreaterThan(r.startsWith('audio') ? 400 : 260);
    }
  }, 120_000);
});

describe('inspectSource refuses bad files with their own code', () => {
  const cases: [string, (f: string) => void, string][] = [
    ['an empty file', (f) => fs.writeFileSync(f, ''), 'MEDIA_EMPTY'],
    ['a text file renamed .mp4', (f) => fs.writeFileSync(f, 'hello, this is not a video\n'.repeat(20)), 'MEDIA_UNREADABLE'],
    ['an HLS playlist disguised as media', (f) => fs.writeFileSync(f, '#EXTM3U\n#EXTINF:1,\nfile:///etc/passwd\n'), 'MEDIA_PLAYLIST'],
    ['a concat list', (f) => fs.writeFileSync(f, "ffconcat version 1.0\nfile '/etc/passwd'\n"), 'MEDIA_PLAYLIST'],
    ['a truncated file', (f) => fs.writeFileSync(f, fs.readFileSync(twoLanguages).subarray(0, 60_000)), 'MEDIA_TRUNCATED'],
    ['audio without video', (f) => ffmpeg(['-f', 'lavfi', '-i', 'sine=frequency=440', '-t', '1', '-c:a', 'aac', f]), 'MEDIA_NO_VIDEO'],
    ['absurd dimensions', (f) => ffmpeg(['-f', 'lavfi', '-i', 'color=size=8200x64:rate=1', '-t', '1', '-c:v', 'libx264', '-preset', 'ultrafast', f]), 'MEDIA_DIMENSIONS'],
  ];
  for (const [name, make, code] of cases) {
    it(`${name} → ${code}`, async () => {
      const file = path.join(tmp, `bad-${code}-${name.length}.mp4`);
      make(file);
      const err = await inspectSource(file, tools).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(VodError);
      expect((err as VodError).code).toBe(code);
      expect((err as VodError).message.length).toBeGreaterThan(20);
    });
  }

  it('a duration over the limit → MEDIA_DURATION', async () => {
    const err = await inspectSource(flat, { ...tools, maxDurationSeconds: 2 }).catch((e: unknown) => e);
    expect((err as VodError).code).toBe('MEDIA_DURATION');
  });
});

describe('thumbnails', () => {
  it('stores a poster, a sprite sheet of every tile and a WebVTT track pointing into it', async () => {
    const blobs = new FsBlobStore(path.join(tmp, 'thumbs'));
    const source = await inspectSource(twoLanguages, tools);
    const t = await makeThumbnails({ blobs }, { assetId: 't1', file: twoLanguages, source, ffmpegPath: 'ffmpeg' });
    expect(t).toEqual({ poster: 'thumbnails/poster.jpg', sprite: 'thumbnails/sprite.jpg', vtt: 'thumbnails/thumbnails.vtt' });
    const dims = (f: string) => spawnSync('ffprobe', ['-v', 'error', '-show_entries', 'stream=width,height', '-of', 'csv=p=0', f]).stdout.toString().trim();
    const objects = path.join(tmp, 'thumbs', 'objects', 'vod', 't1', 'thumbnails');
    expect(dims(path.join(objects, 'poster.jpg'))).toBe('640,360');
    // 9 s at one tile per 2 s: 5 tiles of 160x90 on one row of a 10-column sheet.
    expect(dims(path.join(objects, 'sprite.jpg'))).toBe('1600,90');
    const vtt = fs.readFileSync(path.join(objects, 'thumbnails.vtt'), 'utf8');
    expect(vtt.startsWith('WEBVTT')).toBe(true);
    expect(vtt).toContain('00:00:00.000 --> 00:00:02.000\nsprite.jpg#xywh=0,0,160,90');
    expect(vtt).toContain('00:00:08.000 --> 00:00:09.000\nsprite.jpg#xywh=640,0,160,90');
  }, 60_000);

  it('spaces tiles so a long film needs at most 100, wrapping rows of ten', () => {
    expect(tileInterval(60)).toBe(2);
    expect(tileInterval(7200)).toBe(72);
    const vtt = thumbnailVtt(12, 2, 24, 160, 90);
    expect(vtt).toContain('00:00:22.000 --> 00:00:24.000\nsprite.jpg#xywh=160,90,160,90');
  });
});
