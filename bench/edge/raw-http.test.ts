import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openConnections, RawConnection } from './raw-http.js';

describe('RawConnection against a real node:http server', () => {
  let server: http.Server;
  let port: number;
  const seen: string[] = [];

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      seen.push(req.url ?? '');
      if (req.url === '/fixed') {
        res.writeHead(200, { 'content-length': '5', 'x-test': 'a' });
        res.end('hello');
      } else if (req.url === '/chunked') {
        // No length: node:http answers an HTTP/1.1 client with chunked encoding.
        res.writeHead(200);
        res.write('abc');
        setTimeout(() => res.end(Buffer.alloc(70_000, 7)), 10);
      } else if (req.url === '/empty') {
        res.writeHead(304);
        res.end();
      } else {
        res.writeHead(404, { 'content-length': '0' });
        res.end();
      }
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  it('frames Content-Length, chunked and bodiless responses on one keep-alive socket', async () => {
    const c = new RawConnection('127.0.0.1', port);
    await c.connect();
    const a = await c.get('/fixed', true);
    expect(a.status).toBe(200);
    expect(a.body!.toString()).toBe('hello');
    expect(a.headers['x-test']).toBe('a');
    const b = await c.get('/chunked', true);
    expect(b.status).toBe(200);
    expect(b.bytes).toBe(70_003);
    expect(b.body!.subarray(0, 3).toString()).toBe('abc');
    expect(b.body![70_002]).toBe(7);
    const e = await c.get('/empty');
    expect(e.status).toBe(304);
    expect(e.bytes).toBe(0);
    const d = await c.get('/fixed');
    expect(d.body).toBeUndefined();
    expect(d.bytes).toBe(5);
    expect(d.sentAt).toBeLessThanOrEqual(d.headAt);
    expect(d.headAt).toBeLessThanOrEqual(d.doneAt);
    c.close();
  });

  it('refuses a second request while one is in flight, and fails requests on a closed socket', async () => {
    const c = new RawConnection('127.0.0.1', port);
    await c.connect();
    const first = c.get('/chunked');
    await expect(c.get('/fixed')).rejects.toThrow(/already in flight/);
    await first;
    c.close();
    await expect(c.get('/fixed')).rejects.toThrow(/closed/);
  });

  it('opens many connections in batches', async () => {
    const conns = await openConnections('127.0.0.1', port, 30, 8);
    const rs = await Promise.all(conns.map((c) => c.get('/fixed')));
    expect(rs.every((r) => r.status === 200 && r.bytes === 5)).toBe(true);
    for (const c of conns) c.close();
  });
});

describe('RawConnection with a close-delimited body', () => {
  it('ends the response when the server closes', async () => {
    // HTTP/1.0 style: no length, no chunking, the body ends with the connection (RFC 9112 §6.3).
    const server = net.createServer((s) => {
      s.once('data', () => s.end('HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil-close'));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const c = new RawConnection('127.0.0.1', (server.address() as AddressInfo).port);
    await c.connect();
    const r = await c.get('/', true);
    expect(r.body!.toString()).toBe('until-close');
    await new Promise((r2) => server.close(r2));
  });
});
