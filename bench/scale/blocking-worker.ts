/**
 * Worker-thread entry for the blocking-reload scale run: each viewer follows one rendition of one
 * simulated stream on one keep-alive connection, asking for the hinted part with a delta update
 * (`_HLS_msn`/`_HLS_part`/`_HLS_skip=YES`, as hls.js does on a long live playlist), and records how
 * long after the part's scheduled publication its playlist arrived.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { preloadHint } from '../edge/bench-origin.js';
import { RawConnection } from '../edge/raw-http.js';
import { epochMs } from '../edge/stats.js';

/** What the parent gives a worker. */
export interface BlockingWorkerInput {
  port: number;
  /** [streamId, rendition, stream index] per viewer. */
  viewers: [string, string, number][];
  /** Publication schedule: part `index` of stream s is due at t0 + s × streamOffsetMs + (index − firstIndex) × partMs. */
  t0: number;
  streamOffsetMs: number;
  partMs: number;
  partsPerSegment: number;
  firstIndex: number;
  measureFrom: number;
  measureTo: number;
}

/** What a worker reports. */
export interface BlockingWorkerOutput {
  /** Scheduled publication → playlist received, ms, for responses in the window. */
  lagMs: number[];
  responses: number;
  bytes: number;
  errors: number;
  errorSamples: string[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function run(input: BlockingWorkerInput): Promise<BlockingWorkerOutput> {
  const out: BlockingWorkerOutput = { lagMs: [], responses: 0, bytes: 0, errors: 0, errorSamples: [] };
  const error = (what: string) => {
    out.errors++;
    if (out.errorSamples.length < 5) out.errorSamples.push(what);
  };
  const conns = new Set<RawConnection>();
  const cut = setTimeout(() => {
    for (const c of conns) c.close();
  }, input.measureTo + 5000 - epochMs());
  const viewer = async ([streamId, rendition, s]: [string, string, number], i: number): Promise<void> => {
    // Join over the first second, as viewers arrive.
    await sleep((i % 1000) + 1);
    const path = `/live/${streamId}/${rendition}/index.m3u8`;
    let conn: RawConnection | undefined;
    let next: { msn: number; part: number } | undefined;
    while (epochMs() < input.measureTo) {
      try {
        if (!conn?.open) {
          conn = new RawConnection('127.0.0.1', input.port);
          conns.add(conn);
          await conn.connect();
        }
        const query = next ? `?_HLS_msn=${next.msn}&_HLS_part=${next.part}&_HLS_skip=YES` : '';
        const res = await conn.get(path + query, true);
        if (res.status !== 200) {
          error(`${path}${query}: ${res.status}`);
          next = undefined;
          await sleep(200);
          continue;
        }
        const asked = next;
        next = preloadHint(res.body!.toString('latin1'));
        if (!next) {
          error(`${path}: no preload hint`);
          await sleep(200);
          continue;
        }
        if (asked && res.sentAt >= input.measureFrom && res.sentAt < input.measureTo) {
          out.responses++;
          out.bytes += res.bytes;
          const index = (asked.msn - 1) * input.partsPerSegment + asked.part;
          const due = input.t0 + s * input.streamOffsetMs + (index - input.firstIndex) * input.partMs;
          out.lagMs.push(res.doneAt - due);
        }
      } catch (err) {
        if (epochMs() < input.measureTo) error((err as Error).message);
        conn?.close();
        conn = undefined;
        next = undefined;
        await sleep(100);
      }
    }
    conn?.close();
  };
  await Promise.all(input.viewers.map((v, i) => viewer(v, i)));
  clearTimeout(cut);
  return out;
}

if (parentPort) {
  const port = parentPort;
  void run(workerData as BlockingWorkerInput).then(
    (r) => port.postMessage(r),
    (err: unknown) => port.postMessage({ fatal: String(err) }),
  );
}
