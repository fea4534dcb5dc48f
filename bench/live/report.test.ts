import { describe, expect, it } from 'vitest';
import { liveScenarios } from './main.js';
import { summarize } from './playlist-timing.js';
import { formatLiveReport, liveTargets, type LiveRunResult } from './report.js';
import type { PlayerResult } from './player-latency.js';

const player = (pdt: number[], stalls = 0): PlayerResult => ({
  hlsJsVersion: '1.7.4',
  hlsConfig: {},
  seconds: 20,
  startupMs: 700,
  targetLatency: 1.5,
  latency: summarize(pdt.map((x) => x - 0.1)),
  pdtLatency: summarize(pdt),
  stalls,
  stalledMs: stalls * 200,
  fatalErrors: [],
  nonFatalErrors: [],
  played: 20,
  samples: pdt.map((x, i) => ({ t: 3 + i / 2, latency: x - 0.1, pdtLatency: x, buffer: 1, height: 720, rate: 1 })),
});

function run(delays: number[], pdt: number[], ladder: { ladderMs: number; plainMs: number }): LiveRunResult {
  const listing = { rendition: '720p', url: 'http://e/720p/index.m3u8', partTarget: 0.5, delay: summarize(delays), delayVsPushClock: null, observed: delays.length, requests: delays.length, failedRequests: 0, earlyAnswers: 0, delays };
  return {
    startedAt: '2026-01-01T00:00:00.000Z',
    finishedAt: '2026-01-01T00:03:00.000Z',
    command: 'npm run bench -- live',
    machine: { cpus: '2 × cpu', node: 'v20', ffmpeg: 'ffmpeg 5.1', chromium: 'Chromium', loadAtStart: [1, 1, 1], loadAtEnd: [2, 2, 2] },
    live: {
      options: {
        measure: { partListing: true, player: true },
        ladder: [{ name: '720p', height: 720, videoBitrateKbps: 2800 }],
        x264Preset: 'veryfast',
        partTarget: 0.5,
        segmentSeconds: 2,
        warmupSeconds: 6,
        followSeconds: 40,
        playerSeconds: 20,
        publish: { width: 1280, height: 720, fps: 30, gopSeconds: 2 },
      },
      pdtAnchorAfterPublisherSpawnMs: 300,
      pushClock: null,
      partListing: [listing],
      player: player(pdt),
    },
    ladder: {
      options: { rungs: [], x264Preset: 'veryfast', mediaSeconds: 30, width: 1280, height: 720, fps: 30, partTarget: 0.5, segmentSeconds: 2, runs: 1 },
      ladderArgs: [],
      plainArgs: [],
      runs: [
        { kind: 'plain', wallMs: ladder.plainMs, exitCode: 0, outputs: [] },
        { kind: 'ladder', wallMs: ladder.ladderMs, exitCode: 0, outputs: [{ name: '720p', bytes: 1, parts: 60, segments: 15 }], nodeCpuMs: 100 },
      ],
      ladderWallMs: summarize([ladder.ladderMs]),
      plainWallMs: summarize([ladder.plainMs]),
      pipesWallMs: summarize([]),
      ratio: ladder.ladderMs / ladder.plainMs,
      realTimeFactor: 30 / (ladder.ladderMs / 1000),
      plainRealTimeFactor: 30 / (ladder.plainMs / 1000),
    },
  };
}

describe('liveTargets', () => {
  it('passes a run inside every target', () => {
    const rows = liveTargets(run([0.1, 0.2, 0.5], [1.2, 1.3], { ladderMs: 20_000, plainMs: 19_500 }));
    expect(rows.map((r) => r.pass)).toEqual([true, true, true, true]);
  });

  it('misses each target on its own threshold: p95 listing, PDT latency or a stall, ladder overhead, real time', () => {
    const slowTail = liveTargets(run([0.1, 0.2, 0.3, 0.4, 0.5, 0.5, 0.5, 0.5, 0.5, 1.2], [1.2], { ladderMs: 22_000, plainMs: 20_000 }));
    expect(slowTail.map((r) => r.pass)).toEqual([false, true, false, false]);
    const stalled = run([0.1], [1.2], { ladderMs: 20_000, plainMs: 20_000 });
    stalled.live!.player = player([1.2], 1);
    expect(liveTargets(stalled)[1].pass).toBe(false);
    expect(liveTargets(run([0.1], [1.6], { ladderMs: 20_000, plainMs: 20_000 }))[1].pass).toBe(false);
  });

  it('judges part listing and player latency on the push clock too when PDT runs late', () => {
    const r = run([0.5, 0.5, 0.5], [1.45], { ladderMs: 20_000, plainMs: 20_000 });
    expect(liveTargets(r).slice(0, 2).map((x) => x.pass)).toEqual([true, true]);
    r.live!.pushClock = { samples: 100, pdtMinusPushClockMs: 150, pushJitterMs: 10 };
    r.live!.partListing![0].delayVsPushClock = summarize([0.65, 0.65, 0.65]);
    const rows = liveTargets(r);
    expect(rows.slice(0, 2).map((x) => x.pass)).toEqual([false, false]);
    expect(rows[0].measured).toContain('push clock p50 0.650 s');
    expect(rows[1].measured).toContain('push clock 1.60 s');
  });

  it('says NOT MEASURED instead of passing when nothing was observed', () => {
    const r = run([], [], { ladderMs: 20_000, plainMs: 20_000 });
    expect(liveTargets(r).slice(0, 2).map((x) => x.pass)).toEqual([null, null]);
    expect(formatLiveReport(r)).toContain('NOT MEASURED');
  });
});

describe('formatLiveReport', () => {
  it('prints the command, the ratios against PART-TARGET and plain FFmpeg, and a verdict per target', () => {
    const text = formatLiveReport(run([0.1, 0.2, 0.5], [1.7, 1.8], { ladderMs: 20_000, plainMs: 19_000 }));
    expect(text).toContain('Command: `npm run bench -- live`');
    expect(text).toContain('| 720p | 3 | 0.200 | 0.500 | 0.500 | 0.100 | 0.40× | 1.00× |');
    expect(text).toContain('Ratio ladder / plain: **1.053×**');
    expect(text).toMatch(/hls.js latency .* \| MISS \|/);
    expect(text).toMatch(/ladder real-time factor \| ≥ 1.4× \| 1.50× .* \| PASS \|/);
  });
});

describe('liveScenarios', () => {
  it('runs all three for `live` or nothing, else the ones named', () => {
    expect(liveScenarios([])).toEqual(['latency', 'player', 'ladder']);
    expect(liveScenarios(['live'])).toEqual(['latency', 'player', 'ladder']);
    expect(liveScenarios(['ladder'])).toEqual(['ladder']);
    expect(liveScenarios(['latency', 'player'])).toEqual(['latency', 'player']);
  });
});
