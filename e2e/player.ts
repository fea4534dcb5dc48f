/** Plays an HLS URL with hls.js in Debian's Chromium (playwright-core) and reports what happened. */
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { chromium, type Browser } from 'playwright-core';

const require = createRequire(import.meta.url);

/** Chromium flags that work on these machines (no GPU, no network besides loopback). */
export const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--no-first-run', '--autoplay-policy=no-user-gesture-required',
];

/** What a playback session observed. */
export interface PlaybackReport {
  fatalErrors: string[];
  nonFatalErrors: string[];
  /** Seconds of media played (currentTime advance). */
  played: number;
  /** hls.js's estimate of the distance to the live edge, seconds (hls.latency). */
  latency: number | null;
  /** Wall-clock latency from EXT-X-PROGRAM-DATE-TIME of the playing frame, seconds. */
  pdtLatency: number | null;
  /** Number of `waiting` events after playback started. */
  stalls: number;
  levels: number;
}

const PAGE = `<!doctype html><html><body><video id="v" muted playsinline></video>
<script src="/hls.js"></script>
<script>
window.report = { fatalErrors: [], nonFatalErrors: [], stalls: 0, started: false, start: 0 };
const v = document.getElementById('v');
const q = new URLSearchParams(location.search);
// Encrypted media: ClearKey through EME, with the licence server the playback token came with.
const license = q.get('license');
// keyids=1: licence requests name the playlist's KEYID (W3C "keyids" init data) instead of waiting for
// a pssh in the media; what live key rotation needs, as its segments carry none.
const keyIds = q.get('keyids') ? {
  generateRequest(type, data, ctx) {
    const kid = ctx.decryptdata && ctx.decryptdata.keyId;
    if (!kid) return { initDataType: type, initData: data };
    const b64 = btoa(String.fromCharCode(...kid)).split('+').join('-').split('/').join('_').split('=').join('');
    return { initDataType: 'keyids', initData: new TextEncoder().encode(JSON.stringify({ kids: [b64] })).buffer };
  },
} : {};
const drm = license ? { emeEnabled: true, drmSystems: { 'org.w3.clearkey': { licenseUrl: license, ...keyIds } } } : {};
// keytoken=…: AES-128 key URIs (the key server's /v1/keys/) are fetched with the playback token.
const keyToken = q.get('keytoken');
const keyTokens = keyToken ? { xhrSetup(xhr, url) { if (url.includes('/v1/keys/')) xhr.open('GET', url + '?token=' + encodeURIComponent(keyToken), true); } } : {};
// cmcd=1: hls.js sends CMCD (CTA-5004) in the query of every request, as README's player config does.
const cmcd = q.get('cmcd') ? { cmcd: { contentId: 'e2e' } } : {};
const hls = new Hls({ lowLatencyMode: true, maxLiveSyncPlaybackRate: 1.5, backBufferLength: 30, ...drm, ...keyTokens, ...cmcd, debug: Boolean(q.get('debug')) });
window.hls = hls;
hls.on(Hls.Events.ERROR, (_e, d) => (d.fatal ? report.fatalErrors : report.nonFatalErrors).push(d.type + ':' + d.details));
v.addEventListener('playing', () => { if (!report.started) { report.started = true; report.start = v.currentTime; } });
v.addEventListener('waiting', () => { if (report.started) report.stalls++; });
hls.loadSource(new URLSearchParams(location.search).get('src'));
hls.attachMedia(v);
hls.on(Hls.Events.MANIFEST_PARSED, () => v.play().catch((e) => report.fatalErrors.push('play:' + e.message)));
</script></body></html>`;

const DASH_PAGE = `<!doctype html><html><body><video id="v" muted playsinline></video>
<script src="/dash.js"></script>
<script>
window.report = { fatalErrors: [], nonFatalErrors: [], stalls: 0, started: false, start: 0 };
const v = document.getElementById('v');
const player = dashjs.MediaPlayer().create();
window.player = player;
player.updateSettings({ streaming: { liveCatchup: { enabled: true } } });
const license = new URLSearchParams(location.search).get('license');
if (license) player.setProtectionData({ 'org.w3.clearkey': { serverURL: license } });
if (new URLSearchParams(location.search).get('debug')) player.updateSettings({ debug: { logLevel: 5 } });
player.on(dashjs.MediaPlayer.events.ERROR, (e) => report.fatalErrors.push(String(e.error && (e.error.message || e.error.code) || e.error)));
v.addEventListener('playing', () => { if (!report.started) { report.started = true; report.start = v.currentTime; } });
v.addEventListener('waiting', () => { if (report.started) report.stalls++; });
player.initialize(v, new URLSearchParams(location.search).get('src'), true);
</script></body></html>`;

/** Serves the test pages, hls.js and dash.js from loopback. */
async function servePage(page = PAGE): Promise<{ url: string; close: () => Promise<void> }> {
  const hlsJs = fs.readFileSync(require.resolve('hls.js/dist/hls.min.js'));
  const dashRoot = require.resolve('dashjs').replace(/(node_modules[\\/]dashjs)[\\/].*$/, '$1');
  const dashJs = fs.readFileSync(path.join(dashRoot, 'dist/modern/umd/dash.all.min.js'));
  const server = http.createServer((req, res) => {
    if (req.url?.startsWith('/hls.js') || req.url?.startsWith('/dash.js')) {
      res.writeHead(200, { 'content-type': 'text/javascript' });
      res.end(req.url.startsWith('/hls.js') ? hlsJs : dashJs);
    } else {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end(page);
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, close: () => new Promise((r) => server.close(() => r())) };
}

/** Launches Debian's Chromium headless. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: CHROMIUM_ARGS, headless: true });
}

/**
 * Opens a player page on src, waits for playback to start (or fail), lets it play `seconds`, then
 * returns what `collect` reads in the page.
 */
async function playPage<T>(html: string, src: string, seconds: number, collect: () => T, browser?: Browser, licenseUrl?: string, extra = ''): Promise<T> {
  const page$ = await servePage(html);
  const b = browser ?? (await launchChromium());
  try {
    const page = await b.newPage();
    // PLAYER_DEBUG=1 prints the page's console (dash.js at debug level) to the test output.
    const debug = Boolean(process.env.PLAYER_DEBUG);
    if (debug) page.on('console', (m) => process.stderr.write(`[page] ${m.text().slice(0, 300)}\n`));
    await page.goto(`${page$.url}?src=${encodeURIComponent(src)}${licenseUrl ? `&license=${encodeURIComponent(licenseUrl)}` : ''}${debug ? '&debug=1' : ''}${extra}`);
    await page.waitForFunction(() => (window as any).report.started || (window as any).report.fatalErrors.length > 0, undefined, { timeout: 30_000 });
    await page.waitForTimeout(seconds * 1000);
    return (await page.evaluate(collect)) as T;
  } finally {
    if (!browser) await b.close();
    await page$.close();
  }
}

/** Plays src for `seconds` of wall time after playback starts and reports. */
export function playWithHlsJs(src: string, seconds: number, browser?: Browser, opts: { cmcd?: boolean } = {}): Promise<PlaybackReport> {
  return playPage(
    PAGE,
    src,
    seconds,
    () => {
      const w = window as any;
      const v = document.getElementById('v') as HTMLVideoElement;
      const pdt = w.hls.playingDate as Date | null;
      return {
        fatalErrors: w.report.fatalErrors,
        nonFatalErrors: w.report.nonFatalErrors,
        played: v.currentTime - w.report.start,
        latency: Number.isFinite(w.hls.latency) ? w.hls.latency : null,
        pdtLatency: pdt ? (Date.now() - pdt.getTime()) / 1000 : null,
        stalls: w.report.stalls,
        levels: w.hls.levels.length,
      };
    },
    browser,
    undefined,
    opts.cmcd ? '&cmcd=1' : '',
  );
}

/** What a dash.js session observed. */
export interface DashPlaybackReport {
  fatalErrors: string[];
  played: number;
  /** dash.js's live latency estimate, seconds. */
  latency: number | null;
  stalls: number;
  /** Media time where playback started, seconds. */
  start: number;
}

/** Plays an MPD with dash.js (low-latency catch-up on) for `seconds` after playback starts. */
export function playWithDashJs(src: string, seconds: number): Promise<DashPlaybackReport> {
  return playPage(DASH_PAGE, src, seconds, () => {
    const w = window as any;
    const v = document.getElementById('v') as HTMLVideoElement;
    const latency = w.player.getCurrentLiveLatency();
    return { fatalErrors: w.report.fatalErrors, played: v.currentTime - w.report.start, latency: Number.isFinite(latency) ? latency : null, stalls: w.report.stalls, start: w.report.start };
  });
}

/** What a player did with encrypted media. */
export interface EncryptedPlaybackReport {
  fatalErrors: string[];
  played: number;
  /** Frames the decoder produced (HTMLVideoElement.getVideoPlaybackQuality). */
  decodedFrames: number;
}

/**
 * Plays encrypted media with ClearKey EME (hls.js `drmSystems`, dash.js protection data) and the given
 * licence URL, for `seconds` after playback starts or as soon as the player gives up.
 */
export function playEncrypted(kind: 'hls' | 'dash', src: string, licenseUrl: string | undefined, seconds: number, browser: Browser, opts: { keyIdsFromPlaylist?: boolean; aes128Token?: string } = {}): Promise<EncryptedPlaybackReport> {
  return playPage(
    kind === 'hls' ? PAGE : DASH_PAGE,
    src,
    seconds,
    () => {
      const w = window as any;
      const v = document.getElementById('v') as HTMLVideoElement;
      return { fatalErrors: w.report.fatalErrors, played: w.report.started ? v.currentTime - w.report.start : 0, decodedFrames: v.getVideoPlaybackQuality().totalVideoFrames };
    },
    browser,
    licenseUrl,
    `${opts.keyIdsFromPlaylist ? '&keyids=1' : ''}${opts.aes128Token ? `&keytoken=${encodeURIComponent(opts.aes128Token)}` : ''}`,
  );
}

/** A player page left open for a test to drive (switch tracks, read state). */
export interface OpenPlayer {
  page: import('playwright-core').Page;
  close(): Promise<void>;
}

/** Opens hls.js or dash.js on src and waits until playback starts (or throws with the player's errors). */
export async function openPlayer(kind: 'hls' | 'dash', src: string, browser: Browser): Promise<OpenPlayer> {
  const page$ = await servePage(kind === 'hls' ? PAGE : DASH_PAGE);
  const page = await browser.newPage();
  await page.goto(`${page$.url}?src=${encodeURIComponent(src)}`);
  await page.waitForFunction(() => (window as any).report.started || (window as any).report.fatalErrors.length > 0, undefined, { timeout: 30_000 });
  const errors = (await page.evaluate(() => (window as any).report.fatalErrors)) as string[];
  if (errors.length) {
    await page.close();
    await page$.close();
    throw new Error(`${kind} playback failed: ${errors.join(', ')}`);
  }
  return {
    page,
    close: async () => {
      await page.close();
      await page$.close();
    },
  };
}
