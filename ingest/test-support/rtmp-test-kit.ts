/**
 * Test helpers for the RTMP ingest: hand-built RTMP/AMF0 bytes (RTMP spec 1.0 §5.3 chunking, AMF0
 * spec §2), an FFmpeg publisher, a recording TCP proxy, a log capture and a bus recorder.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { Writable } from 'node:stream';
import { createLogger, MemoryBus, type Logger } from '../../platform/index.js';
import type { IngestTopics } from '../contract.js';
import type { StreamControlTopics } from '../ingest-server.js';

/** An AMF0 value we can encode. */
export type Amf = string | number | boolean | null | { [key: string]: Amf };

/** AMF0 encoding of one value. */
export function amf0(value: Amf): Buffer {
  if (value === null) return Buffer.from([0x05]);
  if (typeof value === 'number') {
    const b = Buffer.alloc(9);
    b[0] = 0x00;
    b.writeDoubleBE(value, 1);
    return b;
  }
  if (typeof value === 'boolean') return Buffer.from([0x01, value ? 1 : 0]);
  if (typeof value === 'string') {
    const s = Buffer.from(value, 'utf8');
    const h = Buffer.alloc(3);
    h[0] = 0x02;
    h.writeUInt16BE(s.length, 1);
    return Buffer.concat([h, s]);
  }
  const parts: Buffer[] = [Buffer.from([0x03])];
  for (const [k, v] of Object.entries(value)) {
    const key = Buffer.from(k, 'utf8');
    const len = Buffer.alloc(2);
    len.writeUInt16BE(key.length);
    parts.push(len, key, amf0(v));
  }
  parts.push(Buffer.from([0x00, 0x00, 0x09]));
  return Buffer.concat(parts);
}

/** An AMF0 command message body: name, transaction id, then arguments. */
export function amfCommand(name: string, transId: number, ...args: Amf[]): Buffer {
  return Buffer.concat([amf0(name), amf0(transId), ...args.map(amf0)]);
}

/** One RTMP message as type-0 chunks of `chunkSize` on chunk stream `cid` (< 64). */
export function rtmpMessage(cid: number, typeId: number, streamId: number, payload: Buffer, chunkSize = 128): Buffer {
  const header = Buffer.alloc(12);
  header[0] = cid & 0x3f;
  header.writeUIntBE(0, 1, 3);
  header.writeUIntBE(payload.length, 4, 3);
  header[7] = typeId;
  header.writeUInt32LE(streamId, 8);
  const parts = [header];
  for (let off = 0; off < payload.length; off += chunkSize) {
    if (off > 0) parts.push(Buffer.from([0xc0 | (cid & 0x3f)]));
    parts.push(Buffer.from(payload.subarray(off, off + chunkSize)));
  }
  return Buffer.concat(parts);
}

/** C0 + C1 + C2 of a plain (digest-less) handshake. */
export function rtmpHandshake(): Buffer {
  const c1 = Buffer.alloc(1536, 0x5a);
  c1.writeUInt32BE(0, 0);
  c1.writeUInt32BE(0, 4);
  return Buffer.concat([Buffer.from([0x03]), c1, Buffer.alloc(1536, 0x33)]);
}

/** Handshake + connect with the given command object (e.g. without tcUrl, the NMS 4.4.3 crash). */
export function connectSession(cmdObj: { [key: string]: Amf }): Buffer {
  return Buffer.concat([rtmpHandshake(), rtmpMessage(3, 20, 0, amfCommand('connect', 1, cmdObj))]);
}

/** Opens a TCP connection, writes `bytes`, and resolves when the server closes it (or after `waitMs`). */
export function sendAndWait(port: number, bytes: Buffer, waitMs: number): Promise<'closed-by-server' | 'timeout' | 'error'> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    let settled = false;
    const done = (r: 'closed-by-server' | 'timeout' | 'error') => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(r);
    };
    const timer = setTimeout(() => done('timeout'), waitMs);
    socket.on('connect', () => socket.write(bytes));
    socket.on('data', () => undefined);
    socket.on('end', () => done('closed-by-server'));
    socket.on('close', () => done('closed-by-server'));
    socket.on('error', () => done('error'));
  });
}

/** A running FFmpeg publisher. */
export interface Publisher {
  child: ChildProcess;
  exited: Promise<{ code: number | null; stderr: string }>;
}

/** Publishes a test pattern (320x180 unless told) with a sine tone to `url` for `seconds` (real time). */
export function publishTestPattern(url: string, seconds: number, opts: { audio?: boolean; size?: string; videoKbps?: number } = {}): Publisher {
  const audio = opts.audio !== false;
  const args = [
    '-hide_banner', '-nostdin', '-loglevel', 'error', '-re',
    '-f', 'lavfi', '-i', `testsrc2=size=${opts.size ?? '320x180'}:rate=30`,
    ...(audio ? ['-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000'] : []),
    '-t', String(seconds),
    '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-g', '30', '-pix_fmt', 'yuv420p',
    ...(opts.videoKbps ? ['-b:v', `${opts.videoKbps}k`] : []),
    ...(audio ? ['-c:a', 'aac', '-b:a', '64k'] : []),
    '-f', 'flv', url,
  ];
  const child = spawn('ffmpeg', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<{ code: number | null; stderr: string }>((resolve) => child.on('close', (code) => resolve({ code, stderr })));
  return { child, exited };
}

/** A TCP proxy to `targetPort` that records the first `limit` bytes each client sends. */
export async function recordingProxy(targetPort: number, limit: number): Promise<{ port: number; recorded: () => Buffer; close: () => Promise<void> }> {
  const chunks: Buffer[] = [];
  let total = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(targetPort, '127.0.0.1');
    sockets.add(client).add(upstream);
    client.on('data', (d: Buffer) => {
      if (total < limit) {
        const take = d.subarray(0, limit - total);
        chunks.push(Buffer.from(take));
        total += take.length;
      }
      upstream.write(d);
    });
    upstream.on('data', (d: Buffer) => client.write(d));
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('close', end).on('error', end);
    upstream.on('close', end).on('error', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    port: (server.address() as net.AddressInfo).port,
    recorded: () => Buffer.concat(chunks),
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A pino logger whose JSON lines are kept for assertions. */
export function captureLogger(level = 'debug'): { logger: Logger; lines: () => string[] } {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(...chunk.toString().split('\n').filter(Boolean));
      cb();
    },
  });
  return { logger: createLogger(level, sink), lines: () => lines };
}

/** Everything published on the ingest topics, in order. */
export async function recordingBus(logger: Logger): Promise<{ bus: MemoryBus<IngestTopics & StreamControlTopics>; events: { topic: string; msg: Record<string, unknown> }[] }> {
  const bus = new MemoryBus<IngestTopics & StreamControlTopics>({ logger });
  const events: { topic: string; msg: Record<string, unknown> }[] = [];
  for (const topic of ['ingest.stream.started', 'ingest.stream.ended', 'ingest.stream.stats'] as const) {
    await bus.subscribe(topic, (msg) => {
      events.push({ topic, msg: msg as Record<string, unknown> });
    });
  }
  return { bus, events };
}

/** Polls until `fn` returns a truthy value or the deadline passes. */
export async function waitFor<T>(fn: () => T | undefined | null | false | Promise<T | undefined | null | false>, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
