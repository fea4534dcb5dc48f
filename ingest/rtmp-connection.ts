/**
 * One RTMP client connection, driven by node-media-server's RtmpSession and contained: every entry
 * point NMS runs on socket input (its 'data' handler, its 'close' handler) is wrapped so an exception
 * from its parser or AMF decoder ends only this connection. NMS 4.4.3 otherwise lets a single
 * malformed `connect` (e.g. a missing tcUrl reaching `new URL(undefined)`) throw out of the socket
 * handler and take the whole process, and every live stream, down.
 *
 * Also enforced here, before any NMS state is touched: authorize first (the `NetStream.Publish.Start`
 * reply is held until the parent says yes), no RTMP playback, deadlines for a silent or slow client,
 * small messages until authorized, few chunk streams, and no media from a connection that is not the
 * registered publisher (NMS would otherwise forward it into the live stream of the same path).
 */
import crypto from 'node:crypto';
import type { Socket } from 'node:net';
import type { IngestAudioInfo, IngestVideoInfo } from './contract.js';
import { audioCodecName, avcSpsFromSequenceHeader, parseAacSequenceHeader, videoCodecName } from './media-info.js';
import type { NmsModules, NmsPacket, NmsRtmpSession } from './nms.js';
import type { ConnectionResult, ConnectionStats, RtmpWorkerConfig, WorkerMessage } from './worker-protocol.js';

/** What a connection needs from the worker around it. */
export interface ConnectionHost {
  nms: NmsModules;
  config: RtmpWorkerConfig;
  send(msg: WorkerMessage): void;
  log(level: 'debug' | 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>): void;
  /** The connection is live: serve it to the packager under this token. */
  publishToken(token: string, conn: RtmpConnection): void;
  /** The connection is gone: stop serving it, and forget it. */
  forget(conn: RtmpConnection): void;
}

/** A rule broken by the client; ends its connection as a protocol error. */
export class ProtocolFault extends Error {}

type State = 'connecting' | 'authorizing' | 'waiting_media' | 'live' | 'closed';

/** The IPv4 address behind an IPv4-mapped IPv6 one. */
function plainAddress(address: string | undefined): string {
  return (address ?? '').replace(/^::ffff:/, '');
}

/** A guarded RTMP publish connection. */
export class RtmpConnection {
  readonly id = crypto.randomUUID();
  readonly remoteAddress: string;
  state: State = 'connecting';
  token?: string;
  videoFrames = 0;
  audioFrames = 0;
  droppedFrames = 0;
  private keyframes = 0;
  private readonly session: NmsRtmpSession;
  private readonly registerPublisher: () => void;
  private readonly respondPublish: () => void;
  private ending = false;
  private result: ConnectionResult = 'abandoned';
  private reason = 'client closed before publishing';
  private streamKey?: string;
  private videoCodecId?: number;
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly host: ConnectionHost,
    private readonly socket: Socket,
  ) {
    this.remoteAddress = plainAddress(socket.remoteAddress);
    const s = new host.nms.RtmpSession(socket);
    this.session = s;
    const { rtmp } = s;
    const onData = s.onData;
    const onClose = s.onClose;
    const onPacket = s.onPacket;
    this.registerPublisher = s.onPush;
    this.respondPublish = rtmp.respondPublish.bind(rtmp);
    // Arrow-function properties: replacing them before run() is what run() wires to the socket.
    s.onData = (data) => {
      if (this.ending || this.state === 'closed') return;
      try {
        onData(data);
      } catch (err) {
        this.fault(err);
      }
    };
    s.onClose = () => {
      try {
        onClose();
      } catch (err) {
        this.host.log('warn', 'rtmp close handler failed', { connId: this.id, err: this.describe(err) });
      }
      this.onSocketClosed();
    };
    s.onPush = () => this.onPublishRequest();
    s.onPlay = () => this.refuse('refused', 'RTMP playback is not offered');
    s.onPacket = (packet) => {
      // Only the authorized, registered publisher's media may reach its broadcast.
      if (this.state !== 'waiting_media' && this.state !== 'live') return;
      this.count(packet);
      onPacket(packet);
      if (this.state === 'waiting_media' && this.keyframes > 0) this.goLive();
    };
    rtmp.respondPublish = () => undefined; // held until authorized (see decide)
    const alloc = rtmp.packetAlloc.bind(rtmp);
    rtmp.packetAlloc = () => {
      const limit = this.state === 'waiting_media' || this.state === 'live' ? host.config.maxMessageBytes : host.config.maxPreAuthMessageBytes;
      if (rtmp.parserPacket.header.length > limit) throw new ProtocolFault(`RTMP message of ${rtmp.parserPacket.header.length} bytes over the ${limit}-byte limit`);
      alloc();
    };
    const parse = rtmp.packetParse.bind(rtmp);
    rtmp.packetParse = () => {
      parse();
      if (rtmp.inPackets.size > host.config.maxChunkStreams) throw new ProtocolFault('too many chunk streams');
    };
    socket.setTimeout(host.config.idleTimeoutMs, () => this.end('timeout', 'connection idle'));
    this.arm(host.config.publishDeadlineMs, () => this.end('timeout', 'no publish request in time'));
    s.run();
  }

  /** Cumulative counters for the stats messages. */
  stats(): ConnectionStats {
    return { connId: this.id, bytesIn: this.session.inBytes, videoFrames: this.videoFrames, audioFrames: this.audioFrames, droppedFrames: this.droppedFrames };
  }

  /** The NMS broadcast this connection publishes (valid from `waiting_media` on). */
  get broadcast() {
    return this.session.broadcast;
  }

  /** The parent's authorization answer. */
  decide(ok: boolean, detail: string): void {
    if (this.state !== 'authorizing' || this.ending) return;
    if (!ok) {
      this.refuse('refused', detail, true);
      return;
    }
    this.registerPublisher(); // NMS postPublish: claims the stream path
    if (!this.session.isPublisher) {
      this.refuse('refused', 'stream key is already publishing', true);
      return;
    }
    this.session.broadcast.publishGraceMs = 0; // ingest reports every session; the packager bridges gaps
    this.respondPublish();
    this.state = 'waiting_media';
    this.arm(this.host.config.mediaWaitMs, () => {
      if (this.session.broadcast.flvAudioHeader !== null || this.audioFrames > 0) this.goLive();
      else this.end('timeout', 'no media after publish');
    });
  }

  /** Ends the connection from the outside (parent request, shutdown). */
  kick(reason: string): void {
    this.end('refused', reason);
  }

  private onPublishRequest(): void {
    if (this.state !== 'connecting') throw new ProtocolFault('second publish on one connection');
    const s = this.session;
    if (this.socket.destroyed || this.socket.writableEnded) {
      this.end('refused', 'stream key has characters outside [A-Za-z0-9_-]'); // NMS refused the name
      return;
    }
    if (s.streamApp !== this.host.config.app || !s.streamName) {
      this.refuse('refused', `unknown application "${String(s.streamApp).slice(0, 32)}"`);
      return;
    }
    this.streamKey = s.streamName;
    this.state = 'authorizing';
    this.arm(this.host.config.authTimeoutMs + 1000, () => this.refuse('timeout', 'authorization timed out', true));
    this.host.send({ type: 'authorize', connId: this.id, streamKey: s.streamName, remoteAddress: this.remoteAddress });
  }

  private count(packet: NmsPacket): void {
    if (packet.codec_type === 9) {
      if (packet.flags === 3 || packet.flags === 4) this.videoFrames += 1;
      if (packet.flags === 3) this.keyframes += 1;
      if (packet.flags === 2) this.videoCodecId = packet.codec_id;
    } else if (packet.codec_type === 8 && packet.flags === 1) {
      this.audioFrames += 1;
    }
  }

  private goLive(): void {
    if (this.state !== 'waiting_media') return;
    this.state = 'live';
    clearTimeout(this.timer);
    this.token = crypto.randomBytes(18).toString('base64url');
    this.host.publishToken(this.token, this);
    this.host.send({ type: 'live', connId: this.id, token: this.token, remoteAddress: this.remoteAddress, atMs: Date.now(), video: this.videoInfo(), audio: this.audioInfo() });
  }

  private videoInfo(): IngestVideoInfo | undefined {
    const s = this.session;
    const header = s.broadcast.flvVideoHeader;
    if (!header) return undefined;
    const body = header.subarray(11, header.length - 4);
    let width = Number(s.videoWidth) || 0;
    let height = Number(s.videoHeight) || 0;
    if (!width || !height) {
      const sps = avcSpsFromSequenceHeader(body);
      const size = sps ? this.host.nms.parseH264Sps(sps) : null;
      width = size?.width ?? 0;
      height = size?.height ?? 0;
    }
    const codec = this.videoCodecId !== undefined ? videoCodecName(this.videoCodecId) : 'unknown';
    return { codec, width, height, fps: Number(s.videoFramerate) || 0 };
  }

  private audioInfo(): IngestAudioInfo | undefined {
    const header = this.session.broadcast.flvAudioHeader;
    if (!header) return undefined;
    const body = header.subarray(11, header.length - 4);
    const asc = parseAacSequenceHeader(body);
    const s = this.session;
    return {
      codec: audioCodecName(body),
      sampleRate: asc?.sampleRate ?? (Number(s.audioSamplerate) || 0),
      channels: asc?.channels ?? (Number(s.audioChannels) || 0),
    };
  }

  /** Refuses politely: an onStatus error for a pending publish, then close. */
  private refuse(result: ConnectionResult, reason: string, status = false): void {
    if (this.ending) return;
    if (status) {
      try {
        // FFmpeg and OBS report the description of an error-level onStatus to the user.
        this.session.rtmp.sendStatusMessage(this.session.rtmp.streamId, 'error', 'NetStream.Publish.BadName', reason);
      } catch {
        // the socket may be gone already
      }
    }
    this.end(result, reason, false);
  }

  /** The client broke the protocol (or NMS threw on its input): drop this connection only. */
  private fault(err: unknown): void {
    this.host.log('warn', 'rtmp protocol error; connection dropped', { connId: this.id, remoteAddress: this.remoteAddress, err: this.describe(err) });
    this.end('protocol_error', `malformed RTMP: ${this.describe(err)}`);
  }

  private end(result: ConnectionResult, reason: string, hard = true): void {
    if (this.ending || this.state === 'closed') return;
    this.ending = true;
    clearTimeout(this.timer);
    if (this.state !== 'live') this.result = result;
    this.reason = reason;
    if (hard) {
      this.socket.destroy();
      return;
    }
    this.socket.end();
    setTimeout(() => this.socket.destroy(), 1000).unref();
  }

  private onSocketClosed(): void {
    if (this.state === 'closed') return;
    const wasLive = this.state === 'live';
    this.state = 'closed';
    clearTimeout(this.timer);
    this.host.forget(this);
    const s = this.session;
    // NMS registers a broadcast for the path as soon as a publish names it; drop it if nobody owns it.
    const b = this.host.nms.broadcasts.get(s.streamPath);
    if (b && b.publisher === null && b.subscribers.size === 0) this.host.nms.broadcasts.delete(s.streamPath);
    if (wasLive) {
      this.result = 'accepted';
      if (!this.ending) this.reason = 'publisher disconnected';
    }
    const stats = wasLive ? this.stats() : undefined;
    this.host.send({ type: 'closed', connId: this.id, result: this.result, reason: this.reason, wasLive, remoteAddress: this.remoteAddress, stats });
  }

  private arm(ms: number, fn: () => void): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      try {
        fn();
      } catch (err) {
        this.fault(err);
      }
    }, ms);
  }

  /** An error's name and message with the stream key masked out. */
  private describe(err: unknown): string {
    const text = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
    const clipped = text.slice(0, 200);
    return this.streamKey ? clipped.replaceAll(this.streamKey, '[key]') : clipped;
  }
}
