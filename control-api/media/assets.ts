import crypto from 'node:crypto';
import type { Config, Logger, Sql } from '../../platform/index.js';
import type { AssetStatus, AssetView, RecordingAssetInput } from '../contract.js';
import type { ControlApiBus } from '../app.js';
import { isUuid, notFound } from '../http/http-errors.js';
import { toAssetPlaybackUrls } from '../playback/urls.js';
import type { PlaybackPolicies } from '../playback/playback-policies.js';

interface AssetRow {
  id: string;
  account_id: string;
  live_stream_id: string | null;
  title: string;
  status: AssetStatus;
  duration_seconds: number | null;
  created_at: Date;
}

/** On-demand assets; for now created from live recordings by the live pipeline. */
export class AssetService {
  constructor(
    private readonly deps: { sql: Sql; logger: Logger; bus?: Pick<ControlApiBus, 'publish'>; policies?: PlaybackPolicies },
    private readonly config: Config,
  ) {}

  /** One of the account's assets; 404 when it does not exist or is someone else's. */
  async get(accountId: string, id: string): Promise<AssetView> {
    if (!isUuid(id)) throw notFound('asset');
    const [row] = await this.deps.sql.query<AssetRow>(`SELECT * FROM assets WHERE id = $1 AND account_id = $2`, [id, accountId]);
    if (!row) throw notFound('asset');
    return this.toView(row);
  }

  /**
   * Registers a recording of a live stream as an asset owned by the stream's account. Idempotent on
   * `id`, so a pipeline that retries after a timeout does not create two assets. Undefined when the
   * stream does not exist (deleted meanwhile).
   */
  async createRecording(input: RecordingAssetInput): Promise<AssetView | undefined> {
    if (!isUuid(input.liveStreamId) || (input.id !== undefined && !isUuid(input.id))) return undefined;
    const [stream] = await this.deps.sql.query<{ account_id: string; title: string; playback_policy: 'public' | 'signed' }>(
      `SELECT account_id, title, playback_policy FROM live_streams WHERE id = $1`,
      [input.liveStreamId],
    );
    if (!stream) return undefined;
    const now = new Date();
    const [inserted] = await this.deps.sql.query<AssetRow>(
      `INSERT INTO assets (id, account_id, live_stream_id, title, status, duration_seconds, created_at, playback_policy)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (id) DO NOTHING RETURNING *`,
      [
        input.id ?? crypto.randomUUID(), stream.account_id, input.liveStreamId,
        input.title ?? `${stream.title} (${now.toISOString().slice(0, 16).replace('T', ' ')} UTC)`,
        input.status ?? 'preparing', input.durationSeconds ?? null, now, stream.playback_policy,
      ],
    );
    if (inserted) await this.deps.policies?.set(inserted.id, stream.playback_policy);
    if (!inserted) {
      const [existing] = await this.deps.sql.query<AssetRow>(`SELECT * FROM assets WHERE id = $1`, [input.id]);
      return existing && this.toView(existing);
    }
    try {
      await this.deps.bus?.publish('control.asset.created', {
        assetId: inserted.id, accountId: inserted.account_id, liveStreamId: inserted.live_stream_id, atMs: now.getTime(),
      });
    } catch (err) {
      this.deps.logger.error({ err, topic: 'control.asset.created' }, 'bus publish failed');
    }
    return this.toView(inserted);
  }

  /** Updates processing state (and duration once known); false when the asset does not exist. */
  async setStatus(id: string, status: AssetStatus, durationSeconds?: number): Promise<boolean> {
    if (!isUuid(id)) return false;
    const rows = await this.deps.sql.query(
      `UPDATE assets SET status = $2, duration_seconds = COALESCE($3, duration_seconds) WHERE id = $1 RETURNING id`,
      [id, status, durationSeconds ?? null],
    );
    return rows.length > 0;
  }

  /** The newest `perStream` asset ids of each stream, newest first. */
  async recentIdsByStream(streamIds: readonly string[], perStream: number): Promise<Map<string, string[]>> {
    const out = new Map<string, string[]>();
    if (streamIds.length === 0) return out;
    const rows = await this.deps.sql.query<{ id: string; live_stream_id: string }>(
      `SELECT id, live_stream_id FROM (
         SELECT id, live_stream_id, row_number() OVER (PARTITION BY live_stream_id ORDER BY created_at DESC, id DESC) AS n
           FROM assets WHERE live_stream_id = ANY($1::uuid[])
       ) ranked WHERE n <= $2 ORDER BY live_stream_id, n`,
      [streamIds, perStream],
    );
    for (const r of rows) {
      const list = out.get(r.live_stream_id) ?? [];
      list.push(r.id);
      out.set(r.live_stream_id, list);
    }
    return out;
  }

  private toView(row: AssetRow): AssetView {
    return {
      id: row.id,
      title: row.title,
      status: row.status,
      duration: row.duration_seconds,
      liveStreamId: row.live_stream_id,
      playback: toAssetPlaybackUrls(this.config, row.id),
      createdAt: new Date(row.created_at).toISOString(),
    };
  }
}
