import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/** How the test origin answers one request. */
export interface OriginReply {
  status?: number;
  headers?: Record<string, string>;
  /** Whole body, or chunks written one by one with `chunkDelayMs` between them. */
  body?: string | Buffer | (string | Buffer)[];
  /** Wait before sending the head (a held blocking request). */
  delayMs?: number;
  chunkDelayMs?: number;
}

/** A route answer: fixed, or computed from the request (query included). */
export type OriginRoute = OriginReply | ((url: URL, req: http.IncomingMessage) => OriginReply | Promise<OriginReply>);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * A small real HTTP origin for edge tests: routes by pathname, can hold requests, stream bodies
 * slowly, answer 5xx, fail its health check, be killed (all sockets destroyed) and restarted on the
 * same port. Records every media request (not /healthz) in arrival order.
 */
export class TestOrigin {
  /** `path?query` of every non-health request, in arrival order. */
  readonly requests: string[] = [];
  /** Epoch ms when the last body of each path finished being written. */
  readonly finishedAt = new Map<string, number>();
  healthy = true;
  private readonly routes = new Map<string, OriginRoute>();
  private server?: http.Server;
  private readonly sockets = new Set<Socket>();
  private port = 0;

  /** Sets the answer for a pathname. */
  route(pathname: string, route: OriginRoute): this {
    this.routes.set(pathname, route);
    return this;
  }

  /** Requests whose path (query included) equals `url`, or whose pathname equals it when it has no query. */
  count(url: string): number {
    return this.requests.filter((r) => r === url || (!url.includes('?') && r.split('?')[0] === url)).length;
  }

  /** Listens on a free loopback port (or the port it had before a kill). */
  async start(): Promise<this> {
    const server = http.createServer((req, res) => void this.handle(req, res));
    server.on('connection', (s: Socket) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.server = server;
    this.port = (server.address() as AddressInfo).port;
    return this;
  }

  /** Base URL, e.g. http://127.0.0.1:4321. */
  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Stops at once: refuses new connections and cuts every open one (held requests included). */
  async kill(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://origin');
    if (url.pathname === '/healthz') {
      res.writeHead(this.healthy ? 200 : 503, { 'content-type': 'text/plain' });
      res.end(this.healthy ? 'ok' : 'down');
      return;
    }
    this.requests.push(req.url ?? '/');
    const route = this.routes.get(url.pathname);
    if (!route) {
      res.writeHead(404, { 'content-type': 'text/plain', 'cache-control': 'no-store' });
      res.end('not found');
      return;
    }
    const reply = typeof route === 'function' ? await route(url, req) : route;
    if (reply.delayMs) await sleep(reply.delayMs);
    if (res.destroyed) return;
    const chunks = Array.isArray(reply.body) ? reply.body : reply.body === undefined ? [] : [reply.body];
    const headers: Record<string, string> = { ...reply.headers };
    if (!Array.isArray(reply.body)) headers['content-length'] = String(chunks.reduce((n, c) => n + Buffer.byteLength(c), 0));
    res.writeHead(reply.status ?? 200, headers);
    for (let i = 0; i < chunks.length; i++) {
      if (i > 0 && reply.chunkDelayMs) await sleep(reply.chunkDelayMs);
      if (res.destroyed) return;
      res.write(chunks[i]);
    }
    res.end();
    this.finishedAt.set(url.pathname, Date.now());
  }
}
