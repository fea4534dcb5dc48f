/**
 * A deliberately small HTTP/1.1 client over one keep-alive socket: one request at a time, the response
 * framed by Content-Length or chunked encoding, timestamps taken where the bytes arrive. The benchmark
 * drives thousands of these at once (bursts, simulated viewers); node:http or undici cost several times
 * more CPU per response, and the load tool must not be what saturates first.
 */
import net from 'node:net';
import { epochMs } from './stats.js';

/** One response as the benchmark looks at it. */
export interface RawResponse {
  status: number;
  /** Lower-case header names; repeated headers keep the last value. */
  headers: Record<string, string>;
  /** Body length received. */
  bytes: number;
  /** The body, only when asked for (`keepBody`). */
  body?: Buffer;
  /** Epoch ms (see epochMs): request written, head parsed, last body byte. */
  sentAt: number;
  headAt: number;
  doneAt: number;
}

interface Pending {
  resolve(r: RawResponse): void;
  reject(e: Error): void;
  keepBody: boolean;
  sentAt: number;
}

const HEAD_END = Buffer.from('\r\n\r\n');

/** A keep-alive connection to one host:port that sends GETs one after another. */
export class RawConnection {
  private socket?: net.Socket;
  private pending?: Pending;
  private buf: Buffer = Buffer.alloc(0);
  // Response being parsed.
  private res?: RawResponse;
  private chunks: Buffer[] = [];
  private remaining = 0;
  private chunked = false;
  /** In chunked mode: bytes left in the current chunk, or -1 while reading a size line. */
  private chunkLeft = -1;
  private closeDelimited = false;

  constructor(
    private readonly host: string,
    private readonly port: number,
  ) {}

  /** Opens the socket (Nagle off: requests are tiny and latency-sensitive). */
  connect(): Promise<void> {
    return new Promise((resolve, reject) => {
      const s = net.connect({ host: this.host, port: this.port, noDelay: true });
      s.once('connect', () => {
        s.off('error', reject);
        s.on('error', (err) => this.fail(err));
        resolve();
      });
      s.once('error', reject);
      s.on('data', (d: Buffer) => this.onData(d));
      s.on('close', () => this.onClose());
      this.socket = s;
    });
  }

  /** Whether the socket is open. */
  get open(): boolean {
    return this.socket !== undefined && !this.socket.destroyed;
  }

  /** Sends `GET path` and resolves with the complete response. One request at a time per connection. */
  get(path: string, keepBody = false): Promise<RawResponse> {
    const s = this.socket;
    if (!s || s.destroyed) return Promise.reject(new Error('connection closed'));
    if (this.pending) return Promise.reject(new Error('a request is already in flight on this connection'));
    return new Promise((resolve, reject) => {
      const sentAt = epochMs();
      this.pending = { resolve, reject, keepBody, sentAt };
      s.write(`GET ${path} HTTP/1.1\r\nHost: ${this.host}:${this.port}\r\nUser-Agent: streamforge-bench\r\n\r\n`, 'latin1');
    });
  }

  /** Closes the socket; a request in flight fails. */
  close(): void {
    this.socket?.destroy();
  }

  private onData(d: Buffer): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d;
    while (this.buf.length > 0 && this.pending) {
      if (!this.res) {
        const end = this.buf.indexOf(HEAD_END);
        if (end < 0) return;
        this.startResponse(this.buf.subarray(0, end).toString('latin1'));
        this.buf = this.buf.subarray(end + 4);
        if (!this.chunked && !this.closeDelimited && this.remaining === 0) {
          this.finish();
          continue;
        }
      }
      if (this.chunked) {
        if (!this.readChunked()) return;
      } else {
        const n = this.closeDelimited ? this.buf.length : Math.min(this.remaining, this.buf.length);
        this.take(this.buf.subarray(0, n));
        this.buf = this.buf.subarray(n);
        this.remaining -= n;
        if (!this.closeDelimited && this.remaining === 0) this.finish();
      }
    }
  }

  private startResponse(head: string): void {
    const lines = head.split('\r\n');
    const status = Number(lines[0].split(' ')[1]);
    const headers: Record<string, string> = {};
    for (let i = 1; i < lines.length; i++) {
      const c = lines[i].indexOf(':');
      if (c > 0) headers[lines[i].slice(0, c).trim().toLowerCase()] = lines[i].slice(c + 1).trim();
    }
    this.res = { status, headers, bytes: 0, sentAt: this.pending!.sentAt, headAt: epochMs(), doneAt: 0 };
    this.chunks = [];
    this.chunked = /chunked/i.test(headers['transfer-encoding'] ?? '');
    this.chunkLeft = -1;
    const len = headers['content-length'];
    this.closeDelimited = !this.chunked && len === undefined && status !== 204 && status !== 304;
    this.remaining = this.chunked || this.closeDelimited || status === 204 || status === 304 ? 0 : Number(len);
  }

  /** Consumes chunked framing from the buffer; true when the response completed. */
  private readChunked(): boolean {
    for (;;) {
      if (this.chunkLeft < 0) {
        const eol = this.buf.indexOf('\r\n');
        if (eol < 0) return false;
        const size = parseInt(this.buf.subarray(0, eol).toString('latin1'), 16);
        this.buf = this.buf.subarray(eol + 2);
        if (size === 0) {
          // No trailers from our servers: the terminating CRLF follows at once.
          const end = this.buf.indexOf('\r\n');
          if (end < 0) {
            this.chunkLeft = -1;
            this.buf = Buffer.concat([Buffer.from('0\r\n'), this.buf]);
            return false;
          }
          this.buf = this.buf.subarray(end + 2);
          this.finish();
          return true;
        }
        this.chunkLeft = size;
      }
      if (this.chunkLeft > 0) {
        const n = Math.min(this.chunkLeft, this.buf.length);
        this.take(this.buf.subarray(0, n));
        this.buf = this.buf.subarray(n);
        this.chunkLeft -= n;
        if (this.chunkLeft > 0) return false;
      }
      // Chunk data is followed by CRLF.
      if (this.buf.length < 2) {
        this.chunkLeft = 0;
        return false;
      }
      this.buf = this.buf.subarray(2);
      this.chunkLeft = -1;
    }
  }

  private take(b: Buffer): void {
    if (b.length === 0) return;
    this.res!.bytes += b.length;
    if (this.pending!.keepBody) this.chunks.push(Buffer.from(b));
  }

  private finish(): void {
    const res = this.res!;
    const p = this.pending!;
    res.doneAt = epochMs();
    if (p.keepBody) res.body = Buffer.concat(this.chunks);
    this.res = undefined;
    this.pending = undefined;
    this.chunks = [];
    p.resolve(res);
  }

  private onClose(): void {
    if (this.res && this.closeDelimited) return this.finish();
    this.fail(new Error('connection closed by the server'));
  }

  private fail(err: Error): void {
    const p = this.pending;
    this.pending = undefined;
    this.res = undefined;
    p?.reject(err);
  }
}

/** Opens `n` connections, `batch` at a time (a burst of SYNs would overflow the listen backlog). */
export async function openConnections(host: string, port: number, n: number, batch = 200): Promise<RawConnection[]> {
  const out: RawConnection[] = [];
  for (let i = 0; i < n; i += batch) {
    const group = Array.from({ length: Math.min(batch, n - i) }, () => new RawConnection(host, port));
    await Promise.all(group.map((c) => c.connect()));
    out.push(...group);
  }
  return out;
}
