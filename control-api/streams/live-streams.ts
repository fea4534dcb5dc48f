import crypto from 'node:crypto';
import { AppError, type Config, type Logger, maskKey, type Sql } from '../../platform/index.js';
import type { ControlApiBus } from '../app.js';
import type { AssetService } from '../media/assets.js';
import type { PlaybackPolicies } from '../playback/playback-policies.js';
import type {
  IngestHealth,
  PublishRejection,
  LiveStreamError,
  ControlApiTopics, EncryptionMode, LadderRung, LiveStreamStatus, LiveStreamView, PlaybackPolicy, PublishAuthorization,
} from '../contract.js';
import { requireEncryptionSupport } from '../playback/key-store.js';
import { decodeCursor, encodeCursor } from '../http/cursor.js';
import { isUuid, notFound } from '../http/http-errors.js';
import { randomBase62, sha256 } from '../accounts/passwords.js';
import { clearKeyLicenseUrl, toLiveStreamUrls } from '../playback/urls.js';

interface LiveStreamRow {
  id: string;
  account_id: string;
  title: string;
  stream_key_prefix: string;
  enabled: boolean;
  status: LiveStreamStatus;
  ladder: LadderRung[] | null;
  passthrough: boolean;
  playback_policy: PlaybackPolicy;
  encryption: EncryptionMode;
  key_rotation_segments: number | null;
  created_at: Date;
  updated_at: Date;
  last_live_at: Date | null;
  publisher_connected: boolean;
  publisher_seen_at: Date | null;
  last_error: LiveStreamError | null;
  ingest_stats: IngestHealth | null;
}

/**
 * Ingest reports a live publisher every few seconds (`ingest.stream.stats`); one not heard of for this
 * long is taken as gone (an ingest that crashed never says "ended"), so its key may publish again.
 */
export const PUBLISHER_HEARTBEAT_MS = 20_000;

function publisherPresent(row: LiveStreamRow, now = Date.now()): boolean {
  if (!row.publisher_connected) return false;
  const seen = row.publisher_seen_at ? new Date(row.publisher_seen_at).getTime() : 0;
  return now - seen < PUBLISHER_HEARTBEAT_MS;
}

/** Fields a creator sets when creating a stream. */
export interface CreateLiveStreamInput {
  title: string;
  passthrough?: boolean;
  ladder?: LadderRung[];
  playbackPolicy?: PlaybackPolicy;
  encryption?: EncryptionMode;
  keyRotationSegments?: number;
}

/** One page of a listing; `nextCursor` is null on the last page. */
export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

/** `sk_` + 32 base62 characters ≈ 190 bits: unguessable, so a SHA-256 lookup is enough (no slow hash). */
const STREAM_KEY = /^sk_[A-Za-z0-9]{32}$/;
/** How many recordings a stream view lists. */
const RECENT_ASSETS = 10;

function iso(d: Date | null): string | null {
  return d === null ? null : new Date(d).toISOString();
}

/** Live streams and their stream keys; also answers the live pipeline's publish authorizations. */
export class LiveStreamService {
  constructor(
    private readonly deps: { sql: Sql; assets: AssetService; logger: Logger; bus?: Pick<ControlApiBus, 'publish'>; policies?: PlaybackPolicies },
    private readonly config: Config,
  ) {}

  /** Creates a stream with a fresh key; the key is in this answer and nowhere else, ever. */
  async create(accountId: string, input: CreateLiveStreamInput): Promise<LiveStreamView> {
    // Fail closed: a signed stream on a server that cannot sign playback tokens would play for anyone.
    if (input.playbackPolicy === 'signed' && !this.config.edge.playbackSigningKey) {
      throw new AppError(409, 'PLAYBACK_SIGNING_DISABLED', 'playbackPolicy "signed" needs PLAYBACK_SIGNING_KEY on this server (one-process mode generates one under DATA_DIR)');
    }
    const encryption = input.encryption ?? this.config.drm.defaultEncryption;
    requireEncryptionSupport(this.config, encryption, 'stream');
    const [{ n }] = await this.deps.sql.query<{ n: number }>(`SELECT count(*)::int AS n FROM live_streams WHERE account_id = $1`, [accountId]);
    if (n >= this.config.quotas.liveStreams) {
      throw new AppError(403, 'QUOTA_LIVE_STREAMS', `this account has ${n} live streams, the most QUOTA_LIVE_STREAMS allows; delete one first`);
    }
    const key = newStreamKey();
    const now = new Date();
    const [row] = await this.deps.sql.query<LiveStreamRow>(
      `INSERT INTO live_streams (id, account_id, title, stream_key_hash, stream_key_prefix, ladder, passthrough, playback_policy, created_at, updated_at, encryption, key_rotation_segments)
       VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8, $9, $9, $10, $11) RETURNING *`,
      [
        crypto.randomUUID(), accountId, input.title.trim(), key.hash, key.prefix,
        input.ladder ? JSON.stringify(input.ladder) : null, input.passthrough ?? false, input.playbackPolicy ?? 'public', now, encryption, input.keyRotationSegments ?? null,
      ],
    );
    await this.deps.policies?.set(row.id, row.playback_policy);
    await this.announce('control.stream.created', row);
    return this.toView(row, [], key.secret);
  }

  /** The account's streams, newest first, `limit` per page. */
  async list(accountId: string, limit: number, cursor?: string): Promise<Page<LiveStreamView>> {
    const after = cursor === undefined ? undefined : decodeCursor(cursor);
    const rows = await this.deps.sql.query<LiveStreamRow>(
      `SELECT * FROM live_streams
        WHERE account_id = $1 AND ($2::timestamptz IS NULL OR (created_at, id) < ($2::timestamptz, $3::uuid))
        ORDER BY created_at DESC, id DESC LIMIT $4`,
      [accountId, after?.createdAt ?? null, after?.id ?? null, limit + 1],
    );
    const page = rows.slice(0, limit);
    const recent = await this.deps.assets.recentIdsByStream(page.map((r) => r.id), RECENT_ASSETS);
    const last = page.at(-1);
    return {
      items: page.map((r) => this.toView(r, recent.get(r.id) ?? [])),
      nextCursor: rows.length > limit && last ? encodeCursor(last) : null,
    };
  }

  /** One of the account's streams; 404 when it does not exist or is someone else's. */
  async get(accountId: string, id: string): Promise<LiveStreamView> {
    if (!isUuid(id)) throw notFound('live stream');
    const [row] = await this.deps.sql.query<LiveStreamRow>(`SELECT * FROM live_streams WHERE id = $1 AND account_id = $2`, [id, accountId]);
    if (!row) throw notFound('live stream');
    const recent = await this.deps.assets.recentIdsByStream([row.id], RECENT_ASSETS);
    return this.toView(row, recent.get(row.id) ?? []);
  }

  /** Deletes a stream (its recordings stay, detached); ingest drops a live publisher on the event. */
  async delete(accountId: string, id: string): Promise<void> {
    if (!isUuid(id)) throw notFound('live stream');
    const [row] = await this.deps.sql.query<LiveStreamRow>(`DELETE FROM live_streams WHERE id = $1 AND account_id = $2 RETURNING *`, [id, accountId]);
    if (!row) throw notFound('live stream');
    await this.announce('control.stream.deleted', row);
  }

  /** Replaces the stream key; the old one stops authorizing at once. */
  async rotateKey(accountId: string, id: string): Promise<LiveStreamView> {
    const key = newStreamKey();
    const row = await this.update(accountId, id, `stream_key_hash = $3, stream_key_prefix = $4`, [key.hash, key.prefix]);
    await this.announce('control.stream.keyRotated', row);
    const recent = await this.deps.assets.recentIdsByStream([row.id], RECENT_ASSETS);
    return this.toView(row, recent.get(row.id) ?? [], key.secret);
  }

  /** Enables or disables publishing; disabling also ends a live session (ingest acts on the event). */
  async setEnabled(accountId: string, id: string, enabled: boolean): Promise<LiveStreamView> {
    const row = await this.update(accountId, id, `enabled = $3`, [enabled]);
    await this.announce(enabled ? 'control.stream.enabled' : 'control.stream.disabled', row);
    const recent = await this.deps.assets.recentIdsByStream([row.id], RECENT_ASSETS);
    return this.toView(row, recent.get(row.id) ?? []);
  }

  /**
   * May this key publish now? Read-only: the stream turns `live` when ingest reports media through
   * setStatus, so a refused or aborted handshake leaves no state behind.
   */
  async authorizePublish(streamKey: string): Promise<PublishAuthorization> {
    if (!STREAM_KEY.test(streamKey)) return { ok: false, reason: 'unknown-key' };
    const [row] = await this.deps.sql.query<LiveStreamRow>(`SELECT * FROM live_streams WHERE stream_key_hash = $1`, [sha256(streamKey)]);
    let refuse: PublishRejection | undefined = !row ? 'unknown-key' : !row.enabled ? 'disabled' : publisherPresent(row) ? 'already-live' : undefined;
    if (!refuse && (await this.liveSessions(row.account_id)) >= this.config.quotas.liveSessions) refuse = 'quota-live-sessions';
    if (refuse) {
      this.deps.logger.info({ key: maskKey(streamKey), streamId: row?.id, reason: refuse }, 'publish refused');
      return { ok: false, reason: refuse };
    }
    return {
      ok: true,
      streamId: row.id,
      accountId: row.account_id,
      ...(row.ladder ? { ladder: row.ladder } : {}),
      passthrough: row.passthrough,
      playbackPolicy: row.playback_policy,
      ...(row.encryption === 'cbcs' || row.encryption === 'cenc'
        ? { encryption: { scheme: row.encryption, licenseUrl: clearKeyLicenseUrl(this.config), rotationSegments: row.key_rotation_segments ?? this.config.drm.keyRotationSegments } }
        : {}),
    };
  }

  /** Streams of the account with a publisher connected now (each one runs an FFmpeg ladder). */
  private async liveSessions(accountId: string): Promise<number> {
    const rows = await this.deps.sql.query<LiveStreamRow>(`SELECT * FROM live_streams WHERE account_id = $1 AND publisher_connected`, [accountId]);
    return rows.filter((r) => publisherPresent(r)).length;
  }

  /** A stream's owner, title and status (for notifications); undefined when it does not exist. */
  async summary(id: string): Promise<{ id: string; accountId: string; title: string; status: LiveStreamStatus } | undefined> {
    if (!isUuid(id)) return undefined;
    const [row] = await this.deps.sql.query<LiveStreamRow>(`SELECT * FROM live_streams WHERE id = $1`, [id]);
    return row && { id: row.id, accountId: row.account_id, title: row.title, status: row.status };
  }

  /** Records a status change reported by the live pipeline; false when the stream does not exist. */
  async setStatus(id: string, status: LiveStreamStatus): Promise<boolean> {
    if (!isUuid(id)) return false;
    const now = new Date();
    const [row] = await this.deps.sql.query<LiveStreamRow>(
      `UPDATE live_streams SET status = $2, updated_at = $3, last_live_at = CASE WHEN $2 = 'live' THEN $3 ELSE last_live_at END,
              publisher_connected = ($2 = 'live'), publisher_seen_at = CASE WHEN $2 = 'live' THEN $3 ELSE publisher_seen_at END
        WHERE id = $1 RETURNING *`,
      [id, status, now],
    );
    if (!row) return false;
    await this.publish('control.stream.statusChanged', { streamId: row.id, accountId: row.account_id, status, atMs: now.getTime() });
    return true;
  }

  /** Records why a session failed (null clears it); false when the stream does not exist. */
  async setLastError(id: string, error: LiveStreamError | null): Promise<boolean> {
    if (!isUuid(id)) return false;
    const rows = await this.deps.sql.query(`UPDATE live_streams SET last_error = $2 WHERE id = $1 RETURNING id`, [id, error === null ? null : JSON.stringify(error)]);
    return rows.length > 0;
  }

  /** Ingest's periodic stats say the publisher is still there. */
  async publisherSeen(id: string, stats?: IngestHealth): Promise<void> {
    if (!isUuid(id)) return;
    await this.deps.sql.query(
      `UPDATE live_streams SET publisher_seen_at = $2, ingest_stats = COALESCE($3::jsonb, ingest_stats) WHERE id = $1 AND publisher_connected`,
      [id, new Date(), stats ? JSON.stringify(stats) : null],
    );
  }

  /** A publisher left; the stream stays `live` until the packager ends the session (reconnect grace). */
  async setPublisherGone(id: string): Promise<boolean> {
    if (!isUuid(id)) return false;
    const rows = await this.deps.sql.query(`UPDATE live_streams SET publisher_connected = false WHERE id = $1 RETURNING id`, [id]);
    return rows.length > 0;
  }

  private async update(accountId: string, id: string, set: string, params: unknown[]): Promise<LiveStreamRow> {
    if (!isUuid(id)) throw notFound('live stream');
    const [row] = await this.deps.sql.query<LiveStreamRow>(
      `UPDATE live_streams SET ${set}, updated_at = $${params.length + 3} WHERE id = $1 AND account_id = $2 RETURNING *`,
      [id, accountId, ...params, new Date()],
    );
    if (!row) throw notFound('live stream');
    return row;
  }

  private toView(row: LiveStreamRow, recentAssetIds: string[], streamKey?: string): LiveStreamView {
    return {
      id: row.id,
      title: row.title,
      ...(streamKey ? { streamKey } : {}),
      streamKeyPrefix: row.stream_key_prefix,
      ...toLiveStreamUrls(this.config, row.id),
      status: row.status,
      enabled: row.enabled,
      passthrough: row.passthrough,
      ladder: row.ladder,
      playbackPolicy: row.playback_policy,
      encryption: row.encryption ?? 'none',
      keyRotationSegments: row.key_rotation_segments ?? this.config.drm.keyRotationSegments,
      recentAssetIds,
      createdAt: new Date(row.created_at).toISOString(),
      updatedAt: new Date(row.updated_at).toISOString(),
      lastLiveAt: iso(row.last_live_at),
      lastError: row.last_error ?? null,
      // Health of the incoming stream, only while a publisher is connected.
      ingest: publisherPresent(row) ? (row.ingest_stats ?? null) : null,
    };
  }

  private announce(
    topic: 'control.stream.created' | 'control.stream.deleted' | 'control.stream.keyRotated' | 'control.stream.enabled' | 'control.stream.disabled',
    row: LiveStreamRow,
  ): Promise<void> {
    return this.publish(topic, { streamId: row.id, accountId: row.account_id, atMs: Date.now() });
  }

  /** The database is the truth; a bus outage is logged and does not fail the request that changed it. */
  private async publish<K extends keyof ControlApiTopics & string>(topic: K, msg: ControlApiTopics[K]): Promise<void> {
    try {
      await this.deps.bus?.publish(topic, msg);
    } catch (err) {
      this.deps.logger.error({ err, topic }, 'bus publish failed');
    }
  }
}

function newStreamKey(): { secret: string; hash: string; prefix: string } {
  const secret = `sk_${randomBase62(32)}`;
  return { secret, hash: sha256(secret), prefix: secret.slice(0, 7) };
}

