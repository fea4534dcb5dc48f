/**
 * Child-process entry: a bare node:http server answering every request with the same bytes and the
 * origin's playlist headers. The reference for the origin's memoised hit path: what Node itself costs.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { reportReady } from '../edge/children.js';

const body = Buffer.from(JSON.parse(process.argv[2] ?? '{}').body ?? '', 'base64');
const server = http.createServer((_req, res) => {
  res.writeHead(200, { 'Content-Type': 'application/vnd.apple.mpegurl', 'Cache-Control': 'no-cache', 'Content-Length': body.length, Vary: 'Accept-Encoding', 'Access-Control-Allow-Origin': '*' });
  res.end(body);
});
server.keepAliveTimeout = 65_000;
server.listen(0, '127.0.0.1', () => reportReady((server.address() as AddressInfo).port, () => new Promise((r) => server.close(() => r()))));
