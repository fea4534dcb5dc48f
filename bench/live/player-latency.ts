/**
 * hls.js latency in Chromium: plays a live URL with `lowLatencyMode` and samples, twice a second,
 * hls.js's distance to the live edge and the wall-clock latency of the playing frame
 * (`Date.now() − hls.playingDate`, i.e. from EXT-X-PROGRAM-DATE-TIME, the ingest clock).
 */
import fs from 'node:fs';
import http from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { launchChromium } from './harness.js';
import { summarize, type Summary } from './playlist-timing.js';

const require = createRequire(import.meta.url);

/** One sample taken in the page. */
export interface PlayerSample {
  /** Seconds since playback started. */
  t: number;
  /** hls.latency: distance from the playhead to the live edge of the playlist, seconds. */
  latency: number | null;
  /** Date.now() − hls.playingDate, seconds. */
  pdtLatency: number | null;
  /** Seconds buffered ahead of the playhead. */
  buffer: number;
  height: number | null;
  rate: number;
}

/** What a playback session measured. */
export interface PlayerResult {
  hlsJsVersion: string;
  /** hls.js config on top of `{ lowLatencyMode: true, backBufferLength: 30 }`. */
  hlsConfig: Record<string, unknown>;
  seconds: number;
  /** Wall time from page load to the first `playing` event, ms. */
  startupMs: number | null;
  /** hls.targetLatency at the end (what hls.js aimed for), seconds. */
  targetLatency: number | null;
  latency: Summary;
  pdtLatency: Summary;
  /** `waiting` events after playback started, and the time spent waiting, ms. */
  stalls: number;
  stalledMs: number;
  fatalErrors: string[];
  nonFatalErrors: string[];
  /** Media seconds played while measuring. */
  played: number;
  samples: PlayerSample[];
}

/** What the page script keeps on `window` (typed for page.evaluate). */
interface PageWindow {
  report: {
    fatalErrors: string[];
    nonFatalErrors: string[];
    stalls: number;
    stalledMs: number;
    waitingSince: number;
    startedAt: number;
    loadedAt: number;
    start: number;
    samples: PlayerSample[];
  };
  hls: { targetLatency: number | null };
  Hls: { version: string };
  sample: () => void;
}

const PAGE = `<!doctype html><html><body><video id="v" muted playsinline></video>
<script src="/hls.js"></script>
<script>
const r = window.report = { fatalErrors: [], nonFatalErrors: [], stalls: 0, stalledMs: 0, waitingSince: 0, startedAt: 0, loadedAt: Date.now(), start: 0, samples: [] };
const v = document.getElementById('v');
const q = new URLSearchParams(location.search);
const hls = window.hls = new Hls(Object.assign({ lowLatencyMode: true, backBufferLength: 30 }, JSON.parse(q.get('cfg') || '{}')));
hls.on(Hls.Events.ERROR, (_e, d) => (d.fatal ? r.fatalErrors : r.nonFatalErrors).push(d.type + ':' + d.details));
v.addEventListener('playing', () => {
  if (!r.startedAt) { r.startedAt = Date.now(); r.start = v.currentTime; }
  if (r.waitingSince) { r.stalledMs += Date.now() - r.waitingSince; r.waitingSince = 0; }
});
v.addEventListener('waiting', () => { if (r.startedAt) { r.stalls++; r.waitingSince = Date.now(); } });
window.sample = () => {
  const pdt = hls.playingDate;
  const b = v.buffered.length ? v.buffered.end(v.buffered.length - 1) - v.currentTime : 0;
  const level = hls.levels[hls.currentLevel];
  r.samples.push({ t: (Date.now() - r.startedAt) / 1000, latency: Number.isFinite(hls.latency) ? hls.latency : null,
    pdtLatency: pdt ? (Date.now() - pdt.getTime()) / 1000 : null, buffer: b, height: level ? level.height : null, rate: v.playbackRate });
};
hls.loadSource(q.get('src'));
hls.attachMedia(v);
hls.on(Hls.Events.MANIFEST_PARSED, () => v.play().catch((e) => r.fatalErrors.push('play:' + e.message)));
</script></body></html>`;

/** Serves the page and hls.js from loopback (the page must not be file:// for fetch to the edge). */
async function servePage(): Promise<{ url: string; close: () => Promise<void> }> {
  const hlsJs = fs.readFileSync(require.resolve('hls.js/dist/hls.min.js'));
  const server = http.createServer((req, res) => {
    const js = req.url?.startsWith('/hls.js');
    res.writeHead(200, { 'content-type': js ? 'text/javascript' : 'text/html' });
    res.end(js ? hlsJs : PAGE);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, close: () => new Promise((r) => server.close(() => r())) };
}

/**
 * Plays `src` for `seconds` after playback starts, sampling every `everyMs`; the first `settleSeconds`
 * are not summarised. `hlsConfig` is merged over `{ lowLatencyMode: true, backBufferLength: 30 }`.
 */
export async function measurePlayerLatency(
  src: string,
  seconds: number,
  opts: { everyMs?: number; settleSeconds?: number; hlsConfig?: Record<string, unknown> } = {},
): Promise<PlayerResult> {
  const { everyMs = 500, settleSeconds = 3, hlsConfig = {} } = opts;
  const page$ = await servePage();
  const browser = await launchChromium();
  try {
    const page = await browser.newPage();
    await page.goto(`${page$.url}?src=${encodeURIComponent(src)}&cfg=${encodeURIComponent(JSON.stringify(hlsConfig))}`);
    await page.waitForFunction(() => {
      const r = (window as unknown as PageWindow).report;
      return r.startedAt > 0 || r.fatalErrors.length > 0;
    }, undefined, { timeout: 30_000 });
    const until = Date.now() + seconds * 1000;
    while (Date.now() < until) {
      await page.evaluate(() => (window as unknown as PageWindow).sample());
      await page.waitForTimeout(everyMs);
    }
    const raw = await page.evaluate(() => {
      const w = window as unknown as PageWindow;
      const v = document.getElementById('v') as HTMLVideoElement;
      const r = w.report;
      const target = w.hls.targetLatency;
      return {
        version: String(w.Hls.version),
        startupMs: r.startedAt ? r.startedAt - r.loadedAt : null,
        targetLatency: typeof target === 'number' && Number.isFinite(target) ? target : null,
        stalls: r.stalls,
        stalledMs: r.stalledMs + (r.waitingSince ? Date.now() - r.waitingSince : 0),
        fatalErrors: r.fatalErrors,
        nonFatalErrors: r.nonFatalErrors,
        played: v.currentTime - r.start,
        samples: r.samples,
      };
    });
    const settled = raw.samples.filter((s) => s.t >= settleSeconds);
    const values = (k: 'latency' | 'pdtLatency') => settled.map((s) => s[k]).filter((x): x is number => x !== null);
    return {
      hlsJsVersion: raw.version,
      hlsConfig,
      seconds,
      startupMs: raw.startupMs,
      targetLatency: raw.targetLatency,
      latency: summarize(values('latency')),
      pdtLatency: summarize(values('pdtLatency')),
      stalls: raw.stalls,
      stalledMs: raw.stalledMs,
      fatalErrors: raw.fatalErrors,
      nonFatalErrors: raw.nonFatalErrors,
      played: raw.played,
      samples: raw.samples,
    };
  } finally {
    await browser.close();
    await page$.close();
  }
}
