/**
 * End to end, as a broadcaster and a viewer would: FFmpeg publishes a test pattern over RTMP with a
 * stream key from the API; independent parsers, ffprobe and hls.js in Chromium check what comes out.
 */
import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import m3u8 from 'm3u8-parser';
import { parse as parseMpd } from 'mpd-parser';
import { api, decodeFrames, getText, probeVideoCodec, publishTestPattern, signUp, startTestPlatform, stop, waitUntil, type TestPlatform } from './support.js';
import { playWithDashJs, playWithHlsJs } from './player.js';

function parseM3u8(text: string) {
  const p = new m3u8.Parser();
  p.push(text);
  p.end();
  return p.manifest;
}

describe('live: RTMP in, LL-HLS and DASH out', () => {
  let platform: TestPlatform;
  let token: string;
  let stream: { id: string; streamKey: string; rtmpUrl: string; playback: { hls: string; dash: string } };
  let publisher: ChildProcess | undefined;

  beforeAll(async () => {
    platform = await startTestPlatform();
    token = await signUp(platform.api);
    const created = await api(platform.api, 'POST', '/v1/live-streams', { title: 'e2e' }, token);
    expect(created.status).toBe(201);
    stream = created.body;
    publisher = publishTestPattern(`${stream.rtmpUrl}/${stream.streamKey}`, { seconds: 120 });
    await waitUntil('the stream to be live', async () => (await api(platform.api, 'GET', `/v1/live-streams/${stream.id}`, undefined, token)).body.status === 'live', 30_000);
    await waitUntil('a media playlist with two segments', async () => {
      const res = await fetch(stream.playback.hls.replace('master.m3u8', '360p/index.m3u8'));
      return res.ok && ((await res.text()).match(/#EXTINF/g)?.length ?? 0) >= 2;
    }, 40_000);
  }, 120_000);

  afterAll(async () => {
    await stop(publisher);
    await platform?.close();
  });

  it('points OBS at rtmp://host:port/live and playback at the edge', () => {
    expect(stream.rtmpUrl).toBe(platform.rtmpBase);
    expect(stream.playback.hls).toBe(`${platform.edge}/live/${stream.id}/master.m3u8`);
    expect(stream.playback.dash).toBe(`${platform.edge}/live/${stream.id}/manifest.mpd`);
  });

  it('serves a multivariant playlist with an audio group and every attribute players need', async () => {
    const text = await getText(stream.playback.hls);
    const m = parseM3u8(text);
    expect(m.playlists).toHaveLength(2);
    for (const v of m.playlists) {
      expect(v.attributes.BANDWIDTH).toBeGreaterThan(0);
      expect(Number(v.attributes['AVERAGE-BANDWIDTH'])).toBeGreaterThan(0);
      expect(v.attributes.CODECS).toMatch(/^avc1\.[0-9a-f]{6},mp4a\.40\.2$/);
      expect(v.attributes['FRAME-RATE']).toBeCloseTo(30, 0);
      expect(v.attributes.AUDIO).toBe('aud');
    }
    expect(m.playlists.map((v: any) => v.attributes.RESOLUTION.height)).toEqual([360, 240]);
    // Square pixels: RESOLUTION is the coded size players decode (426, not a display width of 427).
    expect(m.playlists.map((v: any) => v.attributes.RESOLUTION.width)).toEqual([640, 426]);
    expect(Object.keys(m.mediaGroups.AUDIO.aud)).toHaveLength(1);
  });

  it('serves LL-HLS media playlists: parts, preload hint, server control, PDT, rendition reports', async () => {
    const text = await getText(stream.playback.hls.replace('master.m3u8', '360p/index.m3u8'));
    const m = parseM3u8(text);
    expect(m.serverControl).toMatchObject({ canBlockReload: true });
    expect(m.serverControl.partHoldBack).toBeGreaterThanOrEqual(3 * m.partInf.partTarget);
    expect(m.serverControl.canSkipUntil).toBeGreaterThan(0);
    expect(m.partInf.partTarget).toBeLessThanOrEqual(0.5);
    expect(m.preloadSegment?.preloadHints?.[0]?.type).toBe('PART');
    expect(m.renditionReports.length).toBe(2); // 240p and audio
    const withParts = m.segments.filter((s: any) => s.parts?.length);
    expect(withParts.length).toBeGreaterThan(0);
    for (const s of m.segments) {
      expect(s.dateTimeObject).toBeInstanceOf(Date);
      expect(Math.abs(s.dateTimeObject.getTime() - Date.now())).toBeLessThan(120_000);
      for (const p of s.parts ?? []) expect(p.duration).toBeLessThanOrEqual(m.partInf.partTarget + 1e-3);
      if (s.parts?.length) expect(s.parts[0].independent).toBe(true);
    }
  });

  it('blocks a playlist reload until the requested part exists and answers with it', async () => {
    const url = stream.playback.hls.replace('master.m3u8', '360p/index.m3u8');
    const m = parseM3u8(await getText(url));
    const hint = m.preloadSegment.preloadHints[0].uri as string;
    const [, msn, part] = /part-(\d+)\.(\d+)\.m4s/.exec(hint)!;
    const t0 = Date.now();
    const res = await fetch(`${url}?_HLS_msn=${msn}&_HLS_part=${part}`);
    expect(res.status).toBe(200);
    expect(await res.text()).toContain(hint);
    expect(Date.now() - t0).toBeLessThan(3000);
    const part0 = await fetch(url.replace('index.m3u8', hint));
    expect(part0.status).toBe(200);
    const far = await fetch(`${url}?_HLS_msn=${Number(msn) + 10}`);
    expect(far.status).toBe(400);
  });

  it('decodes H.264 from the HLS and the DASH URLs with ffprobe', async () => {
    expect(await probeVideoCodec(stream.playback.hls)).toBe('h264');
    expect(await decodeFrames(stream.playback.hls, 2)).toBeGreaterThan(30);
    expect(await probeVideoCodec(stream.playback.dash)).toBe('h264');
  });

  it('serves a dynamic MPD that mpd-parser reads', async () => {
    const text = await getText(stream.playback.dash);
    expect(text).toContain('type="dynamic"');
    const parsed = parseMpd(text, { manifestUri: stream.playback.dash });
    expect(parsed.playlists.length).toBe(2);
    expect(parsed.playlists[0].segments.length).toBeGreaterThan(0);
    expect(Object.keys(parsed.mediaGroups.AUDIO).length).toBeGreaterThan(0);
  });

  it('plays in hls.js (lowLatencyMode) in Chromium for 10 s without a fatal error', async () => {
    const report = await playWithHlsJs(stream.playback.hls, 12);
    console.log('hls.js playback:', JSON.stringify(report));
    expect(report.fatalErrors).toEqual([]);
    expect(report.levels).toBe(2);
    expect(report.played).toBeGreaterThan(9);
    expect(report.latency).not.toBeNull();
    expect(report.latency!).toBeLessThan(6);
  }, 90_000);

  it('plays the live MPD in dash.js as low-latency DASH: ≤ 2.5 s behind (UTCTiming clock) for 20 s without a stall', async () => {
    const mpd = await getText(stream.playback.dash);
    expect(mpd).toContain('availabilityTimeComplete="false"');
    expect(mpd).toMatch(/<ProducerReferenceTime [^>]*wallClockTime="[^"]+Z"/);
    expect(mpd).toMatch(/<Latency target="1500"/);
    const report = await playWithDashJs(stream.playback.dash, 20);
    console.log('dash.js playback:', JSON.stringify(report));
    expect(report.fatalErrors).toEqual([]);
    expect(report.played).toBeGreaterThan(18);
    // dash.js measures latency against the clock it synchronised with the MPD's UTCTiming (/time).
    expect(report.latency).not.toBeNull();
    expect(report.latency!).toBeLessThanOrEqual(2.5);
    expect(report.stalls).toBe(0);
  }, 90_000);

  it("shows the incoming stream's health on the stream while live", async () => {
    const s = await waitUntil('ingest statistics on the stream', async () => {
      const got = (await api(platform.api, 'GET', `/v1/live-streams/${stream.id}`, undefined, token)).body;
      return got.ingest ? got : undefined;
    }, 20_000);
    expect(s.ingest.bitrateKbps).toBeGreaterThan(50);
    expect(s.ingest.fps).toBeGreaterThan(20);
    expect(s.ingest.fps).toBeLessThan(40);
    expect(Date.parse(s.ingest.at)).toBeGreaterThan(Date.now() - 30_000);
  });

  it('records the session: the stream ends after the grace window and the recording plays', async () => {
    await stop(publisher);
    publisher = undefined;
    const ended = await waitUntil('the stream to end', async () => {
      const s = (await api(platform.api, 'GET', `/v1/live-streams/${stream.id}`, undefined, token)).body;
      return s.status === 'ended' && s.recentAssetIds.length > 0 ? s : undefined;
    }, 30_000);
    const asset = (await api(platform.api, 'GET', `/v1/assets/${ended.recentAssetIds[0]}`, undefined, token)).body;
    expect(asset.status).toBe('ready');
    expect(asset.duration).toBeGreaterThan(10);
    const vod = parseM3u8(await getText(asset.playback.hls.replace('master.m3u8', '360p/index.m3u8')));
    expect(vod.endList).toBe(true);
    expect(vod.playlistType).toBe('VOD');
    expect(await decodeFrames(asset.playback.hls, 3)).toBeGreaterThan(60);
    expect(await probeVideoCodec(asset.playback.dash)).toBe('h264');
    const live = parseM3u8(await getText(stream.playback.hls.replace('master.m3u8', '360p/index.m3u8')));
    expect(live.endList).toBe(true);
    // Per-stream metric series (ingest bitrate, transcoder speed, restarts, ...) end with the stream.
    expect(await getText(`${platform.origin}/metrics`)).not.toContain(`stream="${stream.id}"`);
  }, 60_000);
});
