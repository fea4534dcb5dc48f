import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { findTool } from './tools.js';
import { parseWrkOutput, runWrk } from './wrk.js';

describe('parseWrkOutput', () => {
  it('reads the Lua hook line among wrk’s own output, converting to ms and per-second figures', () => {
    const out = [
      'Running 2s test @ http://127.0.0.1:1/x',
      '  1 threads and 4 connections',
      'WRK_JSON {"requests":2000,"durationUs":2000000,"bytes":4000000,"errors":{"connect":0,"read":1,"write":0,"status":2,"timeout":0},"latencyUs":{"p50":500,"p90":900,"p99":2500,"max":9000,"mean":610.5}}',
      'Requests/sec:   1000.00',
    ].join('\n');
    const r = parseWrkOutput(out);
    expect(r.requests).toBe(2000);
    expect(r.seconds).toBe(2);
    expect(r.rps).toBe(1000);
    expect(r.bytesPerSecond).toBe(2_000_000);
    expect(r.errors).toEqual({ connect: 0, read: 1, write: 0, status: 2, timeout: 0 });
    expect(r.latencyMs).toEqual({ p50: 0.5, p90: 0.9, p99: 2.5, max: 9, mean: 0.6105 });
  });

  it('fails loudly when the hook did not run', () => {
    expect(() => parseWrkOutput('Running 2s test\n')).toThrow(/no summary line/);
  });
});

describe('runWrk', () => {
  // The Lua hook only proves itself inside the real wrk; one short run against a local server.
  it.skipIf(!findTool('wrk'))('measures a real server with the Lua hook (skipped when Debian wrk is not installed)', async () => {
    const server = http.createServer((_req, res) => {
      res.writeHead(200, { 'content-length': '2' });
      res.end('ok');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const port = (server.address() as AddressInfo).port;
      const r = await runWrk({ binary: findTool('wrk')!, url: `http://127.0.0.1:${port}/`, threads: 1, connections: 2, seconds: 1 });
      expect(r.requests).toBeGreaterThan(10);
      expect(r.errors.status).toBe(0);
      expect(r.latencyMs.p99).toBeGreaterThanOrEqual(r.latencyMs.p50);
      expect(r.rps).toBeGreaterThan(0);
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });
});
