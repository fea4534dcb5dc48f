/**
 * Serves live publish sessions to the packager as HTTP-FLV on an internal (loopback by default)
 * listener: `GET /ingest/<token>.flv`, where the token is random per session, so neither URLs nor
 * FFmpeg command lines ever carry a stream key. Each reader is an NMS broadcast subscriber: it gets
 * the FLV header, metadata, codec headers and the cached GOP first (so it starts on a keyframe), then
 * live tags. A reader that falls too far behind loses tags until the next keyframe (counted as dropped
 * frames) rather than growing memory without bound.
 */
import crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { NmsBroadcast, NmsSubscriber } from './nms.js';

/** A live session the server can hand out. */
export interface FlvSource {
  broadcast: NmsBroadcast;
  droppedFrames: number;
}

/** Listener and back-pressure limit. */
export interface InternalFlvConfig {
  host: string;
  port: number;
  maxBufferedBytes: number;
}

const TAG_AUDIO = 8;
const TAG_VIDEO = 9;

/** True for a video tag that starts a GOP (frame type 1; Enhanced RTMP keeps it in bits 4–6). */
function isVideoKeyframe(tag: Buffer): boolean {
  return tag[0] === TAG_VIDEO && tag.length > 11 && ((tag[11] >> 4) & 0x07) === 1;
}

/** True for codec configuration tags, which a reader must never lose. */
function isSequenceHeader(tag: Buffer): boolean {
  if (tag.length < 13) return false;
  if (tag[0] === TAG_VIDEO) return tag[11] & 0x80 ? (tag[11] & 0x0f) === 0 : tag[12] === 0;
  if (tag[0] === TAG_AUDIO) return tag[11] >> 4 === 10 ? tag[12] === 0 : tag[11] >> 4 === 9 && (tag[11] & 0x0f) === 0;
  return false;
}

/** HTTP-FLV for the packager, keyed by per-session tokens. */
export class InternalFlvServer {
  private readonly sources = new Map<string, { source: FlvSource; readers: Set<() => void> }>();
  private server?: http.Server;

  constructor(
    private readonly deps: { createFlvHeader: (hasAudio: boolean, hasVideo: boolean) => Buffer; log: (msg: string, fields: Record<string, unknown>) => void },
    private readonly config: InternalFlvConfig,
  ) {}

  /** Listens; resolves with the bound port. */
  async start(): Promise<number> {
    const server = http.createServer((req, res) => {
      try {
        this.onRequest(req, res);
      } catch (err) {
        this.deps.log('flv request failed', { err: (err as Error).message });
        res.destroy();
      }
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.config.port, this.config.host, () => resolve());
    });
    return (server.address() as AddressInfo).port;
  }

  /** Makes a live session readable under `token`. */
  publish(token: string, source: FlvSource): void {
    this.sources.set(token, { source, readers: new Set() });
  }

  /** The session ended: close its readers (they see end of stream) and forget the token. */
  unpublish(token: string): void {
    const entry = this.sources.get(token);
    this.sources.delete(token);
    for (const close of entry?.readers ?? []) close();
  }

  /** Stops listening and closes every reader. */
  async close(): Promise<void> {
    for (const token of [...this.sources.keys()]) this.unpublish(token);
    const server = this.server;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private onRequest(req: http.IncomingMessage, res: http.ServerResponse): void {
    const m = /^\/ingest\/([A-Za-z0-9_-]{16,64})\.flv$/.exec(req.url ?? '');
    const entry = m ? this.sources.get(m[1]) : undefined;
    if (req.method !== 'GET' || !entry) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('no such live session\n');
      return;
    }
    const { source, readers } = entry;
    const broadcast = source.broadcast;
    const max = this.config.maxBufferedBytes;
    let dropping = false;
    let closed = false;
    const subscriber: NmsSubscriber = {
      id: crypto.randomUUID(),
      ip: '', // internal reader: NMS skips its play events and counters
      protocol: 'flv',
      endTime: 0,
      sendBuffer: (buf: Buffer) => {
        if (closed || res.writableEnded) return;
        if (buf === broadcast.flvHeader) {
          // NMS always announces audio and video; say what this publisher really has, so the
          // demuxer does not wait for an audio stream that never comes.
          res.write(this.deps.createFlvHeader(broadcast.flvAudioHeader !== null, broadcast.flvVideoHeader !== null));
          return;
        }
        const media = buf[0] === TAG_AUDIO || buf[0] === TAG_VIDEO;
        if (media && !isSequenceHeader(buf)) {
          if (!dropping && res.writableLength > max) dropping = true;
          if (dropping) {
            const resume = res.writableLength < max / 2 && (isVideoKeyframe(buf) || broadcast.flvVideoHeader === null);
            if (!resume) {
              if (buf[0] === TAG_VIDEO) source.droppedFrames += 1;
              return;
            }
            dropping = false;
          }
        }
        res.write(buf);
      },
    };
    const close = () => {
      if (closed) return;
      closed = true;
      readers.delete(close);
      broadcast.donePlay(subscriber);
      res.end();
    };
    readers.add(close);
    res.on('close', close);
    res.writeHead(200, { 'content-type': 'video/x-flv', 'cache-control': 'no-store' });
    const err = broadcast.postPlay(subscriber);
    if (err) close();
  }
}
