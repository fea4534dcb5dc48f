/**
 * CLI of the VOD benchmark: `npm run bench -- vod [complex|simple]`. Progress on stderr, a Markdown
 * report on stdout, the full result as JSON in bench/results/vod-<timestamp>.json. Knobs:
 * BENCH_VOD_SECONDS (60), BENCH_VOD_PRESET (veryfast), BENCH_VOD_SEGMENT_SECONDS (4).
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { num } from '../scale/main.js';
import { CLIPS, runVodBench, type ClipName, type ClipResult, type RungResult, type VodBenchOptions } from './vod-bench.js';

const r2 = (v: number, d = 2) => (Number.isFinite(v) ? v.toFixed(d) : '–');
const verdict = (ok: boolean) => (ok ? 'PASS' : 'MISS');
const totalKbps = (rungs: RungResult[]) => rungs.reduce((a, r) => a + r.kbps, 0);
const meanSsim = (rungs: RungResult[]) => rungs.reduce((a, r) => a + r.ssim, 0) / Math.max(1, rungs.length);

/** The Markdown report, with the VOD issue's targets. */
export function formatVodReport(results: ClipResult[], opts: VodBenchOptions, command: string): string {
  const out = [`### VOD run ${new Date().toISOString()}`, '', `Command: \`${command}\` · ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'} · Node ${process.version} · ${opts.seconds} s 1080p clips, x264 ${opts.preset}, ${opts.segmentSeconds} s segments`, ''];
  const targets: string[] = ['| target | goal | measured | |', '|---|---|---|---|'];
  for (const r of results) {
    out.push(`#### ${r.clip} clip (probe ${r2(r.probeKbps, 0)} kb/s at 720p)`, '');
    out.push('| | seconds | ÷ media duration |', '|---|---:|---:|');
    out.push(`| upload complete → first playable | ${r2(r.uploadToPlayableSeconds)} | ${r2(r.uploadToPlayableSeconds / r.durationSeconds, 3)} |`);
    out.push(`| upload complete → ready | ${r2(r.uploadToReadySeconds)} | ${r2(r.uploadToReadySeconds / r.durationSeconds, 3)} |`);
    out.push(`| our ladder (FFmpeg → CMAF segmenter → storage) | ${r2(r.oursWallSeconds)} | ${r2(r.oursWallSeconds / r.durationSeconds, 3)} |`);
    out.push(`| the same FFmpeg command into files by hand | ${r2(r.handWallSeconds)} | ${r2(r.handWallSeconds / r.durationSeconds, 3)} |`, '');
    out.push('| rung | per-title kb/s | per-title SSIM | fixed kb/s | fixed SSIM |', '|---|---:|---:|---:|---:|');
    for (const f of r.fixed) {
      const p = r.perTitle.find((x) => x.height === f.height);
      out.push(`| ${f.name} | ${p ? r2(p.kbps, 0) : '–'} | ${p ? r2(p.ssim, 4) : '–'} | ${r2(f.kbps, 0)} | ${r2(f.ssim, 4)} |`);
    }
    const saving = 1 - totalKbps(r.perTitle) / totalKbps(r.fixed);
    const dSsim = meanSsim(r.perTitle) - meanSsim(r.fixed);
    out.push('', `Per-title total ${r2(totalKbps(r.perTitle), 0)} kb/s vs fixed ${r2(totalKbps(r.fixed), 0)} kb/s (${r2(saving * 100, 1)}% saved); mean SSIM ${r2(meanSsim(r.perTitle), 4)} vs ${r2(meanSsim(r.fixed), 4)} (${dSsim >= 0 ? '+' : ''}${r2(dSsim, 4)}).`, '');
    targets.push(`| ${r.clip}: first playable after upload | ≤ 10 s | ${r2(r.uploadToPlayableSeconds)} s | ${verdict(r.uploadToPlayableSeconds <= 10)} |`);
    targets.push(`| ${r.clip}: ladder ÷ hand-run FFmpeg | ≤ 1.05 | ${r2(r.oursWallSeconds / r.handWallSeconds, 3)} | ${verdict(r.oursWallSeconds / r.handWallSeconds <= 1.05)} |`);
    if (r.clip === 'simple') targets.push(`| simple: bits saved at SSIM ≥ fixed − 0.002 | ≥ 25% | ${r2(saving * 100, 1)}%, ΔSSIM ${r2(dSsim, 4)} | ${verdict(saving >= 0.25 && dSsim >= -0.002)} |`);
    else targets.push(`| complex: never loses quality | ΔSSIM ≥ −0.002 | ${r2(dSsim, 4)} (${r2(saving * 100, 1)}% bits saved) | ${verdict(dSsim >= -0.002)} |`);
  }
  out.push('#### Targets', '', ...targets, '');
  return out.join('\n');
}

/** Runs the benchmark from the CLI's arguments and environment. */
export async function runVodBenchCli(env: NodeJS.ProcessEnv, args: string[]): Promise<void> {
  const clips = (args.length ? args : Object.keys(CLIPS)) as ClipName[];
  for (const c of clips) if (!(c in CLIPS)) throw new Error(`unknown clip "${c}": use ${Object.keys(CLIPS).join(', ')}`);
  const opts: VodBenchOptions = { seconds: num(env, 'BENCH_VOD_SECONDS', 60), preset: env.BENCH_VOD_PRESET || 'veryfast', segmentSeconds: num(env, 'BENCH_VOD_SEGMENT_SECONDS', 4), clips };
  const results = await runVodBench(opts);
  const command = `npm run bench -- vod${args.length ? ` ${args.join(' ')}` : ''}`;
  process.stdout.write(formatVodReport(results, opts, command));
  const dir = path.resolve('bench/results');
  await fs.mkdir(dir, { recursive: true });
  const file = path.join(dir, `vod-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  await fs.writeFile(file, JSON.stringify({ options: opts, results }, null, 2));
  process.stderr.write(`[vod bench] raw results: ${file}\n`);
}
