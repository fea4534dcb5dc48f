/**
 * Typed facade over the node-media-server 4.4.3 internals the RTMP worker builds on. We do not run
 * its NodeMediaServer class (HTTP API, store, relays, its own listeners): the worker owns the TCP
 * listener and drives one NMS RtmpSession per connection, so it can guard each one (rtmp-connection.ts).
 * NMS is CommonJS without an exports map, so its modules load by path. Loaded only in the worker.
 */
import { createRequire } from 'node:module';
import type { Socket } from 'node:net';

const require = createRequire(import.meta.url);

/** NMS AVPacket: one FLV-style media message. flags: 0 audio header, 1 audio, 2 video header, 3 keyframe, 4 inter frame, 5 metadata. */
export interface NmsPacket {
  codec_type: number;
  codec_id: number;
  flags: number;
  dts: number;
  size: number;
  data: Buffer;
}

/** What a BroadcastServer needs from a subscriber. */
export interface NmsSubscriber {
  id: string;
  ip: string;
  protocol: 'flv' | 'rtmp';
  endTime: number;
  sendBuffer(buffer: Buffer): void;
}

/** NMS BroadcastServer: one stream path, its publisher, cached headers and GOP, and subscribers. */
export interface NmsBroadcast {
  streamPath: string;
  publisher: unknown;
  subscribers: Map<string, NmsSubscriber>;
  publishGraceMs: number;
  flvHeader: Buffer;
  flvMetaData: Buffer | null;
  flvAudioHeader: Buffer | null;
  flvVideoHeader: Buffer | null;
  flvGopCache: Set<Buffer> | null;
  postPlay(session: NmsSubscriber): string | null;
  donePlay(session: NmsSubscriber): void;
}

/** NMS Rtmp protocol state machine (per connection). */
export interface NmsRtmp {
  parserPacket: { header: { length: number; type: number; stream_id: number; cid: number } };
  inPackets: Map<number, unknown>;
  streamId: number;
  streamApp?: string;
  packetAlloc(): void;
  packetParse(): void;
  respondPublish(): void;
  sendStatusMessage(sid: number, level: string, code: string, description: string): void;
}

/** NMS RtmpSession: arrow-function properties, replaceable per instance before run(). */
export interface NmsRtmpSession {
  id: string;
  ip: string;
  socket: Socket;
  rtmp: NmsRtmp;
  streamApp: string;
  streamName: string;
  streamPath: string;
  streamQuery: Record<string, unknown>;
  isPublisher: boolean;
  inBytes: number;
  broadcast: NmsBroadcast;
  videoCodec: number | string;
  videoWidth: number;
  videoHeight: number;
  videoFramerate: number;
  audioCodec: number | string;
  audioChannels: number;
  audioSamplerate: number;
  run: () => void;
  onData: (data: Buffer) => void;
  onClose: () => void;
  onPush: () => void;
  onPlay: () => void;
  onPacket: (packet: NmsPacket) => void;
}

/** The NMS modules the worker uses. */
export interface NmsModules {
  RtmpSession: new (socket: Socket) => NmsRtmpSession;
  /** Stream path → broadcast (module-wide in NMS; one worker process holds one). */
  broadcasts: Map<string, NmsBroadcast>;
  createFlvHeader(hasAudio: boolean, hasVideo: boolean): Buffer;
  parseH264Sps(sps: Buffer): { width: number; height: number } | null;
}

/**
 * Loads NMS and silences its console logger: its lines carry stream paths, i.e. stream keys, and the
 * worker reports what matters through its own (masked) log messages instead.
 */
export function loadNms(): NmsModules {
  const logger = require('node-media-server/src/core/logger.js') as { log: (...args: unknown[]) => void };
  logger.log = () => undefined;
  const context = require('node-media-server/src/core/context.js') as { broadcasts: Map<string, NmsBroadcast> };
  const Flv = require('node-media-server/src/protocol/flv.js') as { createHeader(a: boolean, v: boolean): Buffer };
  const sps = require('node-media-server/src/protocol/sps_info.js') as NmsModules & object;
  return {
    RtmpSession: require('node-media-server/src/session/rtmp_session.js') as NmsModules['RtmpSession'],
    broadcasts: context.broadcasts,
    createFlvHeader: (a, v) => Flv.createHeader(a, v),
    parseH264Sps: (buf) => sps.parseH264Sps(buf),
  };
}
