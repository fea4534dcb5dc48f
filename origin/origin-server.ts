import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Gauge, Histogram } from 'prom-client';
import type { BlobStore, Config, Logger, Registry } from '../platform/index.js';
import { BlobRangeError } from '../platform/index.js';
import { toRenditionPlaylist, toStreamMpd, toStreamMultivariant, type LiveCatalog, type RenditionState, type SegmentTextMemo, type StreamState } from '../packager/index.js';
import { hasPart, tooFarAhead } from './blocking-rules.js';
import { IMMUTABLE, streamGrowingSegment } from './growing-segment.js';
import { HotObjects, isMutable } from './hot-objects.js';
import { serveDownloadFile } from './download-file.js';
import { chooseEncoding, contentTypeOf, parseRange, sendProblem, sendText } from './http-replies.js';
import { LiveView, OriginBusyError } from './live-view.js';
import { parseDirectives, parseMediaPath, storageKeyOf, type DeliveryDirectives, type MediaPath } from './media-path.js';
import { PlaylistMemo, type RenderedText } from './playlist-memo.js';
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

/**
 * Serves /live and /vod: playlists rendered from the live catalog (memoised per catalog version and
 * compressed once), media from hot memory and the BlobStore. Blocking requests wait in the LiveView.
 */
export class OriginServer {
  private readonly server: http.Server;
  private readonly view: LiveView;
  private readonly hot: HotObjects;
  private readonly memo = new PlaylistMemo();
  /** Text of segments that can no longer change, rendered once per segment. */
  private readonly segmentText: SegmentTextMemo = new WeakMap();
  private readonly log: Logger;
  private readonly requests: Counter<'kind' | 'status'>;
  private readonly held: Gauge;
  private readonly waitSeconds: Histogram<'kind'>;
  private readonly counted = new Map<string, ReturnType<Counter<'kind' | 'status'>['labels']>>();

  constructor(
    private readonly deps: OriginDeps,
    private readonly config: Config,
  ) {
    this.log = deps.logger.child({ mod: 'origin' });
    this.view = new LiveView(deps.catalog, config.origin.maxHeldRequests);
    this.hot = new HotObjects(deps.blobs, 256 * 1024 * 1024);
    this.server = http.createServer((req, res) => {
      this.handle(req, res).catch((err) => {
        if (err instanceof OriginBusyError && !res.headersSent) {
          // Bounded: past ORIGIN_MAX_HELD_REQUESTS a blocking request is refused, not queued.
          res.setHeader('Retry-After', '1');
          this.count('busy', sendProblem(res, 503, 'ORIGIN_BUSY', 'the origin holds as many blocking requests as it may; retry'));
          return;
        }
        this.log.error({ err, url: req.url }, 'request failed');
        if (!res.headersSent) sendProblem(res, 500, 'INTERNAL', 'internal error');
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
    // Split by hand: a URL object per request is measurable on the blocking-reload hot path.
    const raw = req.url ?? '/';
    const q = raw.indexOf('?');
    const url = { pathname: q < 0 ? raw : raw.slice(0, q), searchParams: new URLSearchParams(q < 0 ? '' : raw.slice(q + 1)) };
    if (url.pathname === '/healthz') return sendText(res, 200, 'ok\n', 'text/plain', 'no-store');
    if (url.pathname === TIME_PATH) return sendText(res, 200, new Date().toISOString(), 'text/plain', 'no-store');
    if (url.pathname === '/metrics') {
      return sendText(res, 200, await this.deps.metrics.metrics(), this.deps.metrics.contentType, 'no-store');
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD, OPTIONS');
      return sendProblem(res, 405, 'METHOD_NOT_ALLOWED', `${req.method} is not supported`);
    }
    const path = parseMediaPath(url.pathname);
    if (!path) return this.count('unknown', sendProblem(res, 404, 'NOT_FOUND', 'no such media path'));
    switch (path.kind) {
      case 'master':
        return this.count(path.kind, await this.serveMaster(res, path.id));
      case 'mpd':
        return this.count(path.kind, await this.serveMpd(req, res, path.id));
      case 'media-playlist':
        return this.count(path.kind, await this.serveMediaPlaylist(req, res, path.id, path.rendition, url.searchParams));
      case 'part':
        return this.count(path.kind, await this.servePart(req, res, path));
      case 'segment':
        return this.count(path.kind, await this.serveSegment(req, res, path));
      case 'download':
        return this.count(path.kind, await serveDownloadFile(req, res, this.deps.blobs, path.id, path.rendition));
      default:
        return this.count(path.kind, await this.serveObject(req, res, path));
    }
  }

  private count(kind: string, status: number): void {
    // Label children cached per (kind, status): prom-client hashes a label object on every inc().
    const key = `${kind} ${status}`;
    let child = this.counted.get(key);
    if (!child) this.counted.set(key, (child = this.requests.labels(kind, String(status))));
    child.inc();
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
    if (!stream) return sendProblem(res, 404, 'STREAM_NOT_FOUND', `stream ${id} is not live`);
    if (stream === 'timeout') return this.starting(res, id);
    return sendText(res, 200, toStreamMultivariant(stream), 'application/vnd.apple.mpegurl', LIVE_PLAYLIST);
  }

  private starting(res: http.ServerResponse, id: string): number {
    res.setHeader('Retry-After', '1');
    return sendProblem(res, 503, 'STREAM_STARTING', `stream ${id} is starting: no complete segment yet`);
  }

  private async serveMpd(req: http.IncomingMessage, res: http.ServerResponse, id: string): Promise<number> {
    const stream = await this.whenStarted(id);
    if (!stream) return sendProblem(res, 404, 'STREAM_NOT_FOUND', `stream ${id} is not live`);
    if (stream === 'timeout') return this.starting(res, id);
    const states = await Promise.all(stream.renditions.map((r) => this.view.rendition(id, r.name)));
    if (states.some((s) => !s || s.segments.length === 0)) {
      return sendProblem(res, 404, 'STREAM_STARTING', `stream ${id} has no complete segment yet`);
    }
    const version = versionOf(stream, states as RenditionState[]);
    const mpd = this.memo.get(`${id} mpd`, version, () =>
      toStreamMpd(stream, states as RenditionState[], Date.now(), {
        // Low-latency DASH: the segment being produced is listed and served as it grows (serveSegment).
        // Not for a copied source: its segments end where its GOPs do, so the next one's length is unknown.
        growing: !stream.sourceGops,
        // With a SegmentTimeline a player learns of the next segment from an MPD update: refresh often
        // enough that it hears of a segment within a part or two of its start (the MPD is memoised).
        minimumUpdatePeriod: Math.max(0.25, 1.5 * stream.partTarget),
        // Players may ask for a listed segment once its first part exists.
        availabilityTimeOffset: stream.segmentTarget - stream.partTarget,
        // ServiceDescription: DASH players (dash.js) aim here instead of suggestedPresentationDelay.
        targetLatency: dashTargetLatency(stream.partTarget),
        latencyRange: { min: 0.5 * dashTargetLatency(stream.partTarget), max: 2 * dashTargetLatency(stream.partTarget) },
        playbackRate: { min: 0.9, max: 1.1 },
        suggestedPresentationDelay: dashTargetLatency(stream.partTarget),
        utcTiming: { schemeIdUri: 'urn:mpeg:dash:utc:http-iso:2014', value: TIME_PATH },
      }),
    );
    return this.sendRendered(req, res, mpd, 'application/dash+xml', LIVE_PLAYLIST);
  }

  /** A memoised text in the coding the client prefers, with Vary so caches keep the codings apart. */
  private sendRendered(req: http.IncomingMessage, res: http.ServerResponse, text: RenderedText, type: string, cache: string): number {
    const { bytes, encoding } = text.encoded(chooseEncoding(req.headers['accept-encoding']));
    const extra: http.OutgoingHttpHeaders = { Vary: 'Accept-Encoding' };
    if (encoding !== 'identity') extra['Content-Encoding'] = encoding;
    return sendText(res, 200, bytes, type, cache, req.method === 'HEAD', extra);
  }

  private async serveMediaPlaylist(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    id: string,
    rendition: string,
    query: URLSearchParams,
  ): Promise<number> {
    const directives = parseDirectives(query);
    if (typeof directives === 'string') return sendProblem(res, 400, 'BAD_DELIVERY_DIRECTIVE', directives);
    let state = await this.view.rendition(id, rendition);
    if (!state) {
      // A rendition of a starting stream that has not announced itself yet: hold, as for the first segment.
      const stream = await this.view.stream(id);
      if (stream && !stream.ended && stream.expectedRenditions.includes(rendition)) {
        state = await this.view.waitFor(id, rendition, (s) => s.segments.length > 0, this.holdTimeoutMs(stream.segmentTarget));
        if (!state) return this.starting(res, id);
      } else {
        return sendProblem(res, 404, 'RENDITION_NOT_FOUND', `no live rendition ${rendition} for stream ${id}`);
      }
    }
    if (state.segments.length === 0 && !state.ended) {
      state = await this.view.waitFor(id, rendition, (s) => s.segments.length > 0, this.holdTimeoutMs(state.targetDuration));
      if (!state) return this.starting(res, id);
    }
    const blocking = directives.msn !== undefined;
    if (blocking && !state.ended) {
      const { msn, part } = directives as Required<Pick<DeliveryDirectives, 'msn'>> & DeliveryDirectives;
      // §6.2.5.2: a request further ahead than two segments or the Advance Part Limit is an error.
      if (tooFarAhead(state, msn, part)) {
        return sendProblem(res, 400, 'TOO_FAR_AHEAD', `_HLS_msn=${msn}${part !== undefined ? ` _HLS_part=${part}` : ''} is too far beyond the live edge (msn ${state.current.msn}, part ${state.current.parts.length - 1})`);
      }
      const started = performance.now();
      const ready = await this.view.waitFor(id, rendition, (s) => hasPart(s, msn, part), this.holdTimeoutMs(state.targetDuration));
      this.waitSeconds.labels('playlist').observe((performance.now() - started) / 1000);
      if (!ready) {
        res.setHeader('Retry-After', '1');
        return sendProblem(res, 503, 'BLOCKING_TIMEOUT', `part ${msn}.${part ?? 0} did not appear in time`);
      }
      state = ready;
    }
    const stream = await this.view.stream(id);
    const siblings = await this.siblings(id, rendition, stream);
    const encryption = stream?.encryption;
    const skip = directives.skip !== undefined;
    // The state is folded in place: render now, before any other await, and memoise per catalog version.
    const now = state;
    const body = this.memo.get(`${id} ${rendition} ${skip ? 'skip' : 'full'}`, versionOf(null, [now, ...siblings]), () =>
      toRenditionPlaylist(now, { skip, siblings, memo: this.segmentText, ...(encryption ? { encryption } : {}) }),
    );
    // A blocking response for a given (msn, part) never changes, so caches may keep it (DESIGN "Live media rules").
    const cache = blocking ? `public, max-age=${Math.max(6, 6 * state.targetDuration)}` : LIVE_PLAYLIST;
    return this.sendRendered(req, res, body, 'application/vnd.apple.mpegurl', state.ended ? 'public, max-age=60' : cache);
  }

  /** Sibling renditions' latest positions, for EXT-X-RENDITION-REPORT. */
  private async siblings(id: string, rendition: string, stream: StreamState | null | undefined): Promise<RenditionState[]> {
    if (!stream) return [];
    const states = await Promise.all(stream.renditions.filter((r) => r.name !== rendition).map((r) => this.view.rendition(id, r.name)));
    return states.filter((s): s is RenditionState => s !== null);
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
      this.waitSeconds.labels('part').observe((performance.now() - started) / 1000);
      if (!ready) {
        res.setHeader('Retry-After', '1');
        return sendProblem(res, 503, 'BLOCKING_TIMEOUT', `part ${path.msn}.${path.part} did not appear in time`);
      }
    }
    return this.serveObject(req, res, path);
  }

  /** Segments: complete ones come from storage; the one being produced is streamed as its parts complete. */
  private async serveSegment(req: http.IncomingMessage, res: http.ServerResponse, path: Extract<MediaPath, { kind: 'segment' }>): Promise<number> {
    const state = await this.view.rendition(path.id, path.rendition);
    const growing = state && !state.ended && path.msn === state.current.msn;
    if (!growing) return this.serveObject(req, res, path);
    const timeoutMs = this.holdTimeoutMs(state.targetDuration);
    if (req.method === 'HEAD' || req.headers.range) {
      // Sizes and ranges need the whole segment: wait for it.
      const done = await this.view.waitFor(path.id, path.rendition, (s) => s.current.msn > path.msn, timeoutMs);
      if (!done) return sendProblem(res, 503, 'BLOCKING_TIMEOUT', `segment ${path.msn} did not complete in time`);
      return this.serveObject(req, res, path);
    }
    return streamGrowingSegment(this.view, this.hot, res, { id: path.id, rendition: path.rendition, msn: path.msn, timeoutMs });
  }

  private async serveObject(req: http.IncomingMessage, res: http.ServerResponse, path: MediaPath): Promise<number> {
    const key = storageKeyOf(path);
    if (!key) return sendProblem(res, 404, 'NOT_FOUND', 'no such object');
    const range = parseRange(req.headers.range);
    if (range === 'invalid') return sendProblem(res, 416, 'RANGE_NOT_SATISFIABLE', 'malformed Range header');
    let obj;
    try {
      obj = await this.hot.get(key, range);
    } catch (err) {
      if (err instanceof BlobRangeError) {
        res.setHeader('Content-Range', `bytes */${err.size}`);
        return sendProblem(res, 416, 'RANGE_NOT_SATISFIABLE', err.message);
      }
      throw err;
    }
    if (!obj) return sendProblem(res, 404, 'NOT_FOUND', `${path.kind} not found`);
    const isPlaylist = /\.(m3u8|mpd)$/.test(key);
    const headers: http.OutgoingHttpHeaders = {
      'Content-Type': obj.contentType ?? contentTypeOf(key),
      // A playlist stored as mutable (a growing VOD) keeps its own short lifetime; others are kept a minute.
      'Cache-Control': isPlaylist ? (isMutable(obj.cacheControl) ? obj.cacheControl! : 'public, max-age=60') : IMMUTABLE,
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
}

/**
 * The live latency a DASH player should hold, seconds: a few parts of buffer over the chunked segment
 * being produced (DASH-IF low-latency modes), 1.5 s at the default 1/3 s parts.
 */
export function dashTargetLatency(partTarget: number): number {
  return Math.max(1, Math.round(4.5 * partTarget * 10) / 10);
}

/** Identifies what a rendered text was made from: the stream's session and every rendition's catalog position. */
function versionOf(stream: StreamState | null, states: RenditionState[]): string {
  const head = stream ? `${stream.sessionId}:${stream.ended ? 'e' : 'l'}:${stream.renditions.length}` : '';
  return `${head}|${states.map((s) => `${s.rendition}@${s.epoch}:${s.seq}`).join(',')}`;
}
