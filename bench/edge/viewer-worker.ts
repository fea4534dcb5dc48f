/**
 * Worker-thread entry simulating LL-HLS viewers against one cache: each viewer has one keep-alive
 * connection, reads the live playlist once for the preload hint, then loops: a blocking playlist
 * reload for the next part (`_HLS_msn`/`_HLS_part`, RFC 8216bis §6.2.5.2), then that part. It records
 * the part fetch latency and the lag from the part's publication at the origin to the viewer having it.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { BENCH_PATHS, preloadHint } from './bench-origin.js';
import { RawConnection } from './raw-http.js';
import { epochMs } from './stats.js';

/** What the parent gives a worker. */
export interface ViewerWorkerInput {
  host: string;
  port: number;
  viewers: number;
  partsPerSegment: number;
  simPartBytes: number;
  /** Epoch ms: viewers start spread over [startAt, startAt + spreadMs). */
  startAt: number;
  spreadMs: number;
  /** Epoch ms window in which samples count. */
  measureFrom: number;
  measureTo: number;
}

/** What a worker reports when its viewers stopped. */
export interface ViewerWorkerOutput {
  /** Part fetch latency (request written → last byte), ms, for parts requested in the window. */
  partMs: number[];
  /** Part published at the origin → viewer has the whole part, ms. */
  lagMs: number[];
  /** Parts fetched in the window. */
  parts: number;
  /** Failed requests (non-200, short bodies, closed connections). */
  errors: number;
  errorSamples: string[];
  /** Viewers that got their first playlist. */
  started: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs `input.viewers` viewers until `measureTo`, then reports. */
async function run(input: ViewerWorkerInput): Promise<ViewerWorkerOutput> {
  const out: ViewerWorkerOutput = { partMs: [], lagMs: [], parts: 0, errors: 0, errorSamples: [], started: 0 };
  const error = (what: string) => {
    out.errors++;
    if (out.errorSamples.length < 5) out.errorSamples.push(what);
  };
  // Viewers stuck on an overloaded server are cut loose a few seconds after the window closes.
  const conns = new Set<RawConnection>();
  const cut = setTimeout(() => {
    for (const c of conns) c.close();
  }, input.measureTo + 5000 - epochMs());
  const viewer = async (i: number): Promise<void> => {
    await sleep(Math.max(0, input.startAt + (i * input.spreadMs) / input.viewers - epochMs()));
    let conn: RawConnection | undefined;
    let next: { msn: number; part: number } | undefined;
    let counted = false;
    while (epochMs() < input.measureTo) {
      try {
        if (!conn?.open) {
          conn = new RawConnection(input.host, input.port);
          conns.add(conn);
          await conn.connect();
          next = undefined;
        }
        if (!next) {
          const live = await conn.get(BENCH_PATHS.simPlaylist, true);
          next = live.status === 200 ? preloadHint(live.body!.toString('latin1')) : undefined;
          if (!next) {
            error(`live playlist: ${live.status}`);
            await sleep(200);
            continue;
          }
          if (!counted) {
            counted = true;
            out.started++;
          }
        }
        const pl = await conn.get(`${BENCH_PATHS.simPlaylist}?_HLS_msn=${next.msn}&_HLS_part=${next.part}`);
        if (pl.status !== 200) {
          error(`blocking playlist ${next.msn}.${next.part}: ${pl.status}`);
          next = undefined;
          await sleep(200);
          continue;
        }
        const publishedAt = Number(pl.headers['x-part-at']);
        const part = await conn.get(BENCH_PATHS.simPart(next.msn, next.part));
        if (part.status !== 200 || part.bytes !== input.simPartBytes) {
          error(`part ${next.msn}.${next.part}: ${part.status}, ${part.bytes} bytes`);
        } else if (part.sentAt >= input.measureFrom && part.sentAt < input.measureTo) {
          out.parts++;
          out.partMs.push(part.doneAt - part.sentAt);
          if (Number.isFinite(publishedAt)) out.lagMs.push(part.doneAt - publishedAt);
        }
        // Every part, in order, like a player that keeps its buffer full.
        next = next.part + 1 < input.partsPerSegment ? { msn: next.msn, part: next.part + 1 } : { msn: next.msn + 1, part: 0 };
      } catch (err) {
        if (epochMs() < input.measureTo) error((err as Error).message);
        conn?.close();
        conn = undefined;
        await sleep(100);
      }
    }
    conn?.close();
  };
  await Promise.all(Array.from({ length: input.viewers }, (_, i) => viewer(i)));
  clearTimeout(cut);
  return out;
}

if (parentPort) {
  const port = parentPort;
  void run(workerData as ViewerWorkerInput).then(
    (r) => port.postMessage(r),
    (err: unknown) => port.postMessage({ fatal: String(err) }),
  );
}
