import crypto from 'node:crypto';
import type { BlobStore, Config, JobQueue, Logger, Sql } from '../../platform/index.js';
import type { PackagerTopics, VodTracks } from '../../packager/contract.js';
import { VOD_CAPTIONS_QUEUE, captionFolder, type EncryptionMode, type AssetStatus, type AssetView, type CaptionTrack, type RecordingAssetInput, type VodCaptionsJob } from '../contract.js';
import { AppError } from '../../platform/index.js';
import { toWebVtt } from './captions.js';
import type { ControlApiBus } from '../app.js';
import { decodeCursor, encodeCursor } from '../http/cursor.js';
import { conflict, isUuid, notFound } from '../http/http-errors.js';
import { toAssetMediaUrls, toAssetPlaybackUrls } from '../playback/urls.js';
import type { PlaybackPolicies } from '../playback/playback-policies.js';

interface AssetRow {
  id: string;
  account_id: string;
  live_stream_id: string | null;
  title: string;
  status: AssetStatus;
  duration_seconds: number | null;
  created_at: Date;
  upload_id: string | null;
  description: string | null;
  progress_percent: number | null;
  playable_at: Date | null;
  ready_at: Date | null;
  tracks: VodTracks | null;
  errors: { code: string; message: string } | null;
  playback_policy: 'public' | 'signed';
  encryption: EncryptionMode;
  thumbnails: { poster: string; sprite: string; vtt: string } | null;
}

/** A page of assets. */
export interface AssetPage {
  items: AssetView[];
  nextCursor: string | null;
}

/** On-demand assets: uploads being transcoded or ready, and recordings of live streams. */
export class AssetService {
  constructor(
    private readonly deps: {
      sql: Sql; logger: Logger; bus?: Pick<ControlApiBus, 'publish'>; policies?: PlaybackPolicies; blobs?: BlobStore; jobs?: JobQueue;
      /** An uploaded asset's content keys go with its media. */
      keys?: { deleteFor(mediaId: string): Promise<void> };
    },
    private readonly config: Config,
  ) {}

  /** The account's assets, newest first. */
  async list(accountId: string, limit: number, cursor?: string): Promise<AssetPage> {
    const after = cursor === undefined ? undefined : decodeCursor(cursor);
    const rows = await this.deps.sql.query<AssetRow>(
      `SELECT * FROM assets
        WHERE account_id = $1 AND ($2::timestamptz IS NULL OR (created_at, id) < ($2::timestamptz, $3::uuid))
        ORDER BY created_at DESC, id DESC LIMIT $4`,
      [accountId, after?.createdAt ?? null, after?.id ?? null, limit + 1],
    );
    const page = rows.slice(0, limit);
    const last = page.at(-1);
    return { items: page.map((r) => this.toView(r)), nextCursor: rows.length > limit && last ? encodeCursor(last) : null };
  }

  /** Changes an asset's title or description. */
  async update(accountId: string, id: string, patch: { title?: string; description?: string | null }): Promise<AssetView> {
    await this.get(accountId, id);
    const [row] = await this.deps.sql.query<AssetRow>(
      `UPDATE assets SET title = COALESCE($3, title), description = CASE WHEN $4::boolean THEN $5 ELSE description END
        WHERE id = $1 AND account_id = $2 RETURNING *`,
      [id, accountId, patch.title ?? null, patch.description !== undefined, patch.description ?? null],
    );
    return this.toView(row);
  }

  /**
   * Deletes an asset and its media: the row goes first (so the edge's policy look-up finds nothing to
   * serve), then every stored object under `vod/{id}/`. Returns the upload whose bytes to remove.
   */
  async delete(accountId: string, id: string): Promise<{ uploadId: string | null }> {
    if (!isUuid(id)) throw notFound('asset');
    const [row] = await this.deps.sql.query<AssetRow>(`DELETE FROM assets WHERE id = $1 AND account_id = $2 RETURNING *`, [id, accountId]);
    if (!row) throw notFound('asset');
    await this.deps.policies?.set(id, 'gone');
    const blobs = this.deps.blobs;
    if (blobs) {
      const objects = await blobs.list(`vod/${id}/`);
      for (const o of objects) await blobs.delete(o.key);
    }
    // Its keys decrypt nothing any more (a recording's are its stream's, which other recordings may still use).
    if (!row.live_stream_id) await this.deps.keys?.deleteFor(id);
    return { uploadId: row.upload_id };
  }

  /**
   * Adds (or replaces) the caption track of a language: the WebVTT is stored with the media at once,
   * and a job has the VOD worker list it in the asset's manifests (`tracks.captions` follows).
   */
  async addCaptions(accountId: string, id: string, body: { language: string; label: string; format: 'vtt' | 'srt'; text: string }): Promise<CaptionTrack & { status: 'processing'; url: string }> {
    const asset = await this.get(accountId, id);
    if (asset.status !== 'ready' || asset.liveStreamId) {
      throw conflict('ASSET_NOT_READY', asset.liveStreamId ? 'captions are for uploaded assets' : `captions can be added once the asset is ready (it is ${asset.status})`);
    }
    const vtt = toWebVtt(body.text, body.format);
    const blobs = this.deps.blobs;
    const jobs = this.deps.jobs;
    if (!blobs || !jobs) throw new AppError(503, 'CAPTIONS_UNAVAILABLE', 'this control-api has no media storage or job queue');
    const folder = captionFolder(body.language);
    await blobs.put(`vod/${id}/${folder}/captions.vtt`, Buffer.from(vtt), { contentType: 'text/vtt', cacheControl: 'public, max-age=300' });
    await this.deps.sql.query(
      `INSERT INTO asset_captions (asset_id, language, label, source_format, created_at) VALUES ($1, $2, $3, $4, now())
       ON CONFLICT (asset_id, language) DO UPDATE SET label = EXCLUDED.label, source_format = EXCLUDED.source_format`,
      [id, body.language, body.label, body.format],
    );
    const captions = await this.deps.sql.query<CaptionTrack>(`SELECT language, label FROM asset_captions WHERE asset_id = $1 ORDER BY created_at, language`, [id]);
    const job: VodCaptionsJob = { assetId: id, captions };
    await jobs.send(VOD_CAPTIONS_QUEUE, job);
    const url = toAssetMediaUrls(this.config, id, { vtt: `${folder}/captions.vtt` }).vtt;
    return { language: body.language, label: body.label, status: 'processing', url };
  }

  /** The worker listed these caption tracks in the manifests. */
  async onCaptions(m: PackagerTopics['vod.asset.captions']): Promise<void> {
    await this.deps.sql.query(
      `UPDATE assets SET tracks = jsonb_set(tracks, '{captions}', $2::jsonb) WHERE id = $1 AND tracks IS NOT NULL`,
      [m.assetId, JSON.stringify(m.captions)],
    );
  }

  /** Who owns an asset and what it is called (for notifications); undefined when it is gone. */
  async ownerOf(id: string): Promise<{ accountId: string; title: string; uploadId: string | null } | undefined> {
    if (!isUuid(id)) return undefined;
    const [row] = await this.deps.sql.query<AssetRow>(`SELECT * FROM assets WHERE id = $1`, [id]);
    return row && { accountId: row.account_id, title: row.title, uploadId: row.upload_id };
  }

  /**
   * The media whose keys a playback token for `mediaId` may have: itself, and for a recording the live
   * stream it was made from (its segments keep the stream's keys).
   */
  async keyOwners(mediaId: string): Promise<string[]> {
    if (!isUuid(mediaId)) return [mediaId];
    const [row] = await this.deps.sql.query<{ live_stream_id: string | null }>(`SELECT live_stream_id FROM assets WHERE id = $1`, [mediaId]);
    return row?.live_stream_id ? [mediaId, row.live_stream_id] : [mediaId];
  }

  /** How an asset's media is encrypted; undefined when it does not exist. */
  async encryptionOf(id: string): Promise<EncryptionMode | undefined> {
    if (!isUuid(id)) return undefined;
    const [row] = await this.deps.sql.query<{ encryption: EncryptionMode }>(`SELECT encryption FROM assets WHERE id = $1`, [id]);
    return row?.encryption;
  }

  /** The video renditions of an asset (its folder names and heights), once its tracks are known. */
  async videoRenditions(id: string): Promise<{ name: string; height: number }[]> {
    if (!isUuid(id)) return [];
    const [row] = await this.deps.sql.query<{ tracks: { video?: { name: string; height: number }[] } | null }>(`SELECT tracks FROM assets WHERE id = $1`, [id]);
    return (row?.tracks?.video ?? []).map((v) => ({ name: v.name, height: v.height }));
  }

  /** Registers the asset of a finished upload (status preparing until its job reports). */
  async createUploaded(input: { id: string; accountId: string; uploadId: string; title: string; description?: string; playbackPolicy?: 'public' | 'signed'; encryption?: EncryptionMode }): Promise<void> {
    const policy = input.playbackPolicy ?? 'public';
    const inserted = await this.deps.sql.query<{ id: string }>(
      `INSERT INTO assets (id, account_id, title, description, status, created_at, playback_policy, upload_id, progress_percent, encryption)
       VALUES ($1, $2, $3, $4, 'preparing', now(), $5, $6, 0, $7) ON CONFLICT (id) DO NOTHING RETURNING id`,
      [input.id, input.accountId, input.title, input.description ?? null, policy, input.uploadId, input.encryption ?? 'none'],
    );
    await this.deps.policies?.set(input.id, policy);
    if (inserted.length) {
      await this.deps.bus?.publish('control.asset.created', { assetId: input.id, accountId: input.accountId, liveStreamId: null, atMs: Date.now() }).catch((err: unknown) => this.deps.logger.error({ err }, 'bus publish failed'));
    }
  }

  /** A transcode job's progress: percent, and when it first became playable. */
  async onProgress(m: PackagerTopics['vod.asset.progress']): Promise<void> {
    await this.deps.sql.query(
      `UPDATE assets SET progress_percent = GREATEST(COALESCE(progress_percent, 0), $2),
              playable_at = CASE WHEN $3::boolean AND playable_at IS NULL THEN $4 ELSE playable_at END
        WHERE id = $1 AND status = 'preparing'`,
      [m.assetId, m.percent, m.playable, new Date(m.atMs)],
    );
  }

  /** Every rendition is stored. */
  async onReady(m: PackagerTopics['vod.asset.ready']): Promise<void> {
    await this.deps.sql.query(
      `UPDATE assets SET status = 'ready', progress_percent = 100, duration_seconds = $2, tracks = $3, ready_at = $4,
              playable_at = COALESCE(playable_at, $4), errors = NULL, thumbnails = $5
        WHERE id = $1`,
      [m.assetId, m.durationSeconds, JSON.stringify(m.tracks), new Date(m.atMs), m.thumbnails ? JSON.stringify(m.thumbnails) : null],
    );
  }

  /** The asset cannot be made. */
  async setErrored(id: string, error: { code: string; message: string }): Promise<void> {
    await this.deps.sql.query(`UPDATE assets SET status = 'errored', errors = $2 WHERE id = $1 AND status <> 'ready'`, [id, JSON.stringify(error)]);
  }

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
    const [stream] = await this.deps.sql.query<{ account_id: string; title: string; playback_policy: 'public' | 'signed'; encryption: EncryptionMode }>(
      `SELECT account_id, title, playback_policy, encryption FROM live_streams WHERE id = $1`,
      [input.liveStreamId],
    );
    if (!stream) return undefined;
    const now = new Date();
    const [inserted] = await this.deps.sql.query<AssetRow>(
      `INSERT INTO assets (id, account_id, live_stream_id, title, status, duration_seconds, created_at, playback_policy, encryption)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (id) DO NOTHING RETURNING *`,
      [
        input.id ?? crypto.randomUUID(), stream.account_id, input.liveStreamId,
        input.title ?? `${stream.title} (${now.toISOString().slice(0, 16).replace('T', ' ')} UTC)`,
        input.status ?? 'preparing', input.durationSeconds ?? null, now, stream.playback_policy,
        // A recording is the live session's segments as they were: encrypted under the stream's keys.
        stream.encryption,
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
    const iso = (d: Date | null) => (d ? new Date(d).toISOString() : null);
    return {
      id: row.id,
      title: row.title,
      description: row.description,
      status: row.status,
      duration: row.duration_seconds,
      liveStreamId: row.live_stream_id,
      uploadId: row.upload_id,
      playbackPolicy: row.playback_policy,
      encryption: row.encryption ?? 'none',
      playback: toAssetPlaybackUrls(this.config, row.id),
      tracks: row.tracks,
      thumbnails: row.thumbnails ? toAssetMediaUrls(this.config, row.id, row.thumbnails) : null,
      progress: { percent: row.status === 'ready' ? 100 : (row.progress_percent ?? 0) },
      playableFrom: iso(row.playable_at),
      readyAt: iso(row.ready_at),
      errors: row.errors,
      createdAt: new Date(row.created_at).toISOString(),
    };
  }
}
