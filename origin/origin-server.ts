import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Gauge, Histogram } from 'prom-client';
import type { BlobStore, Config, Logger, Registry } from '../platform/index.js';
import { BlobRangeError, problem } from '../platform/index.js';
import { toRenditionPlaylist, toStreamMpd, toStreamMultivariant, type LiveCatalog, type RenditionState, type StreamState } from '../packager/index.js';
import { LiveView } from './live-view.js';
import { parseDirectives, parseMediaPath, storageKeyOf, type DeliveryDirectives, type MediaPath } from './media-path.js';

import { HotObjects } from './hot-objects.js';

/** Completed media never changes (RFC 8216bis §6.2.2 recommends long caching for it). */
const IMMUTABLE = 'public, max-age=31536000, immutable';
/** Live playlists change every part: let caches keep them for no time, but coalesce. */
const LIVE_PLAYLIST = 'no-cache';

/** Clock for DASH players (UTCTiming http-iso); the edge passes it through. */
const TIME_PATH = '/time';

/** Dependencies the origin is built from. */
export interface OriginDeps {
  blobs: BlobStore;
  catalog: LiveCatalog;
  logger: Logger;
  metrics: Registry;
}

/** Serves /live and /vod: playlists rendered from the live catalog, media from hot memory and the BlobStore. */
export class OriginServer {
  private readonly server: http.Server;
  private readonly view: LiveView;
  private readonly hot: HotObjects;
  private readonly log: Logger;
  private readonly requests: Counter<'kind' | 'status'>;
  private readonly held: Gauge;
  private readonly waitSeconds: Histogram<'kind'>;

  constructor(
    private readonly deps: OriginDeps,
    private readonly config: Config,
  ) {
    this.log = deps.logger.child({ mod: 'origin' });
    this.view = new LiveView(deps.catalog);
    this.hot = new HotObjects(deps.blobs, 256 * 1024 * 1024);
    this.server = http.createServer((req, res) => {
      this.handle(req, res).catch((err) => {
        this.log.error({ err, url: req.url }, 'request failed');
        if (!res.headersSent) this.sendProblem(res, 500, 'INTERNAL', 'internal error');
        else res.destroy();
      });
    });
    this.server.keepAliveTimeout = 65_000;
    const registers = [deps.metrics];
    this.requests = new Counter({ name: 'origin_requests_total', help: 'Origin requests by kind and status', labelNames: ['kind', 'status'], registers });
    const view = this.view;
    this.held = new Gauge({ name: 'origin_blocking_requests_held', help: 'Blocking playlist and preload-hint requests held now', registers, collect() { this.set(view.heldCount); } });
    this.waitSeconds = new Histogram({
      name: 'origin_blocking_wait_seconds',
      help: 'How long blocking requests were held',
      labelNames: ['kind'],
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8],
      registers,
    });
  }

  async start(): Promise<void> {
    await this.view.start();
    await new Promise<void>((resolve) => this.server.listen(this.config.ports.origin, this.config.bindHost, resolve));
    this.log.info({ port: this.port }, 'origin listening');
  }

  /** The bound port (useful when configured as 0). */
  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  async close(): Promise<void> {
    await this.view.close();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<unknown> {
    res.setHeader('Access-Control-Allow-Origin', '*');
    res.setHeader('Access-Control-Expose-Headers', 'Content-Length, Content-Range, ETag, Age');
    if (req.method === 'OPTIONS') {
      res.writeHead(204, { 'Access-Control-Allow-Methods': 'GET, HEAD, OPTIONS', 'Access-Control-Allow-Headers': 'Range, Authorization', 'Access-Control-Max-Age': '86400' });
      res.end();
      return;
    }
    const url = new URL(req.url ?? '/', 'http://origin');
    if (url.pathname === '/healthz') return this.sendText(res, 200, 'ok\n', 'text/plain', 'no-store');
    if (url.pathname === TIME_PATH) return this.sendText(res, 200, new Date().toISOString(), 'text/plain', 'no-store');
    if (url.pathname === '/metrics') {
      return this.sendText(res, 200, await this.deps.metrics.metrics(), this.deps.metrics.contentType, 'no-store');
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD, OPTIONS');
      return this.sendProblem(res, 405, 'METHOD_NOT_ALLOWED', `${req.method} is not supported`);
    }
    const path = parseMediaPath(url.pathname);
    if (!path) return this.count('unknown', this.sendProblem(res, 404, 'NOT_FOUND', 'no such media path'));
    switch (path.kind) {
      case 'master':
        return this.count(path.kind, await this.serveMaster(res, path.id));
      case 'mpd':
        return this.count(path.kind, await this.serveMpd(res, path.id));
      case 'media-playlist':
        return this.count(path.kind, await this.serveMediaPlaylist(req, res, path.id, path.rendition, url.searchParams));
      case 'part':
        return this.count(path.kind, await this.servePart(req, res, path));
      case 'segment':
        return this.count(path.kind, await this.serveSegment(req, res, path));
      default:
        return this.count(path.kind, await this.serveObject(req, res, path));
    }
  }

  private count(kind: string, status: number): void {
    this.requests.inc({ kind, status: String(status) });
  }

  /**
   * A stream that is starting is held (like a blocking reload) until every rendition of the ladder has a
   * complete segment, so a player never sees half a ladder or an empty media playlist.
   */
  private async whenStarted(id: string): Promise<StreamState | null | 'timeout'> {
    let stream = await this.view.stream(id);
    if (!stream || stream.ended) return stream;
    const timeout = this.holdTimeoutMs(stream.segmentTarget);
    for (const name of stream.expectedRenditions) {
      const ready = await this.view.waitFor(id, name, (s) => s.segments.length > 0 || s.ended, timeout);
      if (!ready) return 'timeout';
    }
    stream = await this.view.stream(id);
    return stream && stream.expectedRenditions.every((n) => stream!.renditions.some((r) => r.name === n)) ? stream : 'timeout';
  }

  private async serveMaster(res: http.ServerResponse, id: string): Promise<number> {
    const stream = await this.whenStarted(id);
    if (!stream) return this.sendProblem(res, 404, 'STREAM_NOT_FOUND', `stream ${id} is not live`);
    if (stream === 'timeout') return this.starting(res, id);
    return this.sendText(res, 200, toStreamMultivariant(stream), 'application/vnd.apple.mpegurl', LIVE_PLAYLIST);
  }

  private starting(res: http.ServerResponse, id: string): number {
    res.setHeader('Retry-After', '1');
    return this.sendProblem(res, 503, 'STREAM_STARTING', `stream ${id} is starting: no complete segment yet`);
  }

  private async serveMpd(res: http.ServerResponse, id: string): Promise<number> {
    const stream = await this.whenStarted(id);
    if (!stream) return this.sendProblem(res, 404, 'STREAM_NOT_FOUND', `stream ${id} is not live`);
    if (stream === 'timeout') return this.starting(res, id);
    const states = await Promise.all(stream.renditions.map((r) => this.view.rendition(id, r.name)));
    if (states.some((s) => !s || s.segments.length === 0)) {
      return this.sendProblem(res, 404, 'STREAM_STARTING', `stream ${id} has no complete segment yet`);
    }
    return this.sendText(res, 200, toStreamMpd(stream, states as RenditionState[], Date.now(), {
      minimumUpdatePeriod: stream.segmentTarget,
      // Segments are served while they grow (serveSegment), so players may ask once the first part exists.
      availabilityTimeOffset: stream.segmentTarget - stream.partTarget,
      // ServiceDescription: DASH players (dash.js) aim here instead of suggestedPresentationDelay.
      targetLatency: 2 * stream.segmentTarget,
      suggestedPresentationDelay: 3 * stream.segmentTarget,
      utcTiming: { schemeIdUri: 'urn:mpeg:dash:utc:http-iso:2014', value: TIME_PATH },
    }), 'application/dash+xml', LIVE_PLAYLIST);
  }

  private async serveMediaPlaylist(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    id: string,
    rendition: string,
    query: URLSearchParams,
  ): Promise<number> {
    const directives = parseDirectives(query);
    if (typeof directives === 'string') return this.sendProblem(res, 400, 'BAD_DELIVERY_DIRECTIVE', directives);
    let state = await this.view.rendition(id, rendition);
    if (!state) {
      // A rendition of a starting stream that has not announced itself yet: hold, as for the first segment.
      const stream = await this.view.stream(id);
      if (stream && !stream.ended && stream.expectedRenditions.includes(rendition)) {
        state = await this.view.waitFor(id, rendition, (s) => s.segments.length > 0, this.holdTimeoutMs(stream.segmentTarget));
        if (!state) return this.starting(res, id);
      } else {
        return this.sendProblem(res, 404, 'RENDITION_NOT_FOUND', `no live rendition ${rendition} for stream ${id}`);
      }
    }
    if (state.segments.length === 0 && !state.ended) {
      state = await this.view.waitFor(id, rendition, (s) => s.segments.length > 0, this.holdTimeoutMs(state.targetDuration));
      if (!state) return this.starting(res, id);
    }
    const blocking = directives.msn !== undefined;
    if (blocking && !state.ended) {
      const { msn, part } = directives as Required<Pick<DeliveryDirectives, 'msn'>> & DeliveryDirectives;
      // §6.2.5.2: a request more than two segments (or parts) beyond the playlist's end is an error.
      if (tooFarAhead(state, msn, part)) {
        return this.sendProblem(res, 400, 'TOO_FAR_AHEAD', `_HLS_msn=${msn}${part !== undefined ? ` _HLS_part=${part}` : ''} is more than two beyond the live edge (msn ${state.current.msn}, part ${state.current.parts.length - 1})`);
      }
      const started = performance.now();
      const ready = await this.view.waitFor(id, rendition, (s) => hasPart(s, msn, part), this.holdTimeoutMs(state.targetDuration));
      this.waitSeconds.observe({ kind: 'playlist' }, (performance.now() - started) / 1000);
      if (!ready) {
        res.setHeader('Retry-After', '1');
        return this.sendProblem(res, 503, 'BLOCKING_TIMEOUT', `part ${msn}.${part ?? 0} did not appear in time`);
      }
      state = ready;
    }
    const body = toRenditionPlaylist(state, { skip: directives.skip !== undefined, siblings: await this.siblings(id, rendition) });
    // A blocking response for a given (msn, part) never changes, so caches may keep it (DESIGN "Live media rules").
    const cache = blocking ? `public, max-age=${Math.max(6, 6 * state.targetDuration)}` : LIVE_PLAYLIST;
    return this.sendText(res, 200, body, 'application/vnd.apple.mpegurl', state.ended ? 'public, max-age=60' : cache, req.method === 'HEAD');
  }

  /** Sibling renditions' latest positions, for EXT-X-RENDITION-REPORT. */
  private async siblings(id: string, rendition: string): Promise<RenditionState[]> {
    const stream = await this.view.stream(id);
    if (!stream) return [];
    const out: RenditionState[] = [];
    for (const r of stream.renditions) {
      if (r.name === rendition) continue;
      const s = await this.view.rendition(id, r.name);
      if (s) out.push(s);
    }
    return out;
  }

  private holdTimeoutMs(targetDurationSeconds: number): number {
    // §6.2.5.2 suggests failing after three target durations; never hold past our own bound.
    return Math.min(this.config.origin.blockingTimeoutMs, 3 * targetDurationSeconds * 1000);
  }

  /** Parts: a request for the hinted (next) part is held until the part is complete (§6.2.5.3). */
  private async servePart(req: http.IncomingMessage, res: http.ServerResponse, path: Extract<MediaPath, { kind: 'part' }>): Promise<number> {
    const state = await this.view.rendition(path.id, path.rendition);
    if (state && !state.ended && !hasPart(state, path.msn, path.part) && !tooFarAhead(state, path.msn, path.part)) {
      const started = performance.now();
      const ready = await this.view.waitFor(path.id, path.rendition, (s) => hasPart(s, path.msn, path.part), this.holdTimeoutMs(state.targetDuration));
      this.waitSeconds.observe({ kind: 'part' }, (performance.now() - started) / 1000);
      if (!ready) {
        res.setHeader('Retry-After', '1');
        return this.sendProblem(res, 503, 'BLOCKING_TIMEOUT', `part ${path.msn}.${path.part} did not appear in time`);
      }
    }
    return this.serveObject(req, res, path);
  }

  /**
   * Segments: complete ones come from storage; the one being produced is streamed as its parts complete
   * (chunked), which is what DASH availabilityTimeOffset promises low-latency players. Its bytes are the
   * concatenation of its parts, identical to the finished segment, so it is immutable all the same.
   */
  private async serveSegment(req: http.IncomingMessage, res: http.ServerResponse, path: Extract<MediaPath, { kind: 'segment' }>): Promise<number> {
    const state = await this.view.rendition(path.id, path.rendition);
    const growing = state && !state.ended && path.msn === state.current.msn;
    if (!growing) return this.serveObject(req, res, path);
    const timeout = this.holdTimeoutMs(state.targetDuration);
    if (req.method === 'HEAD' || req.headers.range) {
      // Sizes and ranges need the whole segment: wait for it.
      const done = await this.view.waitFor(path.id, path.rendition, (s) => s.current.msn > path.msn, timeout);
      if (!done) return this.sendProblem(res, 503, 'BLOCKING_TIMEOUT', `segment ${path.msn} did not complete in time`);
      return this.serveObject(req, res, path);
    }
    const prefix = `live/${path.id}/${path.rendition}`;
    let written = 0;
    let part = 0;
    for (;;) {
      const s = await this.view.waitFor(path.id, path.rendition, (st) => st.current.msn > path.msn || st.current.parts.length > part, timeout);
      if (!s || s.ended) {
        // Stalled or ended mid-segment: end the response short rather than hold the connection forever.
        if (!res.headersSent) return this.sendProblem(res, 503, 'BLOCKING_TIMEOUT', `segment ${path.msn} stalled`);
        res.destroy();
        return 200;
      }
      if (!res.headersSent) res.writeHead(200, { 'Content-Type': 'video/iso.segment', 'Cache-Control': IMMUTABLE });
      if (s.current.msn > path.msn) {
        // Complete now: send what the parts have not covered yet from the stored segment, then end.
        const whole = await this.hot.get(`${prefix}/seg-${path.msn}.m4s`);
        if (!whole) {
          res.destroy();
          return 200;
        }
        res.end(whole.body.subarray(written));
        return 200;
      }
      const bytes = await this.hot.get(`${prefix}/part-${path.msn}.${part}.m4s`);
      if (!bytes) {
        res.destroy();
        return 200;
      }
      res.write(bytes.body);
      written += bytes.body.length;
      part++;
    }
  }

  private async serveObject(req: http.IncomingMessage, res: http.ServerResponse, path: MediaPath): Promise<number> {
    const key = storageKeyOf(path);
    if (!key) return this.sendProblem(res, 404, 'NOT_FOUND', 'no such object');
    const range = parseRange(req.headers.range);
    if (range === 'invalid') return this.sendProblem(res, 416, 'RANGE_NOT_SATISFIABLE', 'malformed Range header');
    let obj;
    try {
      obj = await this.hot.get(key, range);
    } catch (err) {
      if (err instanceof BlobRangeError) {
        res.setHeader('Content-Range', `bytes */${err.size}`);
        return this.sendProblem(res, 416, 'RANGE_NOT_SATISFIABLE', err.message);
      }
      throw err;
    }
    if (!obj) return this.sendProblem(res, 404, 'NOT_FOUND', `${path.kind} not found`);
    const isPlaylist = /\.(m3u8|mpd)$/.test(key);
    const headers: http.OutgoingHttpHeaders = {
      'Content-Type': obj.contentType ?? contentTypeOf(key),
      'Cache-Control': isPlaylist ? 'public, max-age=60' : IMMUTABLE,
      'Accept-Ranges': 'bytes',
      'Content-Length': obj.body.length,
    };
    if (obj.etag) headers.ETag = obj.etag;
    if (obj.etag && req.headers['if-none-match'] === obj.etag) {
      res.writeHead(304, headers);
      res.end();
      return 304;
    }
    let status = 200;
    if (obj.range) {
      status = 206;
      headers['Content-Range'] = `bytes ${obj.range.start}-${obj.range.end}/${obj.size}`;
    }
    res.writeHead(status, headers);
    res.end(req.method === 'HEAD' ? undefined : obj.body);
    return status;
  }

  private sendText(res: http.ServerResponse, status: number, body: string, type: string, cache: string, head = false): number {
    res.writeHead(status, { 'Content-Type': type, 'Cache-Control': cache, 'Content-Length': Buffer.byteLength(body) });
    res.end(head ? undefined : body);
    return status;
  }

  private sendProblem(res: http.ServerResponse, status: number, code: string, detail: string): number {
    const body = JSON.stringify(problem(status, code, detail));
    res.writeHead(status, { 'Content-Type': 'application/problem+json', 'Cache-Control': 'no-store', 'Content-Length': Buffer.byteLength(body) });
    res.end(body);
    return status;
  }
}

/** Whether the playlist already lists part `part` of segment `msn` (or the whole segment when part is absent). */
export function hasPart(s: RenditionState, msn: number, part?: number): boolean {
  if (s.current.msn > msn) return true;
  if (s.current.msn < msn) return false;
  return part !== undefined && s.current.parts.length > part;
}

/** §6.2.5.2: more than two segments, or two parts, past the last one listed. */
export function tooFarAhead(s: RenditionState, msn: number, part?: number): boolean {
  const lastMsn = s.current.msn;
  if (msn > lastMsn + 2) return true;
  if (msn === lastMsn && part !== undefined && part > s.current.parts.length - 1 + 2) return true;
  // Next segment(s): parts beyond the plausible count of a segment are bogus.
  const maxParts = Math.ceil(s.targetDuration / s.partTarget) + 2;
  return part !== undefined && part > maxParts;
}

function parseRange(header: string | undefined): { start: number; end?: number } | undefined | 'invalid' {
  if (!header) return undefined;
  const m = /^bytes=(\d+)-(\d*)$/.exec(header.trim());
  if (!m) return 'invalid';
  const start = Number(m[1]);
  const end = m[2] ? Number(m[2]) : undefined;
  if (end !== undefined && end < start) return 'invalid';
  return { start, end };
}

function contentTypeOf(key: string): string {
  if (key.endsWith('.m3u8')) return 'application/vnd.apple.mpegurl';
  if (key.endsWith('.mpd')) return 'application/dash+xml';
  if (key.endsWith('.m4s')) return 'video/iso.segment';
  if (key.endsWith('.mp4')) return 'video/mp4';
  if (key.endsWith('.jpg')) return 'image/jpeg';
  return 'application/octet-stream';
}
