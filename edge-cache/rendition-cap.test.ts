import { createRequire } from 'node:module';
import { Parser } from 'm3u8-parser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toMpd, toMultivariantPlaylist } from '../packager/index.js';
import { signPlaybackToken } from './playback-auth.js';
import { capHlsMultivariant, capMpd } from './rendition-cap.js';
import { get, metricValue, startEdge, type TestEdge } from './test-helpers.js';
import { TestOrigin } from './test-origin.js';

const mpdParser = createRequire(import.meta.url)('mpd-parser') as {
  parse(xml: string, opts: { manifestUri: string }): { playlists: { attributes: { NAME: string; RESOLUTION?: { height: number } } }[]; mediaGroups: { AUDIO: Record<string, Record<string, { playlists: unknown[] }>> } };
};
const KEY = 'playback-test-key-0123456789abcdef';
const RUNGS = [
  { name: '1080p', width: 1920, height: 1080, bandwidth: 5_000_000 },
  { name: '720p', width: 1280, height: 720, bandwidth: 2_800_000 },
  { name: '480p', width: 854, height: 480, bandwidth: 1_400_000 },
];

const master = toMultivariantPlaylist({
  video: RUNGS.map((r) => ({ uri: `${r.name}/index.m3u8`, bandwidth: r.bandwidth, codecs: 'avc1.640028', width: r.width, height: r.height, frameRate: 30 })),
  audio: [{ uri: 'audio/index.m3u8', name: 'audio', codecs: 'mp4a.40.2', channels: 2, bandwidth: 128_000 }],
  iframes: RUNGS.map((r) => ({ uri: `${r.name}/iframes.m3u8`, bandwidth: r.bandwidth / 10, codecs: 'avc1.640028', width: r.width, height: r.height })),
});
const mpd = toMpd({
  type: 'static',
  availabilityStartTimeMs: Date.UTC(2026, 0, 1),
  publishTimeMs: Date.UTC(2026, 0, 1),
  adaptationSets: [
    { contentType: 'video', timescale: 15360, representations: RUNGS.map((r) => ({ id: r.name, bandwidth: r.bandwidth, codecs: 'avc1.640028', width: r.width, height: r.height, frameRate: 30 })), segments: [{ number: 0, start: 0, duration: 61440 }] },
    { contentType: 'audio', timescale: 48000, lang: 'en', representations: [{ id: 'audio', bandwidth: 128_000, codecs: 'mp4a.40.2', sampleRate: 48000, channels: 2 }], segments: [{ number: 0, start: 0, duration: 192000 }] },
  ],
});

const hlsVariants = (text: string) => {
  const p = new Parser();
  p.push(text);
  p.end();
  return (p.manifest.playlists ?? []).map((v: { uri: string }) => v.uri);
};
const iframeUris = (text: string) => [...text.matchAll(/#EXT-X-I-FRAME-STREAM-INF:.*URI="([^"]+)"/g)].map((m) => m[1]);
const mpdVideo = (xml: string) => mpdParser.parse(xml, { manifestUri: 'https://edge.example/vod/a/manifest.mpd' }).playlists.map((p) => p.attributes.NAME);

describe('resolution caps on manifests', () => {
  it('drops the HLS variants and I-frame variants above the cap, keeping audio', () => {
    const capped = capHlsMultivariant(master, 720);
    expect(hlsVariants(capped)).toEqual(['720p/index.m3u8', '480p/index.m3u8']);
    expect(iframeUris(capped)).toEqual(['720p/iframes.m3u8', '480p/iframes.m3u8']);
    expect(capped).toContain('#EXT-X-MEDIA:TYPE=AUDIO');
    expect(capHlsMultivariant(master, 2160)).toBe(master);
    // A cap below every rung keeps the smallest rather than nothing.
    expect(hlsVariants(capHlsMultivariant(master, 240))).toEqual(['480p/index.m3u8']);
  });

  it('drops the DASH video Representations above the cap, keeping audio', () => {
    expect(mpdVideo(mpd)).toEqual(['1080p', '720p', '480p']);
    const capped = capMpd(mpd, 720);
    expect(mpdVideo(capped)).toEqual(['720p', '480p']);
    expect(Object.keys(mpdParser.parse(capped, { manifestUri: 'https://e/m.mpd' }).mediaGroups.AUDIO.audio)).toHaveLength(1);
    expect(capMpd(mpd, 1080)).toBe(mpd);
    expect(mpdVideo(capMpd(mpd, 100))).toEqual(['480p']);
  });
});

describe('resolution caps at the edge', () => {
  let origin: TestOrigin;
  let edge: TestEdge;
  const headers = (type: string) => ({ 'content-type': type, 'cache-control': 'max-age=60' });

  beforeAll(async () => {
    origin = await new TestOrigin().start();
    origin.route('/vod/asset1/master.m3u8', { headers: headers('application/vnd.apple.mpegurl'), body: master });
    origin.route('/vod/asset1/manifest.mpd', { headers: headers('application/dash+xml'), body: mpd });
    for (const r of [...RUNGS.map((x) => x.name), 'audio']) origin.route(`/vod/asset1/${r}/seg-0.m4s`, { headers: headers('video/mp4'), body: `media of ${r}` });
    edge = await startEdge([origin.url], { playbackSigningKey: KEY, requireToken: true });
  });
  afterAll(async () => {
    await edge.close();
    await origin.kill();
  });

  const token = (claims: { maxh?: number; xr?: string[] } = {}) => signPlaybackToken(KEY, { sub: 'asset1', ttlSeconds: 60, ...claims });

  it('serves a 720p token a manifest without the 1080p rung and refuses its URLs; an uncapped token gets everything', async () => {
    const capped = token({ maxh: 720, xr: ['1080p'] });
    const full = token();
    // The uncapped viewer first, so the capped one is served from the same cached copy.
    expect(hlsVariants((await get(`${edge.url}/t/${full}/vod/asset1/master.m3u8`)).body.toString())).toHaveLength(3);
    const hls = await get(`${edge.url}/t/${capped}/vod/asset1/master.m3u8`);
    expect(hls.status).toBe(200);
    expect(hls.headers['x-cache']).toBe('HIT');
    expect(hlsVariants(hls.body.toString())).toEqual(['720p/index.m3u8', '480p/index.m3u8']);
    expect(Number(hls.headers['content-length'])).toBe(hls.body.length);
    // A capped viewer first on a cold entry (the MPD) is capped too.
    const dash = await get(`${edge.url}/vod/asset1/manifest.mpd`, { authorization: `Bearer ${capped}` });
    expect(dash.status).toBe(200);
    expect(mpdVideo(dash.body.toString())).toEqual(['720p', '480p']);
    expect(mpdVideo((await get(`${edge.url}/t/${full}/vod/asset1/manifest.mpd`)).body.toString())).toEqual(['1080p', '720p', '480p']);
    // Conditional requests see the capped copy's own validator.
    const again = await get(`${edge.url}/t/${capped}/vod/asset1/master.m3u8`, { 'if-none-match': String(hls.headers.etag) });
    expect(again.status).toBe(304);
    expect(hls.headers.etag).not.toBe((await get(`${edge.url}/t/${full}/vod/asset1/master.m3u8`)).headers.etag);

    const refused = await get(`${edge.url}/t/${capped}/vod/asset1/1080p/seg-0.m4s`);
    expect(refused.status).toBe(403);
    expect(JSON.parse(refused.body.toString()).code).toBe('RENDITION_NOT_ALLOWED');
    expect(await metricValue(edge.registry, 'edge_token_refusals_total', '{reason="rendition"}')).toBe(1);
    expect((await get(`${edge.url}/t/${capped}/vod/asset1/720p/seg-0.m4s`)).body.toString()).toBe('media of 720p');
    expect((await get(`${edge.url}/t/${capped}/vod/asset1/audio/seg-0.m4s`)).status).toBe(200);
    expect((await get(`${edge.url}/t/${full}/vod/asset1/1080p/seg-0.m4s`)).body.toString()).toBe('media of 1080p');
    // The rendition's offline file is refused the same way.
    expect(JSON.parse((await get(`${edge.url}/t/${capped}/vod/asset1/1080p.mp4`)).body.toString()).code).toBe('RENDITION_NOT_ALLOWED');
  });
});
