/**
 * The RTMP worker process (forked by IngestServer). It owns the RTMP listener and the internal HTTP-FLV
 * listener, runs each connection through a guarded node-media-server session (rtmp-connection.ts), asks
 * the parent to authorize publishes, and reports lifecycle and stats over IPC. Anything that still
 * escapes (a bug in this code, a hang) ends or stalls only this process; the parent restarts it.
 */
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { InternalFlvServer } from './internal-flv-server.js';
import { loadNms, type NmsModules } from './nms.js';
import { RtmpConnection, type ConnectionHost } from './rtmp-connection.js';
import type { ParentMessage, RtmpWorkerConfig, WorkerMessage } from './worker-protocol.js';

/** The worker's sockets and sessions. */
export class RtmpWorker implements ConnectionHost {
  readonly nms: NmsModules;
  private readonly connections = new Map<string, RtmpConnection>();
  /** Open sockets per client address. */
  private readonly perAddress = new Map<string, number>();
  private readonly flv: InternalFlvServer;
  private rtmpServer?: net.Server;
  private statsTimer?: NodeJS.Timeout;
  /** Warn-level lines this second, and how many were held back (a hostile client can cause many). */
  private warnWindow = { second: 0, count: 0, suppressed: 0 };

  constructor(
    private readonly deps: { send: (msg: WorkerMessage) => void },
    readonly config: RtmpWorkerConfig,
  ) {
    this.nms = loadNms();
    this.flv = new InternalFlvServer(
      { createFlvHeader: this.nms.createFlvHeader, log: (msg, fields) => this.log('warn', msg, fields) },
      { host: config.flvHost, port: config.flvPort, maxBufferedBytes: config.flvMaxBufferedBytes },
    );
  }

  /** Opens both listeners and reports `ready` with their ports. */
  async start(): Promise<void> {
    const flvPort = await this.flv.start();
    const server = net.createServer((socket) => this.onSocket(socket));
    server.maxConnections = this.config.maxConnections;
    this.rtmpServer = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.config.rtmpPort, this.config.rtmpHost, () => resolve());
    });
    server.on('error', (err) => this.log('error', 'rtmp listener error', { err: err.message }));
    this.statsTimer = setInterval(() => this.sendStats(), this.config.statsIntervalMs);
    this.statsTimer.unref();
    this.send({ type: 'ready', rtmpPort: (server.address() as AddressInfo).port, flvPort });
  }

  /** Handles one message from the parent. */
  onMessage(msg: ParentMessage): void {
    switch (msg.type) {
      case 'decision': {
        const conn = this.connections.get(msg.connId);
        if (!conn) return;
        try {
          conn.decide(msg.ok, msg.ok ? msg.streamId : msg.reason);
        } catch (err) {
          this.log('warn', 'publish registration failed', { connId: msg.connId, err: (err as Error).message });
          conn.kick('publish registration failed');
        }
        return;
      }
      case 'kick':
        this.connections.get(msg.connId)?.kick(msg.reason);
        return;
      case 'ping':
        this.send({ type: 'pong', seq: msg.seq });
        return;
      case 'shutdown':
        void this.close().then(() => process.exit(0));
        return;
      case 'init':
        return;
    }
  }

  /** Closes listeners and every connection. */
  async close(): Promise<void> {
    clearInterval(this.statsTimer);
    for (const conn of this.connections.values()) conn.kick('ingest shutting down');
    await this.flv.close();
    const server = this.rtmpServer;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** ConnectionHost: IPC to the parent (dropped if the channel is gone). */
  send(msg: WorkerMessage): void {
    if (this.deps.send) this.deps.send(msg);
  }

  /** ConnectionHost: log through the parent's logger. */
  log(level: 'debug' | 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>): void {
    if (level === 'warn') {
      const w = this.warnWindow;
      const second = Math.floor(Date.now() / 1000);
      if (second !== w.second) {
        if (w.suppressed) this.send({ type: 'log', level, msg: 'rtmp warnings suppressed', fields: { suppressed: w.suppressed } });
        this.warnWindow = { second, count: 0, suppressed: 0 };
      }
      if (++this.warnWindow.count > 20) {
        this.warnWindow.suppressed += 1;
        return;
      }
    }
    this.send({ type: 'log', level, msg, fields });
  }

  /** ConnectionHost: serve a live connection to the packager. */
  publishToken(token: string, conn: RtmpConnection): void {
    this.flv.publish(token, conn);
  }

  /** ConnectionHost: a connection closed. */
  forget(conn: RtmpConnection): void {
    this.connections.delete(conn.id);
    if (conn.token) this.flv.unpublish(conn.token);
  }

  private onSocket(socket: net.Socket): void {
    socket.on('error', () => undefined); // resets are normal; the close handler reports
    // One address cannot take the listener's whole connection budget (a flood of idle or junk
    // connections): past its cap, a socket is closed before anything is read or allocated for it.
    const address = (socket.remoteAddress ?? '').replace(/^::ffff:/, '');
    const open = this.perAddress.get(address) ?? 0;
    if (open >= this.config.maxConnectionsPerAddress) {
      this.log('warn', 'rtmp connection refused: too many from one address', { remoteAddress: address, open });
      socket.destroy();
      return;
    }
    this.perAddress.set(address, open + 1);
    socket.once('close', () => {
      const n = (this.perAddress.get(address) ?? 1) - 1;
      if (n <= 0) this.perAddress.delete(address);
      else this.perAddress.set(address, n);
    });
    try {
      const conn = new RtmpConnection(this, socket);
      this.connections.set(conn.id, conn);
    } catch (err) {
      this.log('warn', 'rtmp connection setup failed', { err: (err as Error).message });
      socket.destroy();
    }
  }

  private sendStats(): void {
    const sessions = [...this.connections.values()].filter((c) => c.state === 'live').map((c) => c.stats());
    if (sessions.length) this.send({ type: 'stats', sessions });
  }
}

/** Process entry (rtmp-worker-main.ts): wait for `init`, then run until told to stop or orphaned. */
export function runRtmpWorkerProcess(): void {
  const send = (msg: WorkerMessage) => {
    if (process.connected) process.send?.(msg);
  };
  let worker: RtmpWorker | undefined;
  // Last line of defence: an exception that escaped the per-connection guards leaves NMS state
  // unknown, so report it and exit; the parent restarts a clean worker.
  process.on('uncaughtException', (err) => {
    send({ type: 'log', level: 'error', msg: 'rtmp worker crashed', fields: { err: `${err.name}: ${err.message}`.slice(0, 300) } });
    process.exit(70);
  });
  process.on('disconnect', () => process.exit(0));
  process.on('message', (msg: ParentMessage) => {
    if (msg.type === 'init' && !worker) {
      worker = new RtmpWorker({ send }, msg.config);
      worker.start().catch((err: Error) => {
        send({ type: 'log', level: 'error', msg: 'rtmp worker failed to start', fields: { err: err.message } });
        process.exit(78);
      });
      return;
    }
    worker?.onMessage(msg);
  });
}
