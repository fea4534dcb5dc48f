/**
 * Verdicts and the Markdown report of the live benchmarks. Pure: the same result always gives the
 * same text. Targets are the issue's: part listed p50 ≤ 0.6 s / p95 ≤ 1.0 s after its last frame;
 * hls.js ≤ 1.5 s behind with no stalls; ladder ≤ 1.05× a plain FFmpeg and ≥ 1.4× real time.
 */
import type { LadderBenchResult } from './ladder-bench.js';
import type { LiveBenchResult } from './live-bench.js';
import type { PlayerResult } from './player-latency.js';

/** Everything one `bench live` run produced. */
export interface LiveRunResult {
  startedAt: string;
  finishedAt: string;
  command: string;
  machine: { cpus: string; node: string; ffmpeg: string; chromium: string; loadAtStart: number[]; loadAtEnd: number[] };
  live?: LiveBenchResult;
  ladder?: LadderBenchResult;
}

/** One line of the targets table; `pass` null when it could not be measured. */
export interface TargetRow {
  what: string;
  target: string;
  measured: string;
  pass: boolean | null;
}

/** The issue's thresholds. */
export const LIVE_TARGETS = {
  partListedP50: 0.6,
  partListedP95: 1.0,
  playerLatency: 1.5,
  ladderRatio: 1.05,
  ladderRealTime: 1.4,
} as const;

const s = (v: number | null | undefined, digits = 3) => (v === null || v === undefined || !Number.isFinite(v) ? '–' : v.toFixed(digits));

/** Judges a run against the targets. */
export function liveTargets(r: LiveRunResult): TargetRow[] {
  const rows: TargetRow[] = [];
  const T = LIVE_TARGETS;
  // Judged on both clocks: PDT (the issue's definition) and the publisher's push clock (the cross-check).
  for (const l of r.live?.partListing ?? []) {
    const ok = l.delay.count > 0;
    const both = [l.delay, ...(l.delayVsPushClock ? [l.delayVsPushClock] : [])];
    const push = l.delayVsPushClock ? `; push clock p50 ${s(l.delayVsPushClock.p50)} s, p95 ${s(l.delayVsPushClock.p95)} s` : '';
    rows.push({
      what: `part listed after its last frame (${l.rendition})`,
      target: `p50 ≤ ${T.partListedP50} s, p95 ≤ ${T.partListedP95} s`,
      measured: ok ? `PDT p50 ${s(l.delay.p50)} s, p95 ${s(l.delay.p95)} s${push} (${l.delay.count} parts)` : 'no parts observed',
      pass: ok ? both.every((d) => d.p50 <= T.partListedP50 && d.p95 <= T.partListedP95) : null,
    });
  }
  const p = r.live?.player;
  if (p) {
    const ok = p.pdtLatency.count > 0;
    const shift = (r.live?.pushClock?.pdtMinusPushClockMs ?? 0) / 1000;
    const push = r.live?.pushClock ? `; push clock ${s(p.pdtLatency.p50 + shift, 2)} s` : '';
    rows.push({
      what: 'hls.js latency in Chromium (wall clock − PDT of the playing frame, p50 of samples)',
      target: `≤ ${T.playerLatency} s, no stalls, no fatal errors`,
      measured: ok ? `${s(p.pdtLatency.p50, 2)} s (p95 ${s(p.pdtLatency.p95, 2)})${push}, ${p.stalls} stalls, ${p.fatalErrors.length} fatal` : `no samples; fatal: ${p.fatalErrors.join(', ') || 'none'}`,
      pass: ok ? p.pdtLatency.p50 + Math.max(0, shift) <= T.playerLatency && p.stalls === 0 && p.fatalErrors.length === 0 : null,
    });
  }
  const l = r.ladder;
  if (l) {
    const ok = Number.isFinite(l.ratio);
    rows.push({
      what: 'ladder wall time vs plain FFmpeg',
      target: `≤ ${T.ladderRatio}×`,
      measured: ok ? `${s(l.ratio, 2)}× (${s(l.ladderWallMs.min / 1000, 2)} s vs ${s(l.plainWallMs.min / 1000, 2)} s)` : 'a run failed',
      pass: ok ? l.ratio <= T.ladderRatio : null,
    });
    rows.push({
      what: 'ladder real-time factor',
      target: `≥ ${T.ladderRealTime}×`,
      measured: Number.isFinite(l.realTimeFactor) ? `${s(l.realTimeFactor, 2)}× (${l.options.mediaSeconds} s of media)` : 'a run failed',
      pass: Number.isFinite(l.realTimeFactor) ? l.realTimeFactor >= T.ladderRealTime : null,
    });
  }
  return rows;
}

const verdict = (p: boolean | null) => (p === null ? 'NOT MEASURED' : p ? 'PASS' : 'MISS');

/** The Markdown report of a run (what RESULTS.md quotes). */
export function formatLiveReport(r: LiveRunResult): string {
  const out: string[] = [];
  const m = r.machine;
  out.push(`### Live: run ${r.startedAt}`, '');
  out.push(`Command: \`${r.command}\` · ${m.cpus} · load avg at start ${m.loadAtStart.map((x) => x.toFixed(2)).join(' ')}, at end ${m.loadAtEnd.map((x) => x.toFixed(2)).join(' ')}`, '');
  out.push(`Node ${m.node} · ${m.ffmpeg} · ${m.chromium}`, '');
  const live = r.live;
  if (live) {
    const o = live.options;
    out.push(`Platform in-process, ladder ${o.ladder.map((x) => `${x.name} ${x.videoBitrateKbps}k`).join(' / ')} + AAC, x264 \`${o.x264Preset}\`, PART-TARGET ${o.partTarget} s, segments ${o.segmentSeconds} s; publisher FFmpeg ${o.publish.width}x${o.publish.height}@${o.publish.fps} \`-re\`, x264 ultrafast zerolatency, GOP ${o.publish.gopSeconds} s, over RTMP. PDT of the first part − publisher spawn: ${s(live.pdtAnchorAfterPublisherSpawnMs, 0)} ms.`, '');
  }
  if (live?.partListing) {
    out.push(`#### (a) Part listed at the edge after its last frame was pushed (blocking reloads, ${live.options.warmupSeconds} s warm-up skipped, ${live.options.followSeconds} s measured)`, '');
    out.push('| rendition | parts | PDT p50 s | PDT p95 s | PDT max s | PDT min s | p50 / PART-TARGET | p95 / PART-TARGET | push clock p50 / p95 / max s | requests (failed, early) |', '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
    for (const l of live.partListing) {
      const pt = l.partTarget ?? NaN;
      const pc = l.delayVsPushClock;
      const push = pc ? `${s(pc.p50)} / ${s(pc.p95)} / ${s(pc.max)}` : '–';
      out.push(`| ${l.rendition} | ${l.delay.count} | ${s(l.delay.p50)} | ${s(l.delay.p95)} | ${s(l.delay.max)} | ${s(l.delay.min)} | ${s(l.delay.p50 / pt, 2)}× | ${s(l.delay.p95 / pt, 2)}× | ${push} | ${l.requests} (${l.failedRequests}, ${l.earlyAnswers}) |`);
    }
    out.push('');
    const pc = live.pushClock;
    out.push(
      'Delay = arrival of the first playlist listing the part − its end by PDT (segment PDT + earlier parts + its own duration), PDT being the ingest clock. ' +
        'The part end is when the frame after its last one is due; a real-time publisher sends the last frame one frame earlier (33 ms video, 21 ms AAC). ' +
        (pc
          ? `Push clock: the same end on the publisher's own schedule (its \`-progress\` out_time against the wall clock, ${pc.samples} samples, least lag; jitter ${s(pc.pushJitterMs, 0)} ms); this run's PDT was ${s(pc.pdtMinusPushClockMs, 0)} ms later than that schedule, so the PDT figures are that much shorter.`
          : 'No push-clock cross-check (no publisher progress samples).'),
      '',
    );
  }
  const players = [
    { label: 'lowLatencyMode + maxLiveSyncPlaybackRate 1.5 (judged: README config)', p: live?.player },
    { label: 'lowLatencyMode only, no catch-up (context)', p: live?.playerCatchUp },
  ].filter((x): x is { label: string; p: PlayerResult } => x.p !== undefined);
  if (players.length) {
    const p0 = players[0].p;
    out.push(`#### (b) hls.js ${p0.hlsJsVersion} in Chromium, ${p0.seconds} s per config sampled twice a second (first 3 s after start not summarised)`, '');
    const shift = (live?.pushClock?.pdtMinusPushClockMs ?? NaN) / 1000;
    out.push('| hls.js config | wall clock − PDT of playing frame p50 / p95 / max s | on the push clock p50 s | hls.latency p50 / p95 / max s | targetLatency s | start-up ms | stalls (ms) | fatal / non-fatal errors | played s | rendition |', '|---|---:|---:|---:|---:|---:|---:|---|---:|---|');
    for (const { label, p } of players) {
      const heights = [...new Set(p.samples.map((x) => x.height).filter((h) => h !== null))].map((h) => `${h}p`).join(', ');
      const errors = `${p.fatalErrors.length ? p.fatalErrors.join(', ') : 'none'} / ${p.nonFatalErrors.length ? [...new Set(p.nonFatalErrors)].join(', ') : 'none'}`;
      out.push(
        `| ${label} | ${s(p.pdtLatency.p50, 2)} / ${s(p.pdtLatency.p95, 2)} / ${s(p.pdtLatency.max, 2)} | ${s(p.pdtLatency.p50 + shift, 2)} | ${s(p.latency.p50, 2)} / ${s(p.latency.p95, 2)} / ${s(p.latency.max, 2)} | ${s(p.targetLatency, 2)} | ${s(p.startupMs, 0)} | ${p.stalls} (${s(p.stalledMs, 0)}) | ${errors} | ${s(p.played, 1)} | ${heights || '–'} |`,
      );
    }
    out.push('');
  }
  const l = r.ladder;
  if (l) {
    const o = l.options;
    out.push(`#### (c) Ladder: ${o.mediaSeconds} s of ${o.width}x${o.height}@${o.fps} testsrc2 + sine, unpaced, ${o.rungs.map((x) => x.name).join('/')} + AAC, x264 \`${o.x264Preset}\` (best of ${o.runs}, alternating)`, '');
    out.push('| command | best wall s | all runs s | real-time factor |', '|---|---:|---|---:|');
    const runs = (k: 'ladder' | 'pipes' | 'plain') => l.runs.filter((x) => x.kind === k).map((x) => (x.wallMs / 1000).toFixed(2) + (x.exitCode === 0 ? '' : ` (exit ${x.exitCode})`)).join(', ');
    out.push(`| ladder: fMP4 pipes → Fmp4StreamParser → CmafSegmenter | ${s(l.ladderWallMs.min / 1000, 2)} | ${runs('ladder')} | ${s(l.realTimeFactor, 2)}× |`);
    out.push(`| plain FFmpeg, same graph and encoders, to .mp4 files | ${s(l.plainWallMs.min / 1000, 2)} | ${runs('plain')} | ${s(l.plainRealTimeFactor, 2)}× |`);
    if (l.pipesWallMs.count) out.push(`| context: ladder command, pipes read and dropped (no parsing) | ${s(l.pipesWallMs.min / 1000, 2)} | ${runs('pipes')} | ${s(o.mediaSeconds / (l.pipesWallMs.min / 1000), 2)}× |`);
    const last = [...l.runs].reverse().find((x) => x.kind === 'ladder');
    const cpu = l.runs.filter((x) => x.kind === 'ladder' && x.nodeCpuMs !== undefined).map((x) => x.nodeCpuMs!.toFixed(0)).join(', ');
    out.push('');
    out.push(`Ratio ladder / plain: **${s(l.ratio, 3)}×** (pipes only / plain: ${s(l.pipesWallMs.min / l.plainWallMs.min, 3)}×). Node CPU in parser + segmenter per ladder run: ${cpu} ms. Last ladder run produced ${last?.outputs.map((x) => `${x.name} ${x.parts} parts / ${x.segments} segments`).join(', ') ?? '–'}.`, '');
  }
  const rows = liveTargets(r);
  if (rows.length) {
    out.push('#### Targets', '', '| | target | measured | |', '|---|---|---|---|');
    for (const row of rows) out.push(`| ${row.what} | ${row.target} | ${row.measured} | ${verdict(row.pass)} |`);
    out.push('');
  }
  return out.join('\n');
}
