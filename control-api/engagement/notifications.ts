import crypto from 'node:crypto';
import type { Logger, Sql, Unsubscribe } from '../../platform/index.js';
import type { ControlApiBus } from '../app.js';
import { badRequest, notFound } from '../http/http-errors.js';
import type { AccountView, MaturityRating } from '../contract.js';
import { maturityRank } from '../catalog/index.js';

/** What a notification is about. */
export type NotificationKind = 'creator.live' | 'upload.ready' | 'upload.failed' | 'comment.reply' | 'series.newEpisode';

/** A notification as the API and the WebSocket send it; `seq` orders them per platform (the replay cursor). */
export interface NotificationView {
  id: string;
  seq: number;
  kind: NotificationKind;
  /** Kind-specific: ids and names to link to (streamId, assetId, titleId, commentId, ...). */
  data: Record<string, unknown>;
  createdAt: string;
  readAt: string | null;
}

interface NotificationRow {
  id: string;
  seq: string | number;
  account_id: string;
  kind: NotificationKind;
  data: Record<string, unknown>;
  created_at: Date;
  read_at: Date | null;
}

function toView(r: NotificationRow): NotificationView {
  return { id: r.id, seq: Number(r.seq), kind: r.kind, data: r.data, createdAt: new Date(r.created_at).toISOString(), readAt: r.read_at ? new Date(r.read_at).toISOString() : null };
}

/** A socket as the hub sees it. */
export interface NotificationSocket {
  send(text: string): void;
}

/**
 * Notifications: stored per account (listed, marked read, replayed after a `since` sequence number)
 * and pushed to every open WebSocket of the account on every control-api process: the process that
 * stores one publishes it on the bus, and each process, subscribed without a consumer group, writes
 * it to the sockets it holds.
 */
export class NotificationService {
  private readonly sockets = new Map<string, Set<NotificationSocket>>();
  private unsubscribe?: Unsubscribe;

  constructor(
    private readonly deps: {
      sql: Sql;
      logger: Logger;
      bus?: Pick<ControlApiBus, 'publish' | 'subscribe'>;
      accounts: { get(id: string): Promise<AccountView | undefined> };
      profiles: { owners(ids: readonly string[]): Promise<{ id: string; accountId: string; maturityCeiling: MaturityRating }[]> };
    },
  ) {}

  /** Stores a notification for the account and announces it to every process. */
  async notify(accountId: string, kind: NotificationKind, data: Record<string, unknown>): Promise<NotificationView> {
    const [row] = await this.deps.sql.query<NotificationRow>(
      `INSERT INTO notifications (id, account_id, kind, data, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING *`,
      [crypto.randomUUID(), accountId, kind, JSON.stringify(data), new Date()],
    );
    const view = toView(row);
    if (this.deps.bus) {
      await this.deps.bus.publish('control.notification.created', { accountId, notification: view }).catch((err: unknown) => this.deps.logger.error({ err }, 'notification publish failed'));
    } else this.deliver(accountId, view);
    return view;
  }

  /** Hears of notifications stored by any process (call once per process). */
  async start(): Promise<void> {
    if (!this.deps.bus || this.unsubscribe) return;
    this.unsubscribe = await this.deps.bus.subscribe('control.notification.created', (m) => this.deliver(m.accountId, m.notification as NotificationView));
  }

  /** Stops hearing of them. */
  async close(): Promise<void> {
    await this.unsubscribe?.();
    this.unsubscribe = undefined;
  }

  /** Registers an open socket of the account; returns its removal. */
  attach(accountId: string, socket: NotificationSocket): () => void {
    let set = this.sockets.get(accountId);
    if (!set) this.sockets.set(accountId, (set = new Set()));
    set.add(socket);
    return () => {
      set.delete(socket);
      if (set.size === 0) this.sockets.delete(accountId);
    };
  }

  /** Open sockets on this process (for the metrics and tests). */
  get openSockets(): number {
    let n = 0;
    for (const s of this.sockets.values()) n += s.size;
    return n;
  }

  private deliver(accountId: string, notification: NotificationView): void {
    const text = JSON.stringify({ type: 'notification', notification });
    for (const socket of this.sockets.get(accountId) ?? []) {
      try {
        socket.send(text);
      } catch (err) {
        this.deps.logger.debug({ err }, 'notification socket send failed');
      }
    }
  }

  /** The account's notifications, newest first; `before` is the seq to page back from. */
  async list(accountId: string, opts: { limit: number; before?: number; unread?: boolean }): Promise<{ items: NotificationView[]; nextCursor: string | null; unread: number }> {
    const rows = await this.deps.sql.query<NotificationRow>(
      `SELECT * FROM notifications WHERE account_id = $1 AND ($2::bigint IS NULL OR seq < $2) AND (NOT $3 OR read_at IS NULL)
        ORDER BY seq DESC LIMIT $4`,
      [accountId, opts.before ?? null, opts.unread ?? false, opts.limit + 1],
    );
    const [{ n }] = await this.deps.sql.query<{ n: number }>(`SELECT count(*)::int AS n FROM notifications WHERE account_id = $1 AND read_at IS NULL`, [accountId]);
    const page = rows.slice(0, opts.limit);
    return { items: page.map(toView), nextCursor: rows.length > opts.limit ? String(page.at(-1)!.seq) : null, unread: n };
  }

  /** Notifications after `since`, oldest first (the replay of a reconnecting socket). */
  async since(accountId: string, since: number, limit = 500): Promise<NotificationView[]> {
    const rows = await this.deps.sql.query<NotificationRow>(`SELECT * FROM notifications WHERE account_id = $1 AND seq > $2 ORDER BY seq LIMIT $3`, [accountId, since, limit]);
    return rows.map(toView);
  }

  /** Marks some (or, without ids, all) of the account's notifications read; returns how many changed. */
  async markRead(accountId: string, ids?: string[]): Promise<number> {
    if (ids && ids.some((id) => !/^[0-9a-f-]{36}$/i.test(id))) throw badRequest('VALIDATION_FAILED', 'ids must be notification ids');
    const rows = await this.deps.sql.query(
      `UPDATE notifications SET read_at = $3 WHERE account_id = $1 AND read_at IS NULL AND ($2::uuid[] IS NULL OR id = ANY($2::uuid[])) RETURNING id`,
      [accountId, ids ?? null, new Date()],
    );
    return rows.length;
  }

  /** Follows a creator's account (to hear when they go live). */
  async follow(accountId: string, creatorId: string, following: boolean): Promise<void> {
    if (!/^[0-9a-f-]{36}$/i.test(creatorId) || creatorId === accountId) throw notFound('creator');
    if (!following) {
      await this.deps.sql.query(`DELETE FROM follows WHERE follower_id = $1 AND creator_id = $2`, [accountId, creatorId]);
      return;
    }
    const creator = await this.deps.accounts.get(creatorId);
    if (!creator || creator.role === 'viewer') throw notFound('creator');
    await this.deps.sql.query(`INSERT INTO follows (follower_id, creator_id, created_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`, [accountId, creatorId, new Date()]);
  }

  /** A creator's stream went live: every follower hears of it. */
  async creatorWentLive(stream: { id: string; accountId: string; title: string }): Promise<void> {
    const followers = await this.deps.sql.query<{ follower_id: string }>(`SELECT follower_id FROM follows WHERE creator_id = $1`, [stream.accountId]);
    for (const f of followers) await this.notify(f.follower_id, 'creator.live', { streamId: stream.id, creatorId: stream.accountId, title: stream.title });
  }

  /** An episode was published for the first time: accounts with a profile that lists its series (and may see it) hear of it. */
  async newEpisode(episode: { id: string; seriesId: string; name: string; season: number | null; episode: number | null; maturityRating: MaturityRating }): Promise<void> {
    const listed = await this.deps.sql.query<{ profile_id: string }>(`SELECT profile_id FROM watchlist WHERE title_id = $1`, [episode.seriesId]);
    const owners = await this.deps.profiles.owners(listed.map((r) => r.profile_id));
    const accounts = new Set(owners.filter((p) => maturityRank(p.maturityCeiling) >= maturityRank(episode.maturityRating)).map((p) => p.accountId));
    for (const accountId of accounts) {
      await this.notify(accountId, 'series.newEpisode', { titleId: episode.id, seriesId: episode.seriesId, name: episode.name, season: episode.season, episode: episode.episode });
    }
  }
}
