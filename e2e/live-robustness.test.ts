/**
 * What broadcasters do to a live server that a happy path does not: drop and reconnect, odd sizes and
 * frame rates, no video at all.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import m3u8 from 'm3u8-parser';
import { parse as parseMpd } from 'mpd-parser';
import { api, decodeFrames, freePort, getText, publishTestPattern, signUp, startTestPlatform, stop, waitUntil, type TestPlatform } from './support.js';
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';

const execFileP = promisify(execFile);

function parseM3u8(text: string) {
  const p = new m3u8.Parser();
  p.push(text);
  p.end();
  return p.manifest;
}

async function createStream(platform: TestPlatform, token: string) {
  const created = await api(platform.api, 'POST', '/v1/live-streams', { title: 'robustness' }, token);
  expect(created.status).toBe(201);
  return created.body as { id: string; streamKey: string; rtmpUrl: string; playback: { hls: string; dash: string } };
}

const mediaPlaylistOf = (hls: string, rendition: string) => hls.replace('master.m3u8', `${rendition}/index.m3u8`);

describe('live robustness', () => {
  let platform: TestPlatform;
  let token: string;
  let flvPort: number;

  beforeAll(async () => {
    flvPort = await freePort();
    platform = await startTestPlatform({ LIVE_RECONNECT_GRACE: '8', INGEST_INTERNAL_PORT: String(flvPort) });
    token = await signUp(platform.api);
  }, 60_000);
  afterAll(() => platform?.close());

  it('continues the same session when the publisher reconnects within the grace window', async () => {
    const stream = await createStream(platform, token);
    const url = mediaPlaylistOf(stream.playback.hls, '360p');
    let publisher = publishTestPattern(`${stream.rtmpUrl}/${stream.streamKey}`, { seconds: 60 });
    await waitUntil('two segments', async () => ((await fetch(url).then((r) => (r.ok ? r.text() : ''))).match(/#EXTINF/g)?.length ?? 0) >= 2, 40_000);
    const before = parseM3u8(await getText(url));
    await stop(publisher);
    // While the publisher is away, viewers keep getting the playlist (no 404).
    await new Promise((r) => setTimeout(r, 1500));
    expect((await fetch(url)).status).toBe(200);
    expect((await fetch(stream.playback.hls)).status).toBe(200);
    publisher = publishTestPattern(`${stream.rtmpUrl}/${stream.streamKey}`, { seconds: 60 });
    try {
      const after = await waitUntil('segments after the reconnect', async () => {
        const m = parseM3u8(await getText(url));
        return m.discontinuityStarts.length > 0 && m.segments.length - m.discontinuityStarts.at(-1) >= 2 ? m : undefined;
      }, 40_000);
      // Same playlist, media sequence kept counting, a discontinuity where it resumed.
      expect(after.mediaSequence).toBe(before.mediaSequence);
      const lastBefore = before.mediaSequence + before.segments.length - 1;
      expect(after.mediaSequence + after.segments.length - 1).toBeGreaterThan(lastBefore);
      expect((await api(platform.api, 'GET', `/v1/live-streams/${stream.id}`, undefined, token)).body.status).toBe('live');
      expect(await decodeFrames(stream.playback.hls, 2)).toBeGreaterThan(30);
      // One media timeline across the gap: PDTs keep increasing, and the MPD (one Period) still lists the
      // segments from before the reconnect, on a timeline that only moves forward.
      const pdts = after.segments.map((seg: { dateTimeObject: Date }) => seg.dateTimeObject.getTime());
      for (let i = 1; i < pdts.length; i++) expect(pdts[i]).toBeGreaterThan(pdts[i - 1]);
      const mpd = parseMpd(await getText(stream.playback.dash), { manifestUri: stream.playback.dash });
      const uris = mpd.playlists[0].segments.map((seg: { uri: string }) => seg.uri);
      expect(uris.some((u: string) => u.endsWith(`seg-${before.mediaSequence}.m4s`))).toBe(true);
      expect(uris.length).toBeGreaterThan(after.segments.length - after.discontinuityStarts.at(-1));
      expect(await decodeFrames(stream.playback.dash, 2)).toBeGreaterThan(30);
    } finally {
      await stop(publisher);
    }
  }, 120_000);

  it('ends a rung that leaves the ladder when the publisher comes back at a lower resolution', async () => {
    const stream = await createStream(platform, token);
    const low = mediaPlaylistOf(stream.playback.hls, '240p');
    const high = mediaPlaylistOf(stream.playback.hls, '360p');
    let publisher = publishTestPattern(`${stream.rtmpUrl}/${stream.streamKey}`, { seconds: 60 });
    try {
      await waitUntil('two segments', async () => ((await fetch(high).then((r) => (r.ok ? r.text() : ''))).match(/#EXTINF/g)?.length ?? 0) >= 2, 40_000);
      expect(await getText(stream.playback.hls)).toContain('360p/index.m3u8');
      await stop(publisher);
      publisher = publishTestPattern(`${stream.rtmpUrl}/${stream.streamKey}`, { seconds: 60, size: '426x240' });
      await waitUntil('segments after the reconnect', async () => {
        const m = parseM3u8(await getText(low));
        return m.discontinuityStarts.length > 0 && m.segments.length - m.discontinuityStarts.at(-1) >= 2 ? m : undefined;
      }, 40_000);
      // The 360p rung is gone from the multivariant playlist and the MPD, and its playlist is ended.
      const master = await waitUntil('the multivariant playlist without 360p', async () => {
        const text = await getText(stream.playback.hls);
        return text.includes('360p/') ? undefined : text;
      }, 10_000);
      expect(master).toContain('240p/index.m3u8');
      const highPlaylist = parseM3u8(await getText(high));
      expect(highPlaylist.endList).toBe(true);
      // A blocking reload on the ended rung is answered at once, not held until it times out.
      const started = Date.now();
      const held = await fetch(`${high}?_HLS_msn=${highPlaylist.mediaSequence + highPlaylist.segments.length + 1}&_HLS_part=0`);
      expect(held.status).toBe(200);
      expect(Date.now() - started).toBeLessThan(1500);
      // The MPD keeps moving: it lists segments from after the reconnect for the rungs that remain.
      const lastLow = parseM3u8(await getText(low));
      const lowLast = lastLow.mediaSequence + lastLow.segments.length - 1;
      const mpdText = await getText(stream.playback.dash);
      expect(mpdText).not.toContain('id="360p"');
      const mpd = parseMpd(mpdText, { manifestUri: stream.playback.dash });
      const numbers = mpd.playlists[0].segments.map((seg: { uri: string }) => Number(/seg-(\d+)/.exec(seg.uri)![1]));
      expect(Math.max(...numbers)).toBeGreaterThanOrEqual(lowLast);
    } finally {
      await stop(publisher);
    }
  }, 120_000);

  it('restarts a transcoder that dies and continues the session with a discontinuity', async () => {
    const stream = await createStream(platform, token);
    const url = mediaPlaylistOf(stream.playback.hls, '360p');
    const publisher = publishTestPattern(`${stream.rtmpUrl}/${stream.streamKey}`, { seconds: 60 });
    try {
      await waitUntil('two segments', async () => ((await fetch(url).then((r) => (r.ok ? r.text() : ''))).match(/#EXTINF/g)?.length ?? 0) >= 2, 40_000);
      const before = parseM3u8(await getText(url));
      // The ladder FFmpeg of this platform (and no other test's) reads this ingest's HTTP-FLV port; kill it hard.
      const { stdout } = await execFileP('pgrep', ['-f', `ffmpeg.*127\\.0\\.0\\.1:${flvPort}/ingest/`]);
      const pids = stdout.trim().split('\n').filter(Boolean).map(Number);
      expect(pids.length).toBeGreaterThan(0);
      for (const pid of pids) process.kill(pid, 'SIGKILL');
      const after = await waitUntil('segments after the restart', async () => {
        const m = parseM3u8(await getText(url));
        return m.discontinuityStarts.length > 0 && m.segments.length - m.discontinuityStarts.at(-1) >= 2 ? m : undefined;
      }, 40_000);
      expect(after.mediaSequence).toBe(before.mediaSequence);
      const metrics = await getText(`${platform.origin}/metrics`);
      expect(metrics).toMatch(/packager_transcoder_restarts_total\{stream="[^"]+"\} [1-9]/);
    } finally {
      await stop(publisher);
    }
  }, 120_000);

  it('takes an OBS-style publish: 720p60 with B-frames, an 8 s keyframe interval and 44.1 kHz audio', async () => {
    const stream = await createStream(platform, token);
    // OBS defaults: x264 with B-frames, keyframe interval "auto" (250 frames), AAC at 44.1 kHz, CBR.
    const obs = spawn('ffmpeg', [
      '-hide_banner', '-loglevel', 'error', '-re',
      '-f', 'lavfi', '-i', 'testsrc2=size=1280x720:rate=60', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=44100',
      '-t', '40', '-c:v', 'libx264', '-preset', 'ultrafast', '-bf', '2', '-g', '250', '-b:v', '2500k', '-maxrate', '2500k', '-bufsize', '2500k', '-pix_fmt', 'yuv420p',
      '-c:a', 'aac', '-ar', '44100', '-b:a', '128k', '-f', 'flv', `${stream.rtmpUrl}/${stream.streamKey}`,
    ], { stdio: 'ignore' });
    try {
      const url = mediaPlaylistOf(stream.playback.hls, '360p');
      await waitUntil('two segments', async () => ((await fetch(url).then((r) => (r.ok ? r.text() : ''))).match(/#EXTINF/g)?.length ?? 0) >= 2, 40_000);
      const m = parseM3u8(await getText(url));
      // The ladder re-encodes on its own 2 s grid whatever the source GOP, at no more than 30 fps.
      for (const seg of m.segments) expect(seg.duration).toBeCloseTo(2, 0);
      const master = parseM3u8(await getText(stream.playback.hls));
      expect(master.playlists[0].attributes['FRAME-RATE']).toBeCloseTo(30, 0);
      expect(await decodeFrames(stream.playback.hls, 2)).toBeGreaterThan(30);
    } finally {
      await stop(obs);
    }
  }, 90_000);

  it('packages an odd resolution and frame rate (426x241 at 25 fps) without upscaling', async () => {
    const stream = await createStream(platform, token);
    const publisher = publishTestPattern(`${stream.rtmpUrl}/${stream.streamKey}`, { seconds: 40, size: '426x241', fps: 25 });
    try {
      await waitUntil('two segments', async () => ((await fetch(mediaPlaylistOf(stream.playback.hls, '240p')).then((r) => (r.ok ? r.text() : ''))).match(/#EXTINF/g)?.length ?? 0) >= 2, 40_000);
      const master = parseM3u8(await getText(stream.playback.hls));
      // The 360p rung is above the source and dropped; 240p stays.
      expect(master.playlists.map((p: { attributes: { RESOLUTION: { height: number } } }) => p.attributes.RESOLUTION.height)).toEqual([240]);
      expect(master.playlists[0].attributes['FRAME-RATE']).toBeCloseTo(25, 0);
      expect(await decodeFrames(stream.playback.hls, 2)).toBeGreaterThan(20);
    } finally {
      await stop(publisher);
    }
  }, 90_000);

  it('reports a source without video as a failed session and keeps serving other streams', async () => {
    const stream = await createStream(platform, token);
    const audioOnly = spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-re', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000', '-t', '30', '-c:a', 'aac', '-f', 'flv', `${stream.rtmpUrl}/${stream.streamKey}`], { stdio: 'ignore' });
    try {
      const failed = await waitUntil('the session to be reported failed', async () => {
        const s = (await api(platform.api, 'GET', `/v1/live-streams/${stream.id}`, undefined, token)).body;
        return s.lastError ? s : undefined;
      }, 40_000);
      expect(failed.lastError.code).toBe('PROBE_NO_VIDEO');
      expect(failed.lastError.message).toBe('the source has no video stream');
    } finally {
      await stop(audioOnly);
    }
  }, 90_000);
});

describe('ingest HTTP', () => {
  let platform: TestPlatform;
  beforeAll(async () => {
    platform = await startTestPlatform();
  }, 60_000);
  afterAll(() => platform?.close());

  it('answers the advertised whipUrl with a clear problem instead of a refused connection', async () => {
    const token = await signUp(platform.api);
    const stream = (await api(platform.api, 'POST', '/v1/live-streams', { title: 'whip' }, token)).body;
    const res = await fetch(stream.whipUrl, { method: 'POST', headers: { 'content-type': 'application/sdp' }, body: 'v=0' });
    expect(res.status).toBe(501);
    expect(res.headers.get('content-type')).toBe('application/problem+json');
    expect((await res.json()).code).toBe('WHIP_NOT_AVAILABLE');
    const health = await fetch(new URL('/healthz', stream.whipUrl));
    expect(health.status).toBe(200);
    const metrics = await (await fetch(new URL('/metrics', stream.whipUrl))).text();
    expect(metrics).toContain('ingest_connections_total');
  });
});
