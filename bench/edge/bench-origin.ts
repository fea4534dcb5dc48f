/**
 * The origin both caches sit in front of during the edge benchmark: fixed objects for the hit test,
 * slow "cold" objects for the coalescing test, a playlist held until the benchmark releases it, and a
 * simulated LL-HLS rendition that publishes a part every `partMs` with blocking reload (RFC 8216bis
 * §6.2.5.2), like our real origin. Counts every media request by URL so the benchmark can tell how
 * many upstream fetches each cache made. Runs in its own process (origin-launcher.ts).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { epochMs } from './stats.js';

/** Sizes and timing of the bench origin. */
export interface BenchOriginOptions {
  /** Hit-test playlist size (padded LL-HLS text); default 2048. */
  playlistBytes: number;
  /** Hit-test part size; default 150 000. */
  partBytes: number;
  /** Cold-object size (a freshly published live part); default 60 000. */
  coldBytes: number;
  /** Hit-test segment size; default 1 500 000. */
  segmentBytes: number;
  /** Simulated live part size; default 60 000. */
  simPartBytes: number;
  /** Simulated part duration; default 500 (our origin's LIVE_PART_TARGET default). */
  partMs: number;
  /** Parts per segment of the simulation; default 4 (2 s segments). */
  partsPerSegment: number;
  /** Longest hold of a blocking request before 503 + Retry-After; default 6000. */
  holdTimeoutMs: number;
}

/** Defaults of BenchOriginOptions. */
export const BENCH_ORIGIN_DEFAULTS: BenchOriginOptions = {
  playlistBytes: 2048,
  partBytes: 150_000,
  coldBytes: 60_000,
  segmentBytes: 1_500_000,
  simPartBytes: 60_000,
  partMs: 500,
  partsPerSegment: 4,
  holdTimeoutMs: 6000,
};

/** Paths the benchmark requests (through a cache) from this origin. */
export const BENCH_PATHS = {
  playlist: '/live/b/720p/index.m3u8',
  part: '/live/b/720p/part-1.0.m4s',
  segment: '/live/b/720p/seg-1.m4s',
  /** A fresh cold object per burst: `n` makes it unique, `delayMs` is how long the origin takes. */
  cold: (n: number, delayMs: number) => `/live/cold/720p/part-${n}-d${delayMs}.m4s`,
  /** A playlist request held at the origin until `GET /control/release?msn=N`. */
  blocked: (msn: number) => `/live/blk/720p/index.m3u8?_HLS_msn=${msn}&_HLS_part=0`,
  simPlaylist: '/live/sim/720p/index.m3u8',
  simPart: (msn: number, part: number) => `/live/sim/720p/part-${msn}.${part}.m4s`,
} as const;

const IMMUTABLE = 'public, max-age=31536000, immutable';
/** Same rules as origin/origin-server.ts: live playlists are no-cache, blocking answers keep 6 × target. */
const LIVE_PLAYLIST = 'no-cache';
const BLOCKING_PLAYLIST = 'public, max-age=12';
const COLD = /^\/live\/cold\/720p\/part-\d+-d(\d{1,5})\.m4s$/;
const SIM_PART = /^\/live\/sim\/720p\/part-(\d+)\.(\d+)\.m4s$/;

interface Held {
  res: http.ServerResponse;
  until: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The benchmark's origin server (node:http). */
export class BenchOrigin {
  private readonly o: BenchOriginOptions;
  private readonly server: http.Server;
  private readonly counts = new Map<string, number>();
  private readonly playlist: Buffer;
  private readonly part: Buffer;
  private readonly segment: Buffer;
  private readonly cold: Buffer;
  private readonly simPart: Buffer;
  /** Blocked-playlist requests by msn, until released. */
  private readonly blocked = new Map<number, http.ServerResponse[]>();
  /** Simulation: requests waiting for part index k (msn × partsPerSegment + part). */
  private readonly simWaiters = new Map<number, Held[]>();
  private simStart = 0;
  private simTimer?: NodeJS.Timeout;

  constructor(options: Partial<BenchOriginOptions> = {}) {
    this.o = { ...BENCH_ORIGIN_DEFAULTS, ...options };
    this.playlist = padPlaylist(this.o.playlistBytes);
    this.part = filled(this.o.partBytes, 1);
    this.segment = filled(this.o.segmentBytes, 2);
    this.cold = filled(this.o.coldBytes, 4);
    this.simPart = filled(this.o.simPartBytes, 3);
    this.server = http.createServer({ noDelay: true }, (req, res) => void this.handle(req, res));
    this.server.keepAliveTimeout = 65_000;
  }

  /** Listens on a free loopback port and starts the simulated live clock. */
  async start(): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(0, '127.0.0.1', () => resolve());
    });
    this.simStart = epochMs();
    this.scheduleTick();
    return (this.server.address() as AddressInfo).port;
  }

  /** Stops the clock and closes every connection. */
  async close(): Promise<void> {
    clearTimeout(this.simTimer);
    const closed = new Promise<void>((r) => this.server.close(() => r()));
    this.server.closeAllConnections();
    await closed;
  }

  /** Index of the newest published simulated part (-1 before the first). */
  latestPart(now = epochMs()): number {
    return Math.floor((now - this.simStart) / this.o.partMs) - 1;
  }

  /** Epoch ms at which part index k was published. */
  partPublishedAt(k: number): number {
    return this.simStart + (k + 1) * this.o.partMs;
  }

  private scheduleTick(): void {
    const next = this.partPublishedAt(this.latestPart() + 1);
    this.simTimer = setTimeout(() => this.onTick(), Math.max(1, next - epochMs()));
  }

  /** A part was published: answer everyone waiting for it or an earlier one. */
  private onTick(): void {
    const latest = this.latestPart();
    const now = epochMs();
    for (const [k, list] of this.simWaiters) {
      if (k <= latest) {
        this.simWaiters.delete(k);
        for (const h of list) if (!h.res.destroyed) this.sendSimPlaylist(h.res, k, true);
      } else {
        // Past the hold limit: RFC 8216bis lets the server give up; our origin answers 503 + Retry-After.
        const kept = list.filter((h) => {
          if (now < h.until) return true;
          this.send(h.res, 503, 'text/plain', 'no-store', Buffer.from('part did not appear in time'), ['retry-after', '1']);
          return false;
        });
        if (kept.length) this.simWaiters.set(k, kept);
        else this.simWaiters.delete(k);
      }
    }
    this.scheduleTick();
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    if (path === '/healthz') return this.send(res, 200, 'text/plain', 'no-store', Buffer.from('ok'));
    if (path === '/stats') return this.sendStats(res, url.includes('reset=1'));
    if (path === '/control/release') return this.release(res, Number(new URLSearchParams(url.slice(q + 1)).get('msn')));
    this.counts.set(url, (this.counts.get(url) ?? 0) + 1);
    if (path === BENCH_PATHS.playlist) return this.send(res, 200, 'application/vnd.apple.mpegurl', 'public, max-age=60', this.playlist);
    if (path === BENCH_PATHS.part) return this.send(res, 200, 'video/iso.segment', IMMUTABLE, this.part);
    if (path === BENCH_PATHS.segment) return this.send(res, 200, 'video/iso.segment', IMMUTABLE, this.segment);
    const cold = COLD.exec(path);
    if (cold) {
      await sleep(Number(cold[1]));
      return this.send(res, 200, 'video/iso.segment', IMMUTABLE, this.cold);
    }
    const query = q < 0 ? undefined : new URLSearchParams(url.slice(q + 1));
    if (path === '/live/blk/720p/index.m3u8') return this.holdBlocked(res, query);
    if (path === BENCH_PATHS.simPlaylist) return this.simPlaylistRequest(res, query);
    const simPart = SIM_PART.exec(path);
    if (simPart) {
      const k = Number(simPart[1]) * this.o.partsPerSegment + Number(simPart[2]);
      if (Number(simPart[2]) >= this.o.partsPerSegment || k > this.latestPart()) {
        return this.send(res, 404, 'text/plain', 'no-store', Buffer.from('no such part yet'));
      }
      return this.send(res, 200, 'video/iso.segment', IMMUTABLE, this.simPart);
    }
    this.send(res, 404, 'text/plain', 'no-store', Buffer.from('not found'));
  }

  private holdBlocked(res: http.ServerResponse, query: URLSearchParams | undefined): void {
    const msn = Number(query?.get('_HLS_msn'));
    if (!Number.isInteger(msn)) return this.send(res, 200, 'application/vnd.apple.mpegurl', LIVE_PLAYLIST, this.playlist);
    const list = this.blocked.get(msn) ?? [];
    list.push(res);
    this.blocked.set(msn, list);
  }

  /** Answers every held request for `msn` at once, stamping the release time (same machine clock). */
  private release(res: http.ServerResponse, msn: number): void {
    const list = this.blocked.get(msn) ?? [];
    this.blocked.delete(msn);
    const at = epochMs();
    for (const r of list) {
      if (!r.destroyed) this.send(r, 200, 'application/vnd.apple.mpegurl', BLOCKING_PLAYLIST, this.playlist, ['x-released-at', at.toFixed(3)]);
    }
    this.send(res, 200, 'application/json', 'no-store', Buffer.from(JSON.stringify({ released: list.length, at })));
  }

  private simPlaylistRequest(res: http.ServerResponse, query: URLSearchParams | undefined): void {
    const latest = this.latestPart();
    const msnRaw = query?.get('_HLS_msn');
    if (msnRaw === undefined || msnRaw === null) return this.sendSimPlaylist(res, latest, false);
    const msn = Number(msnRaw);
    const partRaw = query!.get('_HLS_part');
    // Without _HLS_part the client waits for the whole segment msn (its last part).
    const k = partRaw === null ? (msn + 1) * this.o.partsPerSegment - 1 : msn * this.o.partsPerSegment + Number(partRaw);
    if (!Number.isInteger(k) || k < 0 || Number(partRaw ?? 0) >= this.o.partsPerSegment) {
      return this.send(res, 400, 'text/plain', 'no-store', Buffer.from('bad delivery directive'));
    }
    // §6.2.5.2: more than two segments beyond the live edge is a client error.
    if (k > latest + 2 * this.o.partsPerSegment) return this.send(res, 400, 'text/plain', 'no-store', Buffer.from('too far ahead'));
    if (k <= latest) return this.sendSimPlaylist(res, k, true);
    const list = this.simWaiters.get(k) ?? [];
    list.push({ res, until: epochMs() + this.o.holdTimeoutMs });
    this.simWaiters.set(k, list);
  }

  /** The simulated playlist as of now; a blocking answer carries when part `k` was published. */
  private sendSimPlaylist(res: http.ServerResponse, k: number, blocking: boolean): void {
    const body = Buffer.from(this.renderSim(this.latestPart()));
    const extra = blocking ? ['x-part-at', this.partPublishedAt(k).toFixed(3)] : [];
    this.send(res, 200, 'application/vnd.apple.mpegurl', blocking ? BLOCKING_PLAYLIST : LIVE_PLAYLIST, body, extra);
  }

  /** An LL-HLS media playlist: 6 segments, parts listed for the last 2 and the one in progress. */
  private renderSim(latest: number): string {
    const pps = this.o.partsPerSegment;
    const partS = (this.o.partMs / 1000).toFixed(3);
    const segS = ((this.o.partMs * pps) / 1000).toFixed(3);
    const curMsn = Math.floor((latest + 1) / pps);
    const first = Math.max(0, curMsn - 6);
    const lines = [
      '#EXTM3U',
      '#EXT-X-VERSION:9',
      `#EXT-X-TARGETDURATION:${Math.ceil((this.o.partMs * pps) / 1000)}`,
      `#EXT-X-PART-INF:PART-TARGET=${partS}`,
      `#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=${((3 * this.o.partMs) / 1000).toFixed(3)},CAN-SKIP-UNTIL=12.0`,
      `#EXT-X-MEDIA-SEQUENCE:${first}`,
      '#EXT-X-MAP:URI="init.mp4"',
      `#EXT-X-PROGRAM-DATE-TIME:${new Date(this.simStart + first * this.o.partMs * pps).toISOString()}`,
    ];
    for (let msn = first; msn <= curMsn; msn++) {
      const parts = msn < curMsn ? pps : latest + 1 - curMsn * pps;
      if (msn >= curMsn - 2) {
        for (let p = 0; p < parts; p++) {
          lines.push(`#EXT-X-PART:DURATION=${partS},URI="part-${msn}.${p}.m4s"${p === 0 ? ',INDEPENDENT=YES' : ''}`);
        }
      }
      if (msn < curMsn) lines.push(`#EXTINF:${segS},`, `seg-${msn}.m4s`);
    }
    const next = latest + 1;
    lines.push(`#EXT-X-PRELOAD-HINT:TYPE=PART,URI="part-${Math.floor(next / pps)}.${next % pps}.m4s"`);
    lines.push(`#EXT-X-RENDITION-REPORT:URI="../480p/index.m3u8",LAST-MSN=${Math.floor(latest / pps)},LAST-PART=${latest % pps}`);
    return lines.join('\n') + '\n';
  }

  private sendStats(res: http.ServerResponse, reset: boolean): void {
    const body = Buffer.from(JSON.stringify({ requests: Object.fromEntries(this.counts), latestPart: this.latestPart() }));
    if (reset) this.counts.clear();
    this.send(res, 200, 'application/json', 'no-store', body);
  }

  private send(res: http.ServerResponse, status: number, type: string, cache: string, body: Buffer, extra: string[] = []): void {
    if (res.destroyed) return;
    res.writeHead(status, ['content-type', type, 'cache-control', cache, 'content-length', String(body.length), ...extra]);
    res.end(body);
  }
}

/** Number of upstream requests in a /stats answer whose URL starts with `prefix`. */
export function countRequests(stats: { requests: Record<string, number> }, prefix: string): number {
  let n = 0;
  for (const [url, c] of Object.entries(stats.requests)) if (url.startsWith(prefix)) n += c;
  return n;
}

/** The next part a player should ask for, from a playlist's EXT-X-PRELOAD-HINT (`part-M.P.m4s`). */
export function preloadHint(playlist: string): { msn: number; part: number } | undefined {
  const m = /#EXT-X-PRELOAD-HINT:TYPE=PART,URI="part-(\d+)\.(\d+)\.m4s"/.exec(playlist);
  return m ? { msn: Number(m[1]), part: Number(m[2]) } : undefined;
}

function filled(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed) & 0xff;
  return b;
}

/** A static LL-HLS-looking playlist padded with comment lines to exactly `n` bytes (when n allows). */
function padPlaylist(n: number): Buffer {
  const lines = ['#EXTM3U', '#EXT-X-VERSION:9', '#EXT-X-TARGETDURATION:2', '#EXT-X-PART-INF:PART-TARGET=0.500', '#EXT-X-MEDIA-SEQUENCE:1'];
  let msn = 1;
  let text = lines.join('\n') + '\n';
  // Stop while more than one entry (~90 bytes) is left, then pad with one comment line.
  while (text.length + 200 < n) {
    text += `#EXT-X-PART:DURATION=0.500,URI="part-${msn}.0.m4s",INDEPENDENT=YES\n#EXTINF:2.000,\nseg-${msn}.m4s\n`;
    msn++;
  }
  if (text.length + 2 <= n) text += '#' + 'x'.repeat(n - text.length - 2) + '\n';
  return Buffer.from(text);
}
