import type http from 'node:http';
import { problem } from '../platform/index.js';

/** Content codings the origin offers for text it renders, best first. */
export type TextEncoding = 'br' | 'gzip' | 'identity';

/**
 * The coding to answer with, from Accept-Encoding (RFC 9110 §12.5.3): br where accepted, else gzip,
 * else identity. A coding with q=0 is refused; `*` stands for any not named.
 */
export function chooseEncoding(header: string | undefined): TextEncoding {
  if (!header) return 'identity';
  const q = new Map<string, number>();
  for (const item of header.toLowerCase().split(',')) {
    const [name, ...params] = item.trim().split(';');
    if (!name) continue;
    const qp = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    const value = qp ? Number(qp.slice(2)) : 1;
    q.set(name, Number.isFinite(value) ? value : 0);
  }
  const accepts = (coding: string) => (q.get(coding) ?? q.get('*') ?? 0) > 0;
  if (accepts('br')) return 'br';
  if (accepts('gzip') || accepts('x-gzip')) return 'gzip';
  return 'identity';
}

/** Writes a text reply with its length; only headers for HEAD. */
export function sendText(res: http.ServerResponse, status: number, body: string | Buffer, type: string, cache: string, head = false, extra: http.OutgoingHttpHeaders = {}): number {
  res.writeHead(status, { 'Content-Type': type, 'Cache-Control': cache, 'Content-Length': Buffer.byteLength(body), ...extra });
  res.end(head ? undefined : body);
  return status;
}

/** Writes an application/problem+json reply (never cached). */
export function sendProblem(res: http.ServerResponse, status: number, code: string, detail: string): number {
  const body = JSON.stringify(problem(status, code, detail));
  res.writeHead(status, { 'Content-Type': 'application/problem+json', 'Cache-Control': 'no-store', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
  return status;
}

/** A single `bytes=a-b` or `bytes=a-` range; undefined without a header, 'invalid' for anything else. */
export function parseRange(header: string | undefined): { start: number; end?: number } | undefined | 'invalid' {
  if (!header) return undefined;
  const m = /^bytes=(\d+)-(\d*)$/.exec(header.trim());
  if (!m) return 'invalid';
  const start = Number(m[1]);
  const end = m[2] ? Number(m[2]) : undefined;
  if (end !== undefined && end < start) return 'invalid';
  return { start, end };
}

/** Content-Type of a stored object from its name. */
export function contentTypeOf(key: string): string {
  if (key.endsWith('.m3u8')) return 'application/vnd.apple.mpegurl';
  if (key.endsWith('.mpd')) return 'application/dash+xml';
  if (key.endsWith('.m4s')) return 'video/iso.segment';
  if (key.endsWith('.mp4')) return 'video/mp4';
  if (key.endsWith('.jpg')) return 'image/jpeg';
  return 'application/octet-stream';
}
