/**
 * The live end-to-end benchmarks on one platform run: (a) how long after its last frame was pushed
 * each part is listed at the edge, and (b) hls.js latency in Chromium. The whole platform runs in
 * this process with the configured (default) ladder, transcoding on; FFmpeg publishes a 720p30 test
 * pattern over RTMP in real time like OBS.
 */
import type { Rung } from '../../platform/index.js';
import { api, signUp, startTestPlatform, stop, waitUntil } from './harness.js';
import { PartFollower, type PartFollowerResult } from './part-follower.js';
import { measurePlayerLatency, type PlayerResult } from './player-latency.js';
import { parseMediaPlaylist, summarize, type Summary } from './playlist-timing.js';
import { pushClockOffsetMs, startPublisher, type Publisher } from './publisher.js';

/** Which live measurements to take, and for how long. */
export interface LiveBenchOptions {
  measure: { partListing: boolean; player: boolean };
  /** The platform's live settings (passed as LIVE_* config). */
  ladder: Rung[];
  x264Preset: string;
  partTarget: number;
  segmentSeconds: number;
  /** Parts listed in the first seconds of following are not counted. */
  warmupSeconds: number;
  followSeconds: number;
  playerSeconds: number;
  publish: { width: number; height: number; fps: number; gopSeconds: number };
  /** Extra settings of the stream (e.g. `encryption`) and of the platform (e.g. KEY_ENCRYPTION_KEY). */
  stream?: Record<string, unknown>;
  platformEnv?: Record<string, string>;
  log?: (line: string) => void;
}

/** Part listing delays of one followed rendition. */
export interface RenditionListing {
  rendition: string;
  url: string;
  partTarget: number | null;
  /** Delay summary after warm-up, seconds. */
  delay: Summary;
  /** Parts observed in total and after warm-up. */
  observed: number;
  requests: number;
  failedRequests: number;
  earlyAnswers: number;
  /**
   * The same delays against the publisher's own push clock (PDT shifted by `pdtMinusPushClockMs`):
   * a cross-check that does not depend on where the packager anchored PDT. Null without push samples.
   */
  delayVsPushClock: Summary | null;
  /** Every counted delay, seconds, in listing order. */
  delays: number[];
}

/** How the stream's PDT relates to the publisher's push clock. */
export interface PushClockCheck {
  /** Progress samples read from the publisher. */
  samples: number;
  /** PDT of media time 0 − when the publisher pushed media time 0 on its steady schedule, ms (> 0: PDT is late). */
  pdtMinusPushClockMs: number;
  /** Median − least of (wall − media) over the samples, ms: how evenly the publisher pushed (plus read jitter). */
  pushJitterMs: number;
}

/** Result of the live benchmarks. */
export interface LiveBenchResult {
  options: Omit<LiveBenchOptions, 'log'>;
  /** PDT of the stream's first part − when the publisher was spawned, ms: how the PDT anchor sits. */
  pdtAnchorAfterPublisherSpawnMs: number | null;
  pushClock: PushClockCheck | null;
  partListing?: RenditionListing[];
  /**
   * The judged measurement: hls.js configured for low latency as README recommends (`lowLatencyMode`,
   * `maxLiveSyncPlaybackRate: 1.5` so it catches up to PART-HOLD-BACK after starting on a keyframe).
   */
  player?: PlayerResult;
  /** Context only: lowLatencyMode with hls.js's defaults otherwise (no catch-up: it stays where it started). */
  playerCatchUp?: PlayerResult;
}

const toLadderEnv = (rungs: Rung[]) => rungs.map((r) => `${r.name}:${r.height}:${r.videoBitrateKbps}`).join(',');

/** Runs the selected live measurements on one platform and one published stream. */
export async function runLiveBench(o: LiveBenchOptions): Promise<LiveBenchResult> {
  const log = o.log ?? (() => {});
  const { log: _log, ...options } = o;
  const result: LiveBenchResult = { options, pdtAnchorAfterPublisherSpawnMs: null, pushClock: null };
  const platform = await startTestPlatform({
    LIVE_LADDER: toLadderEnv(o.ladder),
    LIVE_X264_PRESET: o.x264Preset,
    LIVE_PART_TARGET: String(o.partTarget),
    LIVE_SEGMENT_SECONDS: String(o.segmentSeconds),
    ...o.platformEnv,
  });
  let publisher: Publisher | undefined;
  try {
    const token = await signUp(platform.api);
    const created = await api(platform.api, 'POST', '/v1/live-streams', { title: 'bench', ...o.stream }, token);
    if (created.status !== 201) throw new Error(`creating the live stream failed: ${created.status}`);
    const stream = created.body as { id: string; streamKey: string; rtmpUrl: string; playback: { hls: string } };
    const seconds = 15 + (o.measure.partListing ? o.warmupSeconds + o.followSeconds : 0) + (o.measure.player ? 2 * (o.playerSeconds + 12) : 0);
    publisher = startPublisher({ url: `${stream.rtmpUrl}/${stream.streamKey}`, seconds, ...o.publish });
    log(`bench: publishing ${o.publish.width}x${o.publish.height}@${o.publish.fps} for up to ${seconds} s; ladder ${toLadderEnv(o.ladder)} (${o.x264Preset})`);

    const top = o.ladder.filter((r) => r.height <= o.publish.height).sort((a, b) => b.height - a.height)[0]?.name ?? o.ladder[0].name;
    const mediaUrl = (rendition: string) => stream.playback.hls.replace('master.m3u8', `${rendition}/index.m3u8`);
    const first = await waitUntil('the first part at the edge', async () => {
      const res = await fetch(mediaUrl(top));
      if (!res.ok) return undefined;
      const p = parseMediaPlaylist(await res.text());
      return p.parts.length > 0 ? p : undefined;
    }, 40_000, 100);
    const part0 = first.parts.find((p) => p.msn === first.mediaSequence && p.index === 0);
    const pdtZeroMs = part0?.endMs != null ? part0.endMs - part0.duration * 1000 : null;
    if (pdtZeroMs !== null) result.pdtAnchorAfterPublisherSpawnMs = pdtZeroMs - publisher.spawnedAtMs;
    log(`bench: stream is live (PDT anchor ${result.pdtAnchorAfterPublisherSpawnMs?.toFixed(0) ?? '?'} ms after publisher spawn)`);

    if (o.measure.partListing) {
      const startMs = Date.now();
      const warmEndMs = startMs + o.warmupSeconds * 1000;
      const untilMs = warmEndMs + o.followSeconds * 1000;
      log(`bench: following ${top} and audio with blocking reloads for ${o.warmupSeconds} + ${o.followSeconds} s`);
      const renditions = [top, 'audio'];
      const followed = await Promise.all(renditions.map((r) => new PartFollower({ url: mediaUrl(r), untilMs }).run()));
      result.pushClock = pushClockCheck(publisher, pdtZeroMs);
      result.partListing = followed.map((f, i) => toListing(renditions[i], f, warmEndMs, result.pushClock));
    }
    if (o.measure.player) {
      log(`bench: playing ${stream.playback.hls} with hls.js (lowLatencyMode, maxLiveSyncPlaybackRate 1.5) in Chromium for ${o.playerSeconds} s`);
      result.player = await measurePlayerLatency(stream.playback.hls, o.playerSeconds, { hlsConfig: { maxLiveSyncPlaybackRate: 1.5 } });
      log(`bench: again with lowLatencyMode only (no catch-up) for ${o.playerSeconds} s`);
      result.playerCatchUp = await measurePlayerLatency(stream.playback.hls, o.playerSeconds);
      result.pushClock ??= pushClockCheck(publisher, pdtZeroMs);
    }
    if (publisher.child.exitCode !== null && publisher.child.exitCode !== 0) log(`bench: publisher exited ${publisher.child.exitCode}: ${publisher.stderr()}`);
    return result;
  } finally {
    await stop(publisher?.child);
    await platform.close();
  }
}

/** Compares PDT with the publisher's push clock (see {@link pushClockOffsetMs}). */
function pushClockCheck(publisher: Publisher, pdtZeroMs: number | null): PushClockCheck | null {
  const offset = pushClockOffsetMs(publisher.samples);
  if (offset === null || pdtZeroMs === null) return null;
  const lags = summarize(publisher.samples.filter((x) => x.mediaMs >= 3000).map((x) => x.wallMs - x.mediaMs));
  return { samples: publisher.samples.length, pdtMinusPushClockMs: pdtZeroMs - offset, pushJitterMs: lags.p50 - lags.min };
}

/** Counts only parts listed after warm-up; delays in seconds. */
function toListing(rendition: string, f: PartFollowerResult, warmEndMs: number, push: PushClockCheck | null): RenditionListing {
  const delays = f.observations.filter((x) => x.listedAtMs >= warmEndMs).map((x) => x.delayMs / 1000);
  return {
    rendition,
    url: f.url,
    partTarget: f.partTarget,
    delay: summarize(delays),
    delayVsPushClock: push ? summarize(delays.map((d) => d + push.pdtMinusPushClockMs / 1000)) : null,
    observed: f.observations.length,
    requests: f.requests,
    failedRequests: f.failedRequests,
    earlyAnswers: f.earlyAnswers,
    delays: delays.map((d) => Math.round(d * 1000) / 1000),
  };
}
