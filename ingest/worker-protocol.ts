/**
 * Messages between the IngestServer (parent) and its RTMP worker process over the fork IPC channel.
 * The worker holds the sockets; the parent holds authorization, the bus and metrics.
 */
import type { IngestAudioInfo, IngestVideoInfo } from './contract.js';

/** Limits and listeners the worker runs with. */
export interface RtmpWorkerConfig {
  rtmpHost: string;
  rtmpPort: number;
  /** RTMP application name publishers must use (`rtmp://host/<app>`). */
  app: string;
  /** Loopback listener that serves authorized sessions as HTTP-FLV to the packager. */
  flvHost: string;
  flvPort: number;
  /** From TCP accept to the publish command. */
  publishDeadlineMs: number;
  /** No bytes from the client for this long ends the connection. */
  idleTimeoutMs: number;
  /** The parent's answer to an authorize request must come within this. */
  authTimeoutMs: number;
  /** After authorization, the first keyframe (or audio-only media) must come within this. */
  mediaWaitMs: number;
  maxConnections: number;
  /** Open connections one client address may hold; more are closed at accept, before any byte is read. */
  maxConnectionsPerAddress: number;
  /** Largest RTMP message accepted before the publish is authorized (commands are small). */
  maxPreAuthMessageBytes: number;
  /** Largest RTMP message accepted from an authorized publisher. */
  maxMessageBytes: number;
  /** Chunk streams one connection may open. */
  maxChunkStreams: number;
  /** A packager reader further behind than this loses frames up to the next keyframe. */
  flvMaxBufferedBytes: number;
  statsIntervalMs: number;
}

/** How a connection that never went live ended, for `ingest_connections_total{result}`. */
export type ConnectionResult = 'accepted' | 'refused' | 'protocol_error' | 'timeout' | 'abandoned';

/** Parent → worker. */
export type ParentMessage =
  | { type: 'init'; config: RtmpWorkerConfig }
  | { type: 'decision'; connId: string; ok: true; streamId: string }
  | { type: 'decision'; connId: string; ok: false; reason: string }
  | { type: 'kick'; connId: string; reason: string }
  | { type: 'ping'; seq: number }
  | { type: 'shutdown' };

/** Per-connection counters, cumulative. */
export interface ConnectionStats {
  connId: string;
  bytesIn: number;
  videoFrames: number;
  audioFrames: number;
  droppedFrames: number;
}

/** Worker → parent. */
export type WorkerMessage =
  | { type: 'ready'; rtmpPort: number; flvPort: number }
  | { type: 'authorize'; connId: string; streamKey: string; remoteAddress: string }
  /** `atMs`: when the first keyframe arrived, stamped in the worker (the IPC hop adds latency). */
  | { type: 'live'; connId: string; token: string; remoteAddress: string; atMs: number; video?: IngestVideoInfo; audio?: IngestAudioInfo }
  | { type: 'closed'; connId: string; result: ConnectionResult; reason: string; wasLive: boolean; remoteAddress: string; stats?: ConnectionStats }
  | { type: 'stats'; sessions: ConnectionStats[] }
  | { type: 'pong'; seq: number }
  | { type: 'log'; level: 'debug' | 'info' | 'warn' | 'error'; msg: string; fields?: Record<string, unknown> };
