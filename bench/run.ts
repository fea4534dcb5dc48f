/**
 * `npm run bench [-- live|latency|player|ladder|edge [edge scenarios…]|scale [scale scenarios…]|vod [clips…]|recs [data sets…]|catalog [engines…]|encryption [scenarios…]]`: with
 * no argument runs the live, edge and scale benchmarks; otherwise the one named. Reports go to stdout, progress to
 * stderr, raw results to bench/results/. Missed targets are results, not failures: the exit code only
 * says whether every run worked.
 */
import { runEdgeBenchCli } from './edge/main.js';
import { LIVE_SCENARIOS, runLiveBenchCli } from './live/main.js';
import { runScaleBenchCli } from './scale/main.js';
import { runVodBenchCli } from './vod/main.js';
import { runRecsBenchCli } from './recs/main.js';
import { runCatalogBenchCli } from './catalog/main.js';
import { runEncryptionBenchCli } from './encryption/main.js';

const USAGE = 'usage: node dist/bench/run.js [live | latency | player | ladder | edge [hits|cold|blocked|viewers ...] | scale [catalog|render|blocking|packager ...] | vod [complex|simple] | recs [synthetic|movielens] | catalog [pglite|postgres] | encryption [throughput|latency|license]]';

/** Runs what `args` names; resolves to the process exit code. */
export async function runBench(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const [what, ...rest] = args;
  const live = (liveArgs: string[]) => runLiveBenchCli(env, liveArgs);
  if (what === undefined) {
    let failed = false;
    for (const step of [() => live([]), () => runEdgeBenchCli(env, []), () => runScaleBenchCli(env, [])]) {
      try {
        await step();
      } catch (err) {
        // One benchmark failing should not hide the other's numbers.
        console.error(err);
        failed = true;
      }
    }
    return failed ? 1 : 0;
  }
  if (what === 'vod') {
    await runVodBenchCli(env, rest);
    return 0;
  }
  if (what === 'encryption') {
    await runEncryptionBenchCli(env, rest);
    return 0;
  }
  if (what === 'catalog') {
    await runCatalogBenchCli(env, rest);
    return 0;
  }
  if (what === 'recs') {
    await runRecsBenchCli(env, rest);
    return 0;
  }
  if (what === 'scale') {
    await runScaleBenchCli(env, rest);
    return 0;
  }
  if (what === 'edge') {
    await runEdgeBenchCli(env, rest);
    return 0;
  }
  if (what === 'live' || (LIVE_SCENARIOS as readonly string[]).includes(what)) {
    await live(args);
    return 0;
  }
  console.error(USAGE);
  return 2;
}

runBench(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
