import http from 'node:http';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import type { EdgeConfig } from './contract.js';
import { EdgeServer, type EdgeDeps } from './edge-server.js';

/** A started edge for tests, with its registry. */
export interface TestEdge {
  edge: EdgeServer;
  registry: Registry;
  url: string;
  close(): Promise<void>;
}

/** Starts an edge on a free loopback port in front of `originUrls`, with fast health checks. */
export async function startEdge(originUrls: string[], overrides: Partial<EdgeConfig> = {}, deps: Pick<EdgeDeps, 'playbackPolicy'> = {}): Promise<TestEdge> {
  const registry = new Registry();
  const edge = new EdgeServer(
    { logger: pino({ level: process.env.EDGE_TEST_LOG ?? 'silent' }), metrics: registry, ...deps },
    { port: 0, bindHost: '127.0.0.1', originUrls, cacheBytes: 8 * 1024 * 1024, healthIntervalMs: 100, ...overrides },
  );
  await edge.start();
  return { edge, registry, url: `http://127.0.0.1:${edge.address().port}`, close: () => edge.close() };
}

/** A response as the tests look at it. */
export interface Got {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  /** Epoch ms of the first body byte (undefined for an empty body). */
  firstByteAt?: number;
  /** Epoch ms of the head. */
  headAt: number;
}

/** A plain node:http request (no pooling surprises), recording when the head and first bytes came. */
export function get(url: string, headers: http.OutgoingHttpHeaders = {}, method = 'GET'): Promise<Got> {
  return new Promise((resolve, reject) => {
    // The path is sent exactly as written (a URL object would resolve `..` and `%2e%2e` first).
    const m = /^http:\/\/([^/:]+):(\d+)(\/.*)$/.exec(url);
    if (!m) throw new Error(`not an http URL with a port: ${url}`);
    const req = http.request({ host: m[1], port: Number(m[2]), path: m[3], method, headers, agent: false }, (res) => {
      const headAt = Date.now();
      const chunks: Buffer[] = [];
      let firstByteAt: number | undefined;
      res.on('data', (c: Buffer) => {
        firstByteAt ??= Date.now();
        chunks.push(c);
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), firstByteAt, headAt }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** The value of one sample in the Prometheus text of `registry` (labels matched as a substring). */
export async function metricValue(registry: Registry, name: string, labels = ''): Promise<number | undefined> {
  const text = await registry.metrics();
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    if (rest[0] !== ' ' && rest[0] !== '{') continue;
    if (labels && !rest.includes(labels)) continue;
    return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return undefined;
}

/** Resolves after `ms`. */
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `check` until it returns true or `timeoutMs` passes. */
export async function eventually(check: () => boolean | Promise<boolean>, timeoutMs = 3000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await sleep(20);
  }
}
