/**
 * RTMP ingest: `rtmp://HOST:1935/live/<streamKey>` (OBS: Server `rtmp://HOST:1935/live`, Stream Key
 * `<key>`; `<key>?a=b` works too). The sockets live in a supervised worker process (worker-host.ts,
 * rtmp-worker.ts) because node-media-server's parser can throw on hostile input; this class, in the
 * main process, authorizes publishers, announces sessions on the bus and keeps the metrics.
 *
 * Ingest reports every publish connection as its own session (started/ended, same streamId across
 * reconnects); bridging a reconnect within `live.reconnectGraceSeconds` is the packager's job.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import { maskKey, type Config, type Logger, type Rung } from '../platform/index.js';
import type { ControlApiTopics } from '../control-api/contract.js';
import type { IngestTopics, PublishAuthorizer, PublishDecision, StreamEncryption } from './contract.js';
import { WorkerHost } from './worker-host.js';
import type { ConnectionStats, RtmpWorkerConfig, WorkerMessage } from './worker-protocol.js';

/** Ingest knobs beyond the platform config; defaults in {@link DEFAULT_INGEST_TUNING}. */
export interface IngestTuning {
  /** RTMP application name. */
  app: string;
  /** Where the internal HTTP-FLV listener binds (the packager reads sessions there). */
  internalHost: string;
  /** Host put in `sourceUrl` (default: internalHost, or 127.0.0.1 when that is 0.0.0.0): the pod IP in a split deployment. */
  advertiseHost?: string;
  /** 0 = any free port (kept across worker restarts). */
  internalPort: number;
  publishDeadlineMs: number;
  idleTimeoutMs: number;
  authTimeoutMs: number;
  mediaWaitMs: number;
  maxConnections: number;
  maxConnectionsPerAddress: number;
  maxPreAuthMessageBytes: number;
  maxMessageBytes: number;
  maxChunkStreams: number;
  flvMaxBufferedBytes: number;
  /** Worker → parent counters, and the metric gauges. */
  statsIntervalMs: number;
  /** How often `ingest.stream.stats` goes on the bus per session. */
  statsPublishIntervalMs: number;
  heartbeatIntervalMs: number;
  heartbeatTimeoutMs: number;
  /** Module to fork as the worker (tests); default the bundled one. */
  workerEntry?: string;
}

/** Defaults for {@link IngestTuning}. */
export const DEFAULT_INGEST_TUNING: IngestTuning = {
  app: 'live',
  internalHost: '127.0.0.1',
  internalPort: 0,
  // OBS sends its publish command within a few hundred milliseconds of connecting.
  publishDeadlineMs: 5_000,
  idleTimeoutMs: 20_000,
  authTimeoutMs: 5_000,
  mediaWaitMs: 8_000,
  maxConnections: 1000,
  maxConnectionsPerAddress: 10,
  maxPreAuthMessageBytes: 64 * 1024,
  maxMessageBytes: 16 * 1024 * 1024,
  maxChunkStreams: 32,
  flvMaxBufferedBytes: 8 * 1024 * 1024,
  statsIntervalMs: 1000,
  statsPublishIntervalMs: 5000,
  heartbeatIntervalMs: 1000,
  heartbeatTimeoutMs: 6000,
};

/** The platform config sections ingest reads, plus optional tuning. A full `Config` fits. */
export type IngestServerConfig = Pick<Config, 'ports' | 'bindHost' | 'controlApiUrl' | 'internalToken'> & { ingest?: Partial<IngestTuning> };

/** control-api topics ingest acts on: a deleted or disabled stream loses its live publisher. */
export type StreamControlTopics = Pick<ControlApiTopics, 'control.stream.deleted' | 'control.stream.disabled'>;

/** The bus as ingest uses it: publishes its topics, listens to stream control (the platform Bus fits). */
export interface IngestBus {
  publish<K extends keyof IngestTopics & string>(topic: K, msg: IngestTopics[K]): Promise<void>;
  /** Handlers take `object` so any platform Bus fits; payloads are checked on arrival. */
  subscribe(topic: keyof StreamControlTopics & string, handler: (msg: object) => void | Promise<void>): Promise<() => Promise<void>>;
}

/** What IngestServer runs with. */
export interface IngestServerDeps {
  authorizer: PublishAuthorizer;
  bus: IngestBus;
  logger: Logger;
  metrics: Registry;
}

interface Session {
  connId: string;
  streamId: string;
  maskedKey: string;
  remoteAddress: string;
  passthrough?: boolean;
  ladder?: Rung[];
  encryption?: StreamEncryption;
  live: boolean;
  startedAtMs: number;
  sourceUrl?: string;
  last?: { at: number; bytes: number; frames: number };
  droppedCounted: number;
  lastPublishedAt: number;
}

/** The RTMP ingest service. */
export class IngestServer {
  private readonly tuning: IngestTuning;
  private readonly log: Logger;
  private readonly host: WorkerHost;
  private readonly sessions = new Map<string, Session>();
  private readonly owners = new Map<string, string>();
  private flvPort = 0;
  private restarts = 0;
  private unsubscribe: (() => Promise<void>)[] = [];
  /** Connections waiting for the authorizer; a close meanwhile flips the flag so no owner is left. */
  private readonly authorizing = new Map<string, { closed: boolean }>();
  /** Bumped when a worker exits: answers for its connections must not be applied afterwards. */
  private epoch = 0;
  private readonly m: {
    bitrate: Gauge<'stream'>;
    fps: Gauge<'stream'>;
    dropped: Counter<'stream'>;
    connections: Counter<'result'>;
    restarts: Counter;
    live: Gauge;
  };

  constructor(
    private readonly deps: IngestServerDeps,
    private readonly config: IngestServerConfig,
  ) {
    this.tuning = { ...DEFAULT_INGEST_TUNING, ...config.ingest };
    this.log = deps.logger.child({ mod: 'ingest' });
    const t = this.tuning;
    const worker: RtmpWorkerConfig = {
      rtmpHost: config.bindHost,
      rtmpPort: config.ports.rtmp,
      app: t.app,
      flvHost: t.internalHost,
      flvPort: t.internalPort,
      publishDeadlineMs: t.publishDeadlineMs,
      idleTimeoutMs: t.idleTimeoutMs,
      authTimeoutMs: t.authTimeoutMs,
      mediaWaitMs: t.mediaWaitMs,
      maxConnections: t.maxConnections,
      maxConnectionsPerAddress: t.maxConnectionsPerAddress,
      maxPreAuthMessageBytes: t.maxPreAuthMessageBytes,
      maxMessageBytes: t.maxMessageBytes,
      maxChunkStreams: t.maxChunkStreams,
      flvMaxBufferedBytes: t.flvMaxBufferedBytes,
      statsIntervalMs: t.statsIntervalMs,
    };
    this.host = new WorkerHost({ logger: this.log }, { worker, heartbeatIntervalMs: t.heartbeatIntervalMs, heartbeatTimeoutMs: t.heartbeatTimeoutMs, entry: t.workerEntry });
    const registers = [deps.metrics];
    this.m = {
      bitrate: new Gauge({ name: 'ingest_bitrate_bits_per_second', help: 'Bits per second received from the publisher', labelNames: ['stream'], registers }),
      fps: new Gauge({ name: 'ingest_frames_per_second', help: 'Video frames per second received from the publisher', labelNames: ['stream'], registers }),
      dropped: new Counter({ name: 'ingest_dropped_frames_total', help: 'Video frames dropped because the packager read too slowly', labelNames: ['stream'], registers }),
      connections: new Counter({ name: 'ingest_connections_total', help: 'RTMP connections by outcome', labelNames: ['result'], registers }),
      restarts: new Counter({ name: 'ingest_worker_restarts_total', help: 'Unexpected RTMP worker process exits (each is restarted)', registers }),
      live: new Gauge({ name: 'ingest_live_sessions', help: 'Publish sessions currently live', registers }),
    };
    this.host.on('message', (msg) => this.onWorkerMessage(msg));
    this.host.on('ready', (info) => {
      this.flvPort = info.flvPort;
    });
    this.host.on('exit', (info) => {
      this.epoch += 1;
      if (!info.expected) {
        this.restarts += 1;
        this.m.restarts.inc();
      }
      this.endAll(info.expected ? 'ingest shutting down' : 'ingest worker restarted');
    });
  }

  /** The RTMP port in use (the configured one, or the OS's choice for port 0). */
  get rtmpPort(): number {
    return this.host.rtmpPort;
  }

  /** The worker process id (tests kill it to check supervision). */
  get workerPid(): number | undefined {
    return this.host.pid;
  }

  /** Unexpected worker exits since start. */
  get workerRestarts(): number {
    return this.restarts;
  }

  /** Sessions that are live now. */
  liveSessions(): { streamId: string; sessionId: string; sourceUrl: string; startedAtMs: number }[] {
    return [...this.sessions.values()].filter((s) => s.live).map((s) => ({ streamId: s.streamId, sessionId: s.connId, sourceUrl: s.sourceUrl ?? '', startedAtMs: s.startedAtMs }));
  }

  /** Starts the worker; resolves once RTMP is listening. */
  async start(): Promise<void> {
    // Every ingest instance listens (no consumer group): only the one holding the socket acts.
    for (const topic of ['control.stream.deleted', 'control.stream.disabled'] as const) {
      const reason = topic === 'control.stream.deleted' ? 'stream deleted' : 'stream disabled';
      this.unsubscribe.push(
        await this.deps.bus.subscribe(topic, (msg) => {
          const streamId = (msg as Partial<StreamControlTopics[typeof topic]>).streamId;
          if (typeof streamId === 'string') this.dropStream(streamId, reason);
        }),
      );
    }
    await this.host.start();
    this.log.info({ rtmpPort: this.rtmpPort, app: this.tuning.app }, 'rtmp ingest listening');
  }

  /** Disconnects publishers (their sessions end) and stops the worker. */
  async close(): Promise<void> {
    await Promise.allSettled(this.unsubscribe.map((u) => u()));
    this.unsubscribe = [];
    await this.host.close();
    this.endAll('ingest shutting down');
  }

  private onWorkerMessage(msg: WorkerMessage): void {
    switch (msg.type) {
      case 'authorize':
        void this.onAuthorize(msg.connId, msg.streamKey, msg.remoteAddress);
        return;
      case 'live':
        this.onLive(msg);
        return;
      case 'closed':
        this.onClosed(msg);
        return;
      case 'stats':
        this.onStats(msg.sessions);
        return;
      case 'log':
        this.log[msg.level]({ ...msg.fields, src: 'rtmp-worker' }, msg.msg);
        return;
    }
  }

  private async onAuthorize(connId: string, streamKey: string, remoteAddress: string): Promise<void> {
    const maskedKey = maskKey(streamKey);
    const epoch = this.epoch;
    const pending = { closed: false };
    this.authorizing.set(connId, pending);
    let decision: PublishDecision;
    if (streamKey.length > 256) {
      decision = { ok: false, reason: 'stream key too long' };
    } else {
      try {
        decision = await withTimeout(this.deps.authorizer.authorize(streamKey, { remoteAddress }), this.tuning.authTimeoutMs);
      } catch (err) {
        this.log.error({ err, key: maskedKey, remoteAddress }, 'publish authorization failed');
        decision = { ok: false, reason: 'authorization unavailable' };
      }
    }
    this.authorizing.delete(connId);
    if (epoch !== this.epoch || pending.closed) return; // the connection (or its worker) is gone
    if (decision.ok && this.owners.has(decision.streamId)) decision = { ok: false, reason: 'stream is already live' };
    if (!decision.ok) {
      // The key is masked: enough to correlate with the creator's dashboard, never enough to publish.
      this.log.warn({ key: maskedKey, remoteAddress, reason: decision.reason }, 'publish refused');
      this.host.send({ type: 'decision', connId, ok: false, reason: decision.reason });
      return;
    }
    this.owners.set(decision.streamId, connId);
    this.sessions.set(connId, {
      connId,
      streamId: decision.streamId,
      maskedKey,
      remoteAddress,
      passthrough: decision.passthrough,
      ladder: decision.ladder,
      encryption: decision.encryption,
      live: false,
      startedAtMs: 0,
      lastPublishedAt: 0,
      droppedCounted: 0,
    });
    // Counters start at 0 for the stream, so "none dropped" is a value on the dashboards, not a gap.
    this.m.dropped.inc({ stream: decision.streamId }, 0);
    this.host.send({ type: 'decision', connId, ok: true, streamId: decision.streamId });
  }

  private onLive(msg: Extract<WorkerMessage, { type: 'live' }>): void {
    const s = this.sessions.get(msg.connId);
    if (!s) return;
    const urlHost = this.tuning.advertiseHost ?? (this.tuning.internalHost === '0.0.0.0' ? '127.0.0.1' : this.tuning.internalHost);
    s.live = true;
    // The ingest wall clock of the first keyframe: PDT is anchored on it (packager LiveSession).
    s.startedAtMs = msg.atMs;
    s.sourceUrl = `http://${urlHost}:${this.flvPort}/ingest/${msg.token}.flv`;
    this.m.connections.inc({ result: 'accepted' });
    this.m.live.inc();
    this.log.info({ streamId: s.streamId, sessionId: s.connId, key: s.maskedKey, remoteAddress: s.remoteAddress, video: msg.video, audio: msg.audio }, 'publish started');
    this.publish('ingest.stream.started', {
      streamId: s.streamId,
      sessionId: s.connId,
      sourceUrl: s.sourceUrl,
      startedAtMs: s.startedAtMs,
      remoteAddress: s.remoteAddress,
      ...(msg.video ? { video: msg.video } : {}),
      ...(msg.audio ? { audio: msg.audio } : {}),
      ...(s.passthrough !== undefined ? { passthrough: s.passthrough } : {}),
      ...(s.ladder ? { ladder: s.ladder } : {}),
      ...(s.encryption ? { encryption: s.encryption } : {}),
    });
  }

  private onClosed(msg: Extract<WorkerMessage, { type: 'closed' }>): void {
    const pending = this.authorizing.get(msg.connId);
    if (pending) pending.closed = true;
    const s = this.sessions.get(msg.connId);
    if (!msg.wasLive) {
      this.m.connections.inc({ result: msg.result });
      if (msg.result !== 'abandoned') {
        // Protocol errors and timeouts were already logged (rate-limited) by the worker.
        const level = msg.result === 'refused' ? 'info' : 'debug';
        this.log[level]({ sessionId: msg.connId, key: s?.maskedKey, remoteAddress: msg.remoteAddress, result: msg.result, reason: msg.reason }, 'rtmp connection ended before going live');
      }
    }
    if (s && msg.stats) this.countDropped(s, msg.stats.droppedFrames);
    if (s) this.finish(s, msg.reason);
  }

  private countDropped(s: Session, total: number): void {
    if (total > s.droppedCounted) this.m.dropped.inc({ stream: s.streamId }, total - s.droppedCounted);
    s.droppedCounted = Math.max(s.droppedCounted, total);
  }

  private onStats(stats: ConnectionStats[]): void {
    const now = Date.now();
    for (const st of stats) {
      const s = this.sessions.get(st.connId);
      if (!s?.live) continue;
      this.countDropped(s, st.droppedFrames);
      const last = s.last;
      s.last = { at: now, bytes: st.bytesIn, frames: st.videoFrames };
      if (!last) continue;
      const dt = Math.max(0.001, (now - last.at) / 1000);
      const bitrate = ((st.bytesIn - last.bytes) * 8) / dt;
      const fps = (st.videoFrames - last.frames) / dt;
      this.m.bitrate.set({ stream: s.streamId }, Math.round(bitrate));
      this.m.fps.set({ stream: s.streamId }, Math.round(fps * 100) / 100);
      if (now - s.lastPublishedAt >= this.tuning.statsPublishIntervalMs) {
        s.lastPublishedAt = now;
        this.publish('ingest.stream.stats', {
          streamId: s.streamId,
          sessionId: s.connId,
          bitrateKbps: Math.round(bitrate / 1000),
          fps: Math.round(fps * 100) / 100,
          droppedFrames: st.droppedFrames,
          bytesIn: st.bytesIn,
          atMs: now,
        });
      }
    }
  }

  /** Disconnects whoever publishes (or is about to publish) `streamId`. */
  private dropStream(streamId: string, reason: string): void {
    const connId = this.owners.get(streamId);
    if (!connId) return;
    this.log.info({ streamId, sessionId: connId, reason }, 'dropping publisher');
    this.host.send({ type: 'kick', connId, reason });
  }

  private finish(s: Session, reason: string): void {
    this.sessions.delete(s.connId);
    if (this.owners.get(s.streamId) === s.connId) this.owners.delete(s.streamId);
    if (!s.live) return;
    this.m.live.dec();
    this.m.bitrate.remove({ stream: s.streamId });
    this.m.fps.remove({ stream: s.streamId });
    this.m.dropped.remove({ stream: s.streamId });
    this.log.info({ streamId: s.streamId, sessionId: s.connId, reason }, 'publish ended');
    this.publish('ingest.stream.ended', { streamId: s.streamId, sessionId: s.connId, endedAtMs: Date.now(), reason });
  }

  private endAll(reason: string): void {
    for (const pending of this.authorizing.values()) pending.closed = true;
    for (const s of [...this.sessions.values()]) this.finish(s, reason);
  }

  private publish<K extends keyof IngestTopics & string>(topic: K, msg: IngestTopics[K]): void {
    this.deps.bus.publish(topic, msg).catch((err: unknown) => this.log.error({ err, topic }, 'bus publish failed'));
  }
}

/** Rejects when `p` takes longer than `ms`. */
function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
    p.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err instanceof Error ? err : new Error(String(err)));
      },
    );
  });
}
