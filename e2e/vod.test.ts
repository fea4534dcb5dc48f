/**
 * VOD end to end on the one-process platform: a creator uploads over tus, the asset plays from a
 * growing EVENT playlist while it transcodes, then as VOD in hls.js and dash.js in Chromium (switching
 * audio language), bad files end errored with their own code, and a deleted asset is gone at the edge.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import m3u8 from 'm3u8-parser';
import { parse as parseMpd } from 'mpd-parser';
import type { Browser } from 'playwright-core';
import * as tus from 'tus-js-client';
import { launchChromium, openPlayer, type OpenPlayer } from './player.js';
import { api, decodeFrames, signUp, startTestPlatform, waitUntil, type TestPlatform } from './support.js';

let platform: TestPlatform;
let token: string;
let browser: Browser;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vod-e2e-'));
const source = path.join(tmp, 'two-languages.mp4');

beforeAll(async () => {
  platform = await startTestPlatform({ VOD_SEGMENT_SECONDS: '2', VOD_LADDER: '360p:360:800,240p:240:400', VOD_X264_PRESET: 'veryfast' });
  token = await signUp(platform.api);
  // 30 s of 640x360 with an English and a French audio track.
  execFileSync('ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-y',
    '-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=30',
    '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
    '-f', 'lavfi', '-i', 'sine=frequency=880:sample_rate=48000',
    '-t', '30', '-map', '0:v', '-map', '1:a', '-map', '2:a',
    '-c:v', 'libx264', '-preset', 'ultrafast', '-c:a', 'aac',
    '-metadata:s:a:0', 'language=eng', '-metadata:s:a:1', 'language=fre',
    source,
  ]);
  browser = await launchChromium();
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await platform?.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** Uploads a file with tus-js-client; returns the upload id. */
async function upload(file: Buffer, title: string): Promise<string> {
  const created = await api(platform.api, 'POST', '/v1/uploads', { asset: { title } }, token);
  expect(created.status).toBe(201);
  await new Promise<void>((resolve, reject) => {
    new tus.Upload(file, { endpoint: created.body.url, chunkSize: 2 * 1024 * 1024, onSuccess: () => resolve(), onError: reject }).start();
  });
  return created.body.id as string;
}

async function assetOf(uploadId: string): Promise<{ id: string; status: string; playableFrom: string | null; errors: { code: string } | null; playback: { hls: string; dash: string }; tracks: any; thumbnails: any }> {
  const up = await waitUntil('asset created', async () => (await api(platform.api, 'GET', `/v1/uploads/${uploadId}`, undefined, token)).body.assetId as string | null, 10_000, 50);
  return (await api(platform.api, 'GET', `/v1/assets/${up}`, undefined, token)).body;
}

/** The player advances at least 1.5 s of media in 2.5 s without a fatal error. */
async function expectToKeepPlaying(player: OpenPlayer): Promise<void> {
  const t0 = await player.page.evaluate(() => (document.getElementById('v') as HTMLVideoElement).currentTime);
  await player.page.waitForTimeout(2500);
  const state = await player.page.evaluate(() => ({ t: (document.getElementById('v') as HTMLVideoElement).currentTime, fatal: (window as any).report.fatalErrors }));
  expect(state.fatal).toEqual([]);
  expect(state.t - t0).toBeGreaterThan(1.5);
}

describe('VOD: upload, playable while it transcodes, plays everywhere', () => {
  let asset: Awaited<ReturnType<typeof assetOf>>;

  it('plays from a growing EVENT playlist before the job ends, then becomes a VOD', async () => {
    const uploadId = await upload(fs.readFileSync(source), 'Two languages');
    const first = await assetOf(uploadId);
    // Poll the edge until the growing playlists appear; the asset must still be preparing then.
    const seen = await waitUntil(
      'growing playlist',
      async () => {
        const res = await fetch(first.playback.hls.replace('master.m3u8', '360p/index.m3u8'));
        if (!res.ok) return undefined;
        const text = await res.text();
        if (!text.includes('#EXT-X-PLAYLIST-TYPE:EVENT')) return undefined;
        // DASH meanwhile: a dynamic MPD of the segments stored so far.
        const mpd = await (await fetch(first.playback.dash)).text();
        if (!mpd.includes('type="dynamic"')) return undefined;
        const now = (await api(platform.api, 'GET', `/v1/assets/${first.id}`, undefined, token)).body;
        return { text, mpd, status: now.status as string, playableFrom: now.playableFrom as string | null };
      },
      60_000,
      100,
    );
    expect(seen.text).not.toContain('#EXT-X-ENDLIST');
    const growingMpd = parseMpd(seen.mpd, { manifestUri: first.playback.dash, NOW: Date.now() });
    expect(growingMpd.playlists.length).toBe(2);
    expect(growingMpd.playlists[0].segments.length).toBeGreaterThan(0);
    expect(seen.status).toBe('preparing');
    // FFmpeg (a real HLS client) decodes the growing playlist through the edge while the job runs.
    expect(await decodeFrames(first.playback.hls, 1)).toBeGreaterThan(20);

    asset = await waitUntil('asset ready', async () => {
      const a = (await api(platform.api, 'GET', `/v1/assets/${first.id}`, undefined, token)).body;
      if (a.status === 'errored') throw new Error(JSON.stringify(a.errors));
      return a.status === 'ready' ? a : undefined;
    }, 120_000, 250);
    expect(asset.playableFrom).not.toBeNull();
    // Poster, sprite and the WebVTT thumbnail track come through the edge.
    for (const [kind, type] of [['poster', 'image/jpeg'], ['sprite', 'image/jpeg'], ['vtt', 'text/vtt']] as const) {
      const res = await fetch(asset.thumbnails[kind]);
      expect(res.status, kind).toBe(200);
      expect(res.headers.get('content-type')).toContain(type);
      if (kind === 'vtt') expect(await res.text()).toMatch(/sprite\.jpg#xywh=0,0,160,90/);
    }
    expect(asset.tracks.video.map((v: { height: number }) => v.height)).toEqual([360, 240]);
    expect(asset.tracks.audio.map((a: { language: string }) => a.language)).toEqual(['en', 'fr']);

    const master = new m3u8.Parser();
    master.push(await (await fetch(asset.playback.hls)).text());
    master.end();
    expect(master.manifest.playlists.length).toBe(2);
    expect(Object.values(master.manifest.mediaGroups.AUDIO.aud).map((a: any) => a.language).sort()).toEqual(['en', 'fr']);
    // An edge may hold the growing playlist for its one-second max-age; then it is the VOD one.
    const media = await waitUntil('VOD playlist at the edge', async () => {
      const p = new m3u8.Parser();
      p.push(await (await fetch(asset.playback.hls.replace('master.m3u8', '240p/index.m3u8'))).text());
      p.end();
      return p.manifest.playlistType === 'VOD' ? p : undefined;
    }, 5000, 250);
    expect(media.manifest.endList).toBe(true);
    expect(media.manifest.segments.length).toBe(15);
    const mpd = parseMpd(await (await fetch(asset.playback.dash)).text(), { manifestUri: asset.playback.dash });
    expect(mpd.playlists.length).toBe(2);
  }, 240_000);

  it('takes SRT captions: they are listed as HLS SUBTITLES and a DASH text track', async () => {
    const srt = '1\n00:00:00,500 --> 00:00:29,000\nHello from the captions\n';
    const bad = await api(platform.api, 'POST', `/v1/assets/${asset.id}/captions`, { language: 'en', label: 'English', format: 'srt', text: 'not captions' }, token);
    expect(bad.status).toBe(400);
    expect(bad.body.code).toBe('CAPTIONS_INVALID');
    const added = await api(platform.api, 'POST', `/v1/assets/${asset.id}/captions`, { language: 'en', label: 'English', format: 'srt', text: srt }, token);
    expect(added.status).toBe(202);
    expect(await (await fetch(added.body.url)).text()).toContain('00:00:00.500 --> 00:00:29.000');
    await waitUntil('captions listed', async () => (await api(platform.api, 'GET', `/v1/assets/${asset.id}`, undefined, token)).body.tracks.captions.length === 1, 30_000, 250);
    const master = await waitUntil('SUBTITLES in the master playlist', async () => {
      const text = await (await fetch(asset.playback.hls)).text();
      return text.includes('TYPE=SUBTITLES') ? text : undefined;
    }, 10_000, 250);
    expect(master).toMatch(/TYPE=SUBTITLES,GROUP-ID="subs",NAME="English",LANGUAGE="en"/);
    expect(master).toContain('SUBTITLES="subs"');
    const mpd = await waitUntil('a text AdaptationSet', async () => {
      const text = await (await fetch(asset.playback.dash)).text();
      return text.includes('contentType="text"') ? text : undefined;
    }, 10_000, 250);
    expect(mpd).toContain('<BaseURL>subs-en/captions.vtt</BaseURL>');
  }, 60_000);

  it('plays in hls.js and switches the audio language', async () => {
    const player = await openPlayer('hls', asset.playback.hls, browser);
    try {
      const tracks = await player.page.evaluate(() => (window as any).hls.audioTracks.map((t: any) => t.lang));
      expect(tracks).toEqual(['en', 'fr']);
      await player.page.evaluate(() => {
        const w = window as any;
        w.switched = null;
        w.hls.on('hlsAudioTrackSwitched', (_e: unknown, d: any) => (w.switched = w.hls.audioTracks[d.id].lang));
        w.hls.audioTrack = 1;
      });
      await player.page.waitForFunction(() => (window as any).switched === 'fr', undefined, { timeout: 15_000 });
      // The caption track shows its cue.
      await player.page.evaluate(() => ((window as any).hls.subtitleTrack = 0));
      const cue = await player.page.waitForFunction(() => {
        const v = document.getElementById('v') as HTMLVideoElement;
        for (const t of Array.from(v.textTracks)) {
          if (t.mode === 'disabled') t.mode = 'hidden';
          const c = t.cues?.[0] as VTTCue | undefined;
          if (c) return { text: c.text, start: c.startTime, lang: t.language };
        }
        return false;
      }, undefined, { timeout: 15_000 });
      expect(await cue.jsonValue()).toMatchObject({ text: 'Hello from the captions', lang: 'en' });
      await expectToKeepPlaying(player);
    } finally {
      await player.close();
    }
  }, 60_000);

  it('plays in dash.js and switches the audio language', async () => {
    const player = await openPlayer('dash', asset.playback.dash, browser);
    try {
      expect(await player.page.evaluate(() => (window as any).player.getTracksFor('text').map((t: any) => t.lang))).toEqual(['en']);
      const langs = await player.page.evaluate(() => (window as any).player.getTracksFor('audio').map((t: any) => t.lang));
      expect(langs.sort()).toEqual(['en', 'fr']);
      await player.page.evaluate(() => {
        const p = (window as any).player;
        p.setCurrentTrack(p.getTracksFor('audio').find((t: any) => t.lang === 'fr'));
      });
      await player.page.waitForFunction(() => (window as any).player.getCurrentTrackFor('audio')?.lang === 'fr', undefined, { timeout: 15_000 });
      await expectToKeepPlaying(player);
    } finally {
      await player.close();
    }
  }, 60_000);

  it('bad files end errored, each with its own code', async () => {
    const text = Buffer.from('this is a text file with an .mp4 name\n'.repeat(50));
    const truncated = fs.readFileSync(source).subarray(0, 200_000);
    const results: Record<string, string> = {};
    for (const [name, bytes] of [['text', text], ['truncated', truncated]] as const) {
      const id = await upload(bytes, name);
      const a = await assetOf(id);
      const done = await waitUntil(`${name} errored`, async () => {
        const now = (await api(platform.api, 'GET', `/v1/assets/${a.id}`, undefined, token)).body;
        return now.status === 'errored' ? now : undefined;
      }, 60_000, 200);
      expect(done.errors.message.length).toBeGreaterThan(20);
      results[name] = done.errors.code;
    }
    expect(results).toEqual({ text: 'MEDIA_UNREADABLE', truncated: 'MEDIA_TRUNCATED' });
  }, 120_000);

  it('DELETE removes the media, and the edge answers 404 after', async () => {
    const segment = asset.playback.hls.replace('master.m3u8', '360p/seg-0.m4s');
    expect((await fetch(segment)).status).toBe(200);
    expect((await api(platform.api, 'DELETE', `/v1/assets/${asset.id}`, undefined, token)).status).toBe(204);
    expect((await api(platform.api, 'GET', `/v1/assets/${asset.id}`, undefined, token)).status).toBe(404);
    // The edge had the segment cached; the asset's policy (gone) stops it within its policy TTL.
    await waitUntil('edge 404', async () => (await fetch(segment)).status === 404 && (await fetch(asset.playback.hls)).status === 404, 10_000, 250);
    expect(fs.existsSync(path.join(platform.dataDir, 'media', 'objects', 'vod', asset.id, '360p', 'seg-0.m4s'))).toBe(false);
  }, 30_000);
});
