/**
 * A session longer than the DVR window: the live playlist slides, live storage keeps only the window,
 * and the recording still holds the whole session and plays from its start (ffprobe, dash.js).
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import m3u8 from 'm3u8-parser';
import { api, getText, publishTestPattern, signUp, startTestPlatform, stop, waitUntil, type TestPlatform } from './support.js';
import { playWithDashJs } from './player.js';

const execFileP = promisify(execFile);
const SECONDS = 36;

function parseM3u8(text: string) {
  const p = new m3u8.Parser();
  p.push(text);
  p.end();
  return p.manifest as { mediaSequence: number; segments: { uri: string; duration: number }[]; endList?: boolean };
}

describe('recording a session longer than the DVR window', () => {
  let platform: TestPlatform;
  let token: string;
  let stream: { id: string; streamKey: string; rtmpUrl: string; playback: { hls: string; dash: string } };
  let asset: { id: string; duration: number; playback: { hls: string; dash: string } };
  let firstLiveMsn: number;

  beforeAll(async () => {
    platform = await startTestPlatform({ LIVE_DVR_WINDOW: '10', LIVE_RECONNECT_GRACE: '1' });
    token = await signUp(platform.api);
    stream = (await api(platform.api, 'POST', '/v1/live-streams', { title: 'long session' }, token)).body;
    const publisher = publishTestPattern(`${stream.rtmpUrl}/${stream.streamKey}`, { seconds: SECONDS });
    const media = stream.playback.hls.replace('master.m3u8', '360p/index.m3u8');
    firstLiveMsn = await waitUntil('the first segment', async () => {
      const res = await fetch(media);
      return res.ok ? parseM3u8(await res.text()).mediaSequence : undefined;
    }, 40_000);
    await new Promise<void>((resolve) => publisher.once('exit', () => resolve()));
    await stop(publisher);
    const ended = await waitUntil('the recording', async () => {
      const s = (await api(platform.api, 'GET', `/v1/live-streams/${stream.id}`, undefined, token)).body;
      return s.status === 'ended' && s.recentAssetIds.length > 0 ? s : undefined;
    }, 40_000);
    asset = (await api(platform.api, 'GET', `/v1/assets/${ended.recentAssetIds[0]}`, undefined, token)).body;
  }, 150_000);

  afterAll(() => platform?.close());

  it('slid the live window and trimmed live storage to it', async () => {
    const live = parseM3u8(await getText(stream.playback.hls.replace('master.m3u8', '360p/index.m3u8')));
    expect(live.endList).toBe(true);
    expect(live.mediaSequence).toBeGreaterThan(firstLiveMsn + 5);
    expect(live.segments.reduce((a, s) => a + s.duration, 0)).toBeLessThanOrEqual(12.5);
    const liveFiles = fs.readdirSync(path.join(platform.dataDir, 'media', 'objects', 'live', stream.id, '360p')).filter((f) => f.startsWith('seg-'));
    // The window plus the retention margin, not the whole session.
    expect(liveFiles.length).toBeLessThan(SECONDS / 2 - 2);
    expect(liveFiles).not.toContain(`seg-${firstLiveMsn}.m4s`);
  });

  it('records the whole session, from its first segment', async () => {
    expect(asset.duration).toBeGreaterThan(SECONDS - 8);
    const vod = parseM3u8(await getText(asset.playback.hls.replace('master.m3u8', '360p/index.m3u8')));
    expect(vod.mediaSequence).toBe(firstLiveMsn);
    expect(vod.segments.length).toBeGreaterThanOrEqual(Math.floor((SECONDS - 8) / 2));
    const first = await fetch(asset.playback.hls.replace('master.m3u8', `360p/${vod.segments[0].uri}`));
    expect(first.status).toBe(200);
    const { stdout } = await execFileP('ffprobe', ['-v', 'error', '-show_entries', 'format=duration', '-of', 'csv=p=0', asset.playback.hls], { timeout: 60_000 });
    expect(Number(stdout.trim())).toBeGreaterThan(SECONDS - 8);
  });

  it('plays the recording\'s static MPD from its start in dash.js', async () => {
    const mpd = await getText(asset.playback.dash);
    expect(mpd).toContain('type="static"');
    const report = await playWithDashJs(asset.playback.dash, 4);
    expect(report.fatalErrors).toEqual([]);
    expect(report.start).toBeLessThan(1);
    expect(report.played).toBeGreaterThan(2.5);
  }, 60_000);
});
