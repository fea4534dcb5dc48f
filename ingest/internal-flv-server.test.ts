import http from 'node:http';
import { createRequire } from 'node:module';
import { afterEach, describe, expect, it } from 'vitest';
import { InternalFlvServer, type FlvSource } from './internal-flv-server.js';
import { loadNms, type NmsBroadcast, type NmsPacket } from './nms.js';

const require = createRequire(import.meta.url);
/** node-media-server's real BroadcastServer (the object a live RTMP publish feeds). */
const BroadcastServer = require('node-media-server/src/server/broadcast_server.js') as new (path: string) => NmsBroadcast & {
  broadcastMessage(p: NmsPacket): void;
};
const nms = loadNms();
const TOKEN = 'tok_0123456789abcdefghij';

function packet(codecType: number, flags: number, dts: number, data: Buffer): NmsPacket {
  return { codec_type: codecType, codec_id: codecType === 9 ? 7 : 10, flags, dts, size: data.length, data };
}
const avcHeader = () => packet(9, 2, 0, Buffer.from([0x17, 0x00, 0, 0, 0, 0x01, 0x64, 0x00, 0x1f, 0xff, 0xe1, 0x00, 0x00]));
const frame = (dts: number, key: boolean, bytes: number) => {
  const data = Buffer.alloc(bytes, 0x11);
  data[0] = key ? 0x17 : 0x27;
  data[1] = 0x01;
  return packet(9, key ? 3 : 4, dts, data);
};

/** FLV tags in a byte stream after the 13-byte header: [type, first body byte]. */
function tags(buf: Buffer): { type: number; first: number }[] {
  const out = [];
  for (let off = 13; off + 11 <= buf.length; ) {
    const size = buf.readUIntBE(off + 1, 3);
    if (off + 11 + size + 4 > buf.length) break;
    out.push({ type: buf[off], first: buf[off + 11] });
    off += 11 + size + 4;
  }
  return out;
}

describe('InternalFlvServer', () => {
  let server: InternalFlvServer | undefined;
  afterEach(async () => server?.close());

  async function start(maxBufferedBytes: number): Promise<number> {
    server = new InternalFlvServer({ createFlvHeader: nms.createFlvHeader, log: () => undefined }, { host: '127.0.0.1', port: 0, maxBufferedBytes });
    return server.start();
  }

  it('starts a reader with an honest header, codec config and the cached GOP; 404 for unknown tokens', async () => {
    const port = await start(1 << 20);
    const broadcast = new BroadcastServer('/live/a');
    broadcast.broadcastMessage(avcHeader());
    broadcast.broadcastMessage(frame(0, true, 100));
    broadcast.broadcastMessage(frame(33, false, 100));
    server!.publish(TOKEN, { broadcast, droppedFrames: 0 });
    const missing = await fetch(`http://127.0.0.1:${port}/ingest/nosuchtoken_0123456789.flv`);
    expect(missing.status).toBe(404);
    const body = await new Promise<Buffer>((resolve) => {
      http.get(`http://127.0.0.1:${port}/ingest/${TOKEN}.flv`, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve(Buffer.concat(chunks)));
        setTimeout(() => server!.unpublish(TOKEN), 100); // the session ends: readers see end of stream
      });
    });
    expect(body.subarray(0, 3).toString()).toBe('FLV');
    expect(body[4]).toBe(0x01); // video only: this publisher sent no audio header
    expect(tags(body).map((t) => t.first)).toEqual([0x17, 0x17, 0x27]);
  });

  it('drops frames for a reader that stops reading, counts them, and resumes it on a keyframe', async () => {
    const port = await start(64 * 1024);
    const broadcast = new BroadcastServer('/live/b');
    broadcast.broadcastMessage(avcHeader());
    const source: FlvSource = { broadcast, droppedFrames: 0 };
    server!.publish(TOKEN, source);
    const received: Buffer[] = [];
    const reader = await new Promise<http.IncomingMessage>((resolve) => http.get(`http://127.0.0.1:${port}/ingest/${TOKEN}.flv`, resolve));
    reader.pause(); // stops reading the socket: the server's buffer fills
    await new Promise((r) => setTimeout(r, 100));
    // 16 MB of inter frames: more than every socket buffer on the way can hold.
    let dts = 0;
    broadcast.broadcastMessage(frame(dts, true, 64 * 1024));
    for (let i = 0; i < 256; i++) broadcast.broadcastMessage(frame((dts += 33), false, 64 * 1024));
    expect(source.droppedFrames).toBeGreaterThan(0);
    // The reader catches up; the stream resumes at the next keyframe, never mid-GOP.
    reader.on('data', (c: Buffer) => received.push(c));
    reader.resume();
    await new Promise((r) => setTimeout(r, 500));
    const droppedBefore = source.droppedFrames;
    broadcast.broadcastMessage(frame((dts += 33), false, 1000));
    broadcast.broadcastMessage(frame((dts += 33), true, 1000));
    broadcast.broadcastMessage(frame(dts + 33, false, 1000));
    await new Promise((r) => setTimeout(r, 200));
    expect(source.droppedFrames).toBe(droppedBefore + 1);
    // What the reader got after the stall: the big GOP start, then the new keyframe and its successor.
    const got = tags(Buffer.concat(received)).map((t) => t.first);
    expect(got.slice(-2)).toEqual([0x17, 0x27]);
    expect(got.filter((b) => b === 0x27)).toHaveLength(1);
    reader.destroy();
  });
});
