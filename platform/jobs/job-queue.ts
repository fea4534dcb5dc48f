/**
 * Durable jobs (VOD transcodes) on pg-boss 10: Postgres in production, and the embedded PGlite through
 * pg-boss's `db` adapter, so `npm start` needs no queue server. Jobs are at-least-once: a job whose
 * worker died (SIGKILL, a lost machine) expires after its timeout and is retried with backoff, so
 * handlers must be idempotent.
 */
import PgBoss from 'pg-boss';
import type { Logger } from '../logger.js';
import type { Sql } from '../sql/sql.js';

/** One job as a handler sees it. */
export interface Job<T> {
  id: string;
  data: T;
  /** Earlier attempts that failed or expired (0 on the first run). */
  retryCount: number;
  /** Aborted when the job's timeout passes: pg-boss then counts it failed, so the handler must stop its work. */
  signal: AbortSignal;
}

/** How a job runs. */
export interface SendOptions {
  /** Attempts after the first. Default the queue's. */
  retryLimit?: number;
  /** A job still running after this long is taken as dead and retried. */
  timeoutSeconds?: number;
  /** At most one queued-or-running job with this key. */
  singletonKey?: string;
  /** With singletonKey: at most one such job per window of this many seconds, cluster-wide (a schedule). */
  singletonSeconds?: number;
}

/** Settings of a queue. */
export interface QueueOptions {
  retryLimit: number;
  /** First retry delay, doubled each time (pg-boss backoff). */
  retryDelaySeconds: number;
  timeoutSeconds: number;
}

/** The job queue port. */
export interface JobQueue {
  createQueue(name: string, opts: QueueOptions): Promise<void>;
  send<T extends object>(name: string, data: T, opts?: SendOptions): Promise<string | null>;
  /** Runs `concurrency` workers of the queue in this process. */
  work<T extends object>(name: string, opts: { concurrency: number; pollingIntervalSeconds?: number }, handler: (job: Job<T>) => Promise<void>): Promise<void>;
  /** Job counts by state (created, retry, active, completed, failed, ...). */
  counts(name: string): Promise<Record<string, number>>;
  close(): Promise<void>;
}

/** Settings of {@link PgBossJobQueue}. */
export interface PgBossJobQueueOptions {
  /** How often expired jobs are found and retried (seconds). Default 15. */
  superviseIntervalSeconds?: number;
  /** This process only sends: no maintenance, no workers. */
  sendOnly?: boolean;
}

/** pg-boss over the platform's Sql port (PGlite or Postgres). */
export class PgBossJobQueue implements JobQueue {
  private readonly boss: PgBoss;
  private started?: Promise<void>;
  private readonly queues = new Set<string>();

  constructor(
    private readonly deps: { sql: Sql; logger: Logger },
    opts: PgBossJobQueueOptions = {},
  ) {
    const sql = deps.sql;
    const db = {
      // pg-boss sends several statements without parameters (its migrations) and single statements with them.
      executeSql: async (text: string, values?: unknown[]) => ({ rows: await sql.query(text, values ?? []) }),
    };
    this.boss = new PgBoss({
      db,
      schema: 'pgboss',
      supervise: !opts.sendOnly,
      schedule: false,
      maintenanceIntervalSeconds: opts.superviseIntervalSeconds ?? 15,
    });
    this.boss.on('error', (err) => deps.logger.error({ err }, 'job queue error'));
  }

  private start(): Promise<void> {
    this.started ??= this.boss.start().then(() => undefined);
    return this.started;
  }

  async createQueue(name: string, opts: QueueOptions): Promise<void> {
    await this.start();
    const settings = { name, retryLimit: opts.retryLimit, retryDelay: opts.retryDelaySeconds, retryBackoff: true, expireInSeconds: opts.timeoutSeconds };
    if (await this.boss.getQueue(name)) await this.boss.updateQueue(name, settings);
    else await this.boss.createQueue(name, settings);
    this.queues.add(name);
  }

  async send<T extends object>(name: string, data: T, opts: SendOptions = {}): Promise<string | null> {
    await this.start();
    return this.boss.send(name, data, {
      ...(opts.retryLimit !== undefined ? { retryLimit: opts.retryLimit } : {}),
      ...(opts.timeoutSeconds !== undefined ? { expireInSeconds: Math.max(1, Math.round(opts.timeoutSeconds)) } : {}),
      ...(opts.singletonKey ? { singletonKey: opts.singletonKey } : {}),
      ...(opts.singletonSeconds ? { singletonSeconds: opts.singletonSeconds } : {}),
    });
  }

  async work<T extends object>(name: string, opts: { concurrency: number; pollingIntervalSeconds?: number }, handler: (job: Job<T>) => Promise<void>): Promise<void> {
    await this.start();
    for (let i = 0; i < opts.concurrency; i++) {
      await this.boss.work<T>(name, { batchSize: 1, includeMetadata: true, pollingIntervalSeconds: opts.pollingIntervalSeconds ?? 1 }, async (jobs) => {
        for (const job of jobs) {
          const timeout = AbortSignal.timeout(Math.max(1, job.expireInSeconds) * 1000);
          await handler({ id: job.id, data: job.data, retryCount: job.retryCount, signal: timeout });
        }
      });
    }
  }

  async counts(name: string): Promise<Record<string, number>> {
    await this.start();
    const rows = await this.deps.sql.query<{ state: string; n: number }>(`SELECT state::text AS state, count(*)::int AS n FROM pgboss.job WHERE name = $1 GROUP BY state`, [name]);
    return Object.fromEntries(rows.map((r) => [r.state, Number(r.n)]));
  }

  async close(): Promise<void> {
    if (!this.started) return;
    await this.started.catch(() => undefined);
    // Running jobs are left to expire and retry elsewhere: a transcode is not waited for.
    await this.boss.stop({ graceful: false, wait: true, close: false, timeout: 1000 }).catch(() => undefined);
  }
}
