import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { problem } from './errors.js';

/** Extra route of an ops server: return true when handled. */
export type OpsRoute = (req: http.IncomingMessage, res: http.ServerResponse, url: URL) => boolean;

/** Options of {@link OpsServer}. */
export interface OpsServerConfig {
  port: number;
  host: string;
  registry: Registry;
  /** Readiness for /healthz. */
  ready?: () => boolean;
  routes?: OpsRoute[];
}

/**
 * The small HTTP face of services that have no API of their own (ingest, a split-out packager):
 * `/healthz`, `/metrics`, and a few routes; everything else is a problem+json 404.
 */
export class OpsServer {
  private readonly server: http.Server;

  constructor(private readonly config: OpsServerConfig) {
    this.server = http.createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://ops');
      if (url.pathname === '/healthz') {
        const ok = config.ready?.() ?? true;
        return sendJson(res, ok ? 200 : 503, { status: ok ? 'ok' : 'starting' });
      }
      if (url.pathname === '/metrics') {
        void config.registry.metrics().then(
          (text) => {
            res.writeHead(200, { 'content-type': config.registry.contentType });
            res.end(text);
          },
          () => sendJson(res, 500, problem(500, 'METRICS_FAILED', 'could not collect metrics')),
        );
        return;
      }
      for (const route of config.routes ?? []) if (route(req, res, url)) return;
      sendJson(res, 404, problem(404, 'NOT_FOUND', `no route for ${req.method} ${url.pathname}`));
    });
  }

  async start(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.config.port, this.config.host, () => resolve());
    });
  }

  /** The bound port. */
  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** Writes a JSON (or problem+json, when it has a `code`) response. */
export function sendJson(res: http.ServerResponse, status: number, body: object): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'code' in body ? 'application/problem+json' : 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
