/**
 * Direct uploads, Mux-style: `POST /v1/uploads` reserves an upload and answers with a tus 1.0 URL
 * signed for that one upload, so tus-js-client, Uppy or curl need no bearer header. Bytes go through
 * @tus/server (creation, creation-with-upload, termination, expiration) into @tus/file-store under
 * DATA_DIR/uploads; the checksum extension (sha1, sha256, md5) and one-PATCH-at-a-time (423) are
 * added around it here, as @tus/server implements neither. A finished upload becomes an asset and a
 * durable transcode job.
 */
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import type http from 'node:http';
import path from 'node:path';
import { Readable } from 'node:stream';
import { FileStore } from '@tus/file-store';
import { Server as TusServer } from '@tus/server';
import { EVENTS, type DataStore, type Upload } from '@tus/utils';
import { Counter, Gauge, type Registry } from 'prom-client';
import { AppError, type Config, type JobQueue, type Logger, type Sql } from '../../platform/index.js';
import { VOD_QUEUE, type EncryptionMode, type VodJob } from '../contract.js';
import { conflict, isUuid, notFound } from '../http/http-errors.js';
import { aes128KeyUrlPrefix, clearKeyLicenseUrl, toOrigin } from '../playback/urls.js';
import { requireEncryptionSupport } from '../playback/key-store.js';
import type { AssetService } from './assets.js';

/** Lifecycle of an upload (DESIGN "Contracts"). */
export type UploadStatus = 'waiting' | 'uploading' | 'asset_created' | 'errored' | 'cancelled' | 'timed_out';

/** What the asset made from an upload starts with. */
export interface UploadAssetSettings {
  title: string;
  description?: string;
  playbackPolicy?: 'public' | 'signed';
  /** Sample encryption of the packaged media (default DEFAULT_ENCRYPTION). */
  encryption?: EncryptionMode;
}

/** An upload as the API returns it. */
export interface UploadView {
  id: string;
  /** The tus endpoint, authorized for this upload only. */
  url: string;
  status: UploadStatus;
  assetId: string | null;
  /** Bytes received so far. */
  offset: number;
  /** Declared Upload-Length, once the client sent it. */
  size: number | null;
  expiresAt: string;
  createdAt: string;
  error: { code: string; message: string } | null;
}

interface UploadRow {
  id: string;
  account_id: string;
  status: UploadStatus;
  asset_settings: UploadAssetSettings;
  size: number | string | null;
  asset_id: string | null;
  error: { code: string; message: string } | null;
  expires_at: Date;
  created_at: Date;
}

/** Checksum algorithms of the tus checksum extension we verify (node:crypto names). */
const CHECKSUM_ALGORITHMS = ['sha1', 'sha256', 'md5'];
/** A PATCH carrying Upload-Checksum is held in memory to be verified before it is written: this much at most. */
export const CHECKSUM_MAX_CHUNK_BYTES = 64 * 1024 * 1024;
const TUS_PATH = /^\/v1\/uploads\/([0-9a-f-]{36})\/tus$/;

/** Dependencies of the upload service. */
export interface UploadServiceDeps {
  sql: Sql;
  logger: Logger;
  assets: AssetService;
  jobs?: JobQueue;
  metrics?: Registry;
}

/** Uploads: the table, the tus server in front of the file store, and the hand-off to the VOD queue. */
export class UploadService {
  private readonly tus: TusServer;
  private readonly store: DataStore;
  /** Uploads with a PATCH in flight in this process (one at a time, tus 1.0 §3.2 "423 Locked" as tusd). */
  private readonly writing = new Set<string>();
  private readonly log: Logger;
  private readonly inProgress?: Gauge;
  private readonly received?: Counter;

  constructor(
    private readonly deps: UploadServiceDeps,
    private readonly config: Config,
  ) {
    this.log = deps.logger.child({ mod: 'uploads' });
    // Uploads are files under DATA_DIR/uploads (VOD workers of a split deployment mount the same
    // directory). @tus/s3-store needs S3 multipart uploads, which the S3 this project tests against
    // (s3rver) does not implement, so it is not wired in until it can be tested.
    this.store = new FileStore({ directory: config.vod.uploadDir, expirationPeriodInMilliseconds: config.vod.uploadExpirySeconds * 1000 });
    this.tus = new TusServer({
      path: '/v1/uploads',
      datastore: this.store,
      maxSize: config.vod.uploadMaxBytes,
      respectForwardedHeaders: false,
      disableTerminationForFinishedUploads: true,
      exposedHeaders: ['Tus-Checksum-Algorithm'],
      allowedHeaders: ['Upload-Checksum'],
      namingFunction: (req) => idOf(new URL(req.url).pathname) ?? crypto.randomUUID(),
      getFileIdFromRequest: (req) => idOf(new URL(req.url).pathname),
      // The Location of the created upload is the URL it was created at: one signed URL per upload.
      generateUrl: (_req, { proto, host, id }) => `${proto}://${host}/v1/uploads/${id}/tus?sig=${this.signature(id)}`,
      onUploadCreate: async (_req, upload) => {
        await this.checkStorageQuota(upload.id, upload.size);
        return {};
      },
      onUploadFinish: async (_req, upload) => {
        await this.finish(upload);
        return {};
      },
    });
    // `uploading` once the store has created it: a creation that failed (storage down) can be retried.
    this.tus.on(EVENTS.POST_CREATE, (_req, upload) => {
      void this.deps.sql.query(`UPDATE uploads SET status = 'uploading', size = $2 WHERE id = $1 AND status = 'waiting'`, [upload.id, upload.size ?? null]).catch((err: unknown) => this.log.error({ err }, 'marking an upload started failed'));
    });
    this.tus.on(EVENTS.POST_TERMINATE, (_req, _res, id) => {
      void this.deps.sql.query(`UPDATE uploads SET status = 'cancelled' WHERE id = $1 AND status IN ('waiting', 'uploading')`, [id]).catch((err: unknown) => this.log.error({ err }, 'marking an upload cancelled failed'));
    });
    if (deps.metrics && !deps.metrics.getSingleMetric('vod_uploads_in_progress')) {
      const registers = [deps.metrics];
      const sql = deps.sql;
      this.inProgress = new Gauge({
        name: 'vod_uploads_in_progress',
        help: 'Uploads created and not yet finished, cancelled or expired',
        registers,
        async collect() {
          const [row] = await sql.query<{ n: number }>(`SELECT count(*)::int AS n FROM uploads WHERE status IN ('waiting', 'uploading')`).catch(() => [{ n: 0 }]);
          this.set(Number(row?.n ?? 0));
        },
      });
      this.received = new Counter({ name: 'vod_upload_received_bytes_total', help: 'Upload bytes written to storage', registers });
      // The VOD queue as pg-boss holds it (jobs ready to run and not taken): read at scrape time.
      const queueState = async () => {
        const [row] = await sql.query<{ n: number; wait: number }>(
          `SELECT count(*)::int AS n, COALESCE(EXTRACT(EPOCH FROM now() - min(start_after)), 0)::float8 AS wait
             FROM pgboss.job WHERE name = $1 AND state IN ('created', 'retry') AND start_after <= now()`,
          [VOD_QUEUE],
        ).catch(() => [{ n: 0, wait: 0 }]);
        return { n: Number(row?.n ?? 0), wait: Number(row?.wait ?? 0) };
      };
      new Gauge({ name: 'vod_jobs_queued', help: 'VOD transcode jobs waiting for a worker', registers, async collect() { this.set((await queueState()).n); } });
      new Gauge({ name: 'vod_queue_oldest_wait_seconds', help: 'How long the oldest waiting VOD job has waited (0 when none waits)', registers, async collect() { this.set((await queueState()).wait); } });
    }
  }

  /** HMAC of the upload id: the capability the upload URL carries. */
  private signature(id: string): string {
    return crypto.createHmac('sha256', this.config.internalToken).update(`upload:${id}`).digest('base64url');
  }

  private signatureOk(id: string, sig: string | null): boolean {
    if (!sig) return false;
    const want = Buffer.from(this.signature(id));
    const got = Buffer.from(sig);
    return want.length === got.length && crypto.timingSafeEqual(want, got);
  }

  /** The tus URL of an upload, on the public API address. */
  urlOf(id: string): string {
    return `${toOrigin('http', this.config.publicHost, this.config.ports.api)}/v1/uploads/${id}/tus?sig=${this.signature(id)}`;
  }

  /** Reserves an upload for a creator (403 QUOTA_PENDING_UPLOADS when the account has too many unfinished). */
  async create(accountId: string, settings: UploadAssetSettings): Promise<UploadView> {
    const [open] = await this.deps.sql.query<{ n: number }>(`SELECT count(*)::int AS n FROM uploads WHERE account_id = $1 AND status IN ('waiting', 'uploading')`, [accountId]);
    if (Number(open?.n ?? 0) >= this.config.quotas.pendingUploads) {
      throw new AppError(403, 'QUOTA_PENDING_UPLOADS', `this account has ${open.n} unfinished uploads, the most QUOTA_PENDING_UPLOADS allows: finish or cancel one first`);
    }
    const encryption = settings.encryption ?? this.config.drm.defaultEncryption;
    requireEncryptionSupport(this.config, encryption, 'asset');
    settings = { ...settings, encryption };
    const id = crypto.randomUUID();
    const now = new Date();
    const expires = new Date(now.getTime() + this.config.vod.uploadExpirySeconds * 1000);
    const [row] = await this.deps.sql.query<UploadRow>(
      `INSERT INTO uploads (id, account_id, status, asset_settings, expires_at, created_at) VALUES ($1, $2, 'waiting', $3, $4, $5) RETURNING *`,
      [id, accountId, JSON.stringify(settings), expires, now],
    );
    return this.toView(row);
  }

  /** One of the account's uploads, with the bytes received so far. */
  async get(accountId: string, id: string): Promise<UploadView> {
    if (!isUuid(id)) throw notFound('upload');
    const [row] = await this.deps.sql.query<UploadRow>(`SELECT * FROM uploads WHERE id = $1 AND account_id = $2`, [id, accountId]);
    if (!row) throw notFound('upload');
    return this.toView(row);
  }

  /** Cancels an upload that has not finished (its bytes are removed). */
  async cancel(accountId: string, id: string): Promise<UploadView> {
    const view = await this.get(accountId, id);
    if (view.status !== 'waiting' && view.status !== 'uploading') throw conflict('UPLOAD_NOT_CANCELLABLE', `an upload that is ${view.status} cannot be cancelled`);
    await this.deps.sql.query(`UPDATE uploads SET status = 'cancelled' WHERE id = $1`, [id]);
    await this.store.remove(id).catch(() => undefined);
    return this.get(accountId, id);
  }

  private async toView(row: UploadRow): Promise<UploadView> {
    let offset = 0;
    if (row.status === 'uploading' || row.status === 'asset_created') {
      const upload = await this.store.getUpload(row.id).catch(() => undefined);
      offset = upload?.offset ?? (row.status === 'asset_created' ? Number(row.size ?? 0) : 0);
    }
    return {
      id: row.id,
      url: this.urlOf(row.id),
      status: row.status,
      assetId: row.asset_id,
      offset,
      size: row.size === null ? null : Number(row.size),
      expiresAt: new Date(row.expires_at).toISOString(),
      createdAt: new Date(row.created_at).toISOString(),
      error: row.error,
    };
  }

  /**
   * An Upload-Length that would take the account's uploads past QUOTA_STORAGE_BYTES is refused with a
   * 403 naming the quota (tus clients show the body), before a byte is stored.
   */
  private async checkStorageQuota(uploadId: string, size: number | undefined): Promise<void> {
    if (size === undefined) return;
    const [row] = await this.deps.sql.query<{ used: number | string | null }>(
      `SELECT COALESCE(sum(u.size), 0) AS used FROM uploads u
        WHERE u.account_id = (SELECT account_id FROM uploads WHERE id = $1) AND u.id <> $1
          AND (u.status IN ('waiting', 'uploading') OR (u.status = 'asset_created' AND EXISTS (SELECT 1 FROM assets a WHERE a.id = u.asset_id)))`,
      [uploadId],
    );
    const used = Number(row?.used ?? 0);
    if (used + size > this.config.quotas.storageBytes) {
      throw { status_code: 403, body: `QUOTA_STORAGE_BYTES: this upload (${size} bytes) would take the account past its ${this.config.quotas.storageBytes} bytes of uploads (${used} used); delete assets first.\n` };
    }
  }

  /** The upload is complete: it becomes an asset (committed) and a transcode job. */
  private async finish(upload: Upload): Promise<void> {
    const [row] = await this.deps.sql.query<UploadRow>(`SELECT * FROM uploads WHERE id = $1`, [upload.id]);
    if (!row || row.asset_id) return;
    const assetId = crypto.randomUUID();
    await this.deps.assets.createUploaded({ id: assetId, accountId: row.account_id, uploadId: row.id, ...row.asset_settings });
    await this.deps.sql.query(`UPDATE uploads SET status = 'asset_created', asset_id = $2, size = $3, completed_at = now() WHERE id = $1`, [row.id, assetId, upload.size ?? upload.offset]);
    const encryption = row.asset_settings.encryption;
    const job: VodJob = {
      assetId, uploadId: row.id, file: path.join(this.config.vod.uploadDir, row.id), uploadedAtMs: Date.now(),
      ...(encryption === 'cbcs' || encryption === 'cenc' ? { encryption: { scheme: encryption, licenseUrl: clearKeyLicenseUrl(this.config) } } : {}),
      ...(encryption === 'aes-128' ? { encryption: { scheme: encryption, licenseUrl: aes128KeyUrlPrefix(this.config) } } : {}),
    };
    try {
      await this.deps.jobs?.send(VOD_QUEUE, job, { timeoutSeconds: this.config.vod.jobTimeoutSeconds });
    } catch (err) {
      this.log.error({ err, asset: assetId }, 'queueing the transcode failed');
      await this.deps.assets.setErrored(assetId, { code: 'QUEUE_UNAVAILABLE', message: 'The transcode could not be queued; try the upload again.' });
    }
    this.log.info({ upload: row.id, asset: assetId, bytes: upload.size }, 'upload complete: asset created');
  }

  /** Uploads not finished in time: marked timed_out, their bytes removed. */
  async expire(): Promise<number> {
    const rows = await this.deps.sql.query<{ id: string }>(
      `UPDATE uploads SET status = 'timed_out' WHERE status IN ('waiting', 'uploading') AND expires_at < now() RETURNING id`,
    );
    for (const r of rows) await this.store.remove(r.id).catch(() => undefined);
    return rows.length;
  }

  /** Removes an upload's stored bytes (the asset was deleted). */
  async removeBytes(uploadId: string): Promise<void> {
    await this.store.remove(uploadId).catch(() => undefined);
    await fs.rm(path.join(this.config.vod.uploadDir, `${uploadId}.json`), { force: true });
  }

  /**
   * Answers one tus request (POST, HEAD, PATCH, DELETE, OPTIONS on the upload's URL). The URL's
   * signature and the upload's state are checked first; PATCH bodies with Upload-Checksum are
   * verified before a byte is written (460 Checksum Mismatch, offset unchanged).
   */
  async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://upload.invalid');
    const id = idOf(url.pathname);
    const method = req.method ?? 'GET';
    if (method === 'OPTIONS') return send(res, await this.dispatch(req, undefined));
    if (!id) return plain(res, 404, 'Not found\n');
    if (!this.signatureOk(id, url.searchParams.get('sig'))) return plain(res, 403, 'This upload URL is not valid (bad or missing signature): create an upload with POST /v1/uploads.\n');
    const [row] = await this.deps.sql.query<UploadRow>(`SELECT * FROM uploads WHERE id = $1`, [id]);
    if (!row) return plain(res, 404, 'Upload not found\n');
    if (row.status === 'cancelled' || row.status === 'timed_out' || row.status === 'errored') return plain(res, 410, `This upload is ${row.status.replace('_', ' ')}: create a new one.\n`);
    if (method === 'POST' && row.status !== 'waiting') return plain(res, 409, 'This upload URL was already used to create an upload: resume it with HEAD and PATCH, or create a new upload.\n');
    if (method === 'PATCH' && row.status === 'asset_created') return plain(res, 409, 'This upload is already complete.\n');
    if (new Date(row.expires_at).getTime() < Date.now() && (row.status === 'waiting' || row.status === 'uploading')) {
      await this.expire();
      return plain(res, 410, 'This upload expired: create a new one.\n');
    }

    const writes = method === 'PATCH' || (method === 'POST' && req.headers['content-type'] === 'application/offset+octet-stream');
    if (!writes) return send(res, await this.dispatch(req, undefined));
    if (this.writing.has(id)) return plain(res, 423, 'Another request is writing to this upload: wait for it to finish, then resume from HEAD.\n');
    this.writing.add(id);
    let reply: TusReply;
    try {
      const checksum = req.headers['upload-checksum'];
      let body: Buffer | undefined;
      if (typeof checksum === 'string') {
        const [algorithm, expected] = checksum.trim().split(/\s+/);
        if (!algorithm || !expected || !CHECKSUM_ALGORITHMS.includes(algorithm)) {
          return plain(res, 400, `Unsupported Upload-Checksum algorithm: use one of ${CHECKSUM_ALGORITHMS.join(', ')}.\n`);
        }
        body = await readAll(req, CHECKSUM_MAX_CHUNK_BYTES);
        if (!body) return plain(res, 413, `A chunk sent with Upload-Checksum may be at most ${CHECKSUM_MAX_CHUNK_BYTES} bytes.\n`);
        const actual = crypto.createHash(algorithm).update(body).digest('base64');
        if (actual !== expected) return plain(res, 460, 'Checksum Mismatch: the chunk was not stored; send it again.\n');
      }
      const before = (await this.store.getUpload(id).catch(() => undefined))?.offset ?? 0;
      reply = await this.dispatch(req, body);
      const after = Number(reply.headers['upload-offset'] ?? before);
      if (after > before) this.received?.inc(after - before);
    } finally {
      // Released before the answer goes out: the client's next PATCH may follow it at once.
      this.writing.delete(id);
    }
    send(res, reply);
  }

  /** Hands the request to @tus/server (with a verified body when one was read) and collects its answer. */
  private async dispatch(req: http.IncomingMessage, body: Buffer | undefined): Promise<TusReply> {
    const host = req.headers.host ?? `${this.config.publicHost}:${this.config.ports.api}`;
    const headers = new Headers();
    for (const [k, v] of Object.entries(req.headers)) {
      if (v === undefined) continue;
      headers.set(k, Array.isArray(v) ? v.join(', ') : v);
    }
    const method = req.method ?? 'GET';
    const hasBody = method === 'PATCH' || method === 'POST';
    const request = new Request(`http://${host}${req.url ?? '/'}`, {
      method,
      headers,
      ...(hasBody ? { body: body ?? (Readable.toWeb(req) as ReadableStream), duplex: 'half' } : {}),
    } as RequestInit);
    const response = await this.tus.handleWeb(request);
    const out: Record<string, string> = {};
    response.headers.forEach((v, k) => (out[k] = v));
    if (method === 'OPTIONS' && out['tus-extension']) {
      out['tus-extension'] = `${out['tus-extension']},checksum`;
      out['tus-checksum-algorithm'] = CHECKSUM_ALGORITHMS.join(',');
    }
    const payload = response.body ? Buffer.from(await response.arrayBuffer()) : undefined;
    if (payload) out['content-length'] = String(payload.length);
    return { status: response.status, headers: out, payload };
  }
}

/** @tus/server's answer, ready to write. */
interface TusReply {
  status: number;
  headers: Record<string, string>;
  payload?: Buffer;
}

function send(res: http.ServerResponse, reply: TusReply): void {
  res.writeHead(reply.status, reply.headers);
  res.end(reply.payload);
}

function idOf(pathname: string): string | undefined {
  const id = TUS_PATH.exec(pathname)?.[1];
  return id && isUuid(id) ? id : undefined;
}

function plain(res: http.ServerResponse, status: number, text: string): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'tus-resumable': '1.0.0', 'cache-control': 'no-store' });
  res.end(text);
}

/** The whole body, or undefined past `limit` bytes. */
async function readAll(req: http.IncomingMessage, limit: number): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const c of req) {
    total += (c as Buffer).length;
    if (total > limit) return undefined;
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks);
}
