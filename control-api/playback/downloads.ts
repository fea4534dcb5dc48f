import crypto from 'node:crypto';
import { AppError, renditionsOverCap, signPlaybackToken, PLAYBACK_TOKEN_MAX_TTL_SECONDS, type Config, type Sql } from '../../platform/index.js';
import type { DeviceInput, DeviceService } from '../billing/devices.js';
import type { EncryptionMode, MaturityRating } from '../contract.js';
import { badRequest, conflict, notFound } from '../http/http-errors.js';
import type { Entitlements } from './entitlements.js';
import type { KeyStore } from './key-store.js';
import { toOrigin } from './urls.js';

/** What downloads read of titles and assets. */
export interface DownloadCatalog {
  playable(ceiling: MaturityRating, id: string): Promise<{ id: string; assetId: string; requiredPlan: string | null; downloadable: boolean; name: string }>;
  publicRow(id: string): Promise<{ id: string; requiredPlan: string | null; downloadable: boolean }>;
}
export interface DownloadAssets {
  encryptionOf(id: string): Promise<EncryptionMode | undefined>;
  videoRenditions(id: string): Promise<{ name: string; height: number }[]>;
  keyOwners(id: string): Promise<string[]>;
}

interface DownloadRow {
  id: string;
  account_id: string;
  profile_id: string;
  device_id: string;
  title_id: string;
  asset_id: string;
  rendition: string;
  kids: string[];
  created_at: Date | string;
  expires_at: Date | string;
  revoked_at: Date | string | null;
  revoked_reason: string | null;
}

export interface DownloadView {
  id: string;
  titleId: string;
  profileId: string;
  deviceId: string;
  rendition: string;
  createdAt: string;
  expiresAt: string;
  status: 'active' | 'expired' | 'revoked';
  /** The licence endpoint: the content keys, while the grant holds. */
  licenseUrl: string;
}

const iso = (v: Date | string) => new Date(v).toISOString();

/**
 * Offline downloads: a grant per (device, title) for `downloads.days` of the plan, at most
 * `downloads.devices` devices with live grants, and a licence endpoint that gives the content keys
 * only while the grant is unexpired, unrevoked (device removed, download deleted) and the
 * subscription still entitles. The file is one encrypted MP4 per video rendition (the origin's
 * `/vod/{assetId}/{rendition}.mp4`), fetched from the edge with a playback token.
 */
export class DownloadService {
  constructor(
    private readonly deps: { sql: Sql; entitlements: Entitlements; titles: DownloadCatalog; assets: DownloadAssets; keys: KeyStore; devices: DeviceService },
    private readonly config: Config,
  ) {}

  private view(r: DownloadRow, now = Date.now()): DownloadView {
    return {
      id: r.id, titleId: r.title_id, profileId: r.profile_id, deviceId: r.device_id, rendition: r.rendition, createdAt: iso(r.created_at), expiresAt: iso(r.expires_at),
      status: r.revoked_at ? 'revoked' : new Date(r.expires_at).getTime() <= now ? 'expired' : 'active',
      licenseUrl: `${toOrigin('http', this.config.publicHost, this.config.ports.api)}/v1/downloads/${r.id}/license`,
    };
  }

  /** Grants a download to a device; the answer's `file` is the encrypted MP4's URL (with a playback token for a day). */
  async grant(viewer: { accountId: string; profileId: string; maturityCeiling: MaturityRating }, input: { titleId: string; device: DeviceInput; rendition?: string }): Promise<DownloadView & { file: string; keyIds: string[] }> {
    const { accountId } = viewer;
    const title = await this.deps.titles.playable(viewer.maturityCeiling, input.titleId);
    if (!title.downloadable) throw new AppError(403, 'DOWNLOAD_NOT_ALLOWED', 'this title is not available for download');
    const terms = await this.deps.entitlements.forDownload(accountId, title);
    const encryption = await this.deps.assets.encryptionOf(title.assetId);
    if (encryption !== 'cbcs' && encryption !== 'cenc') {
      throw conflict('DOWNLOAD_NEEDS_ENCRYPTION', 'downloads are offered for titles whose media is encrypted (cbcs or cenc): a clear file would play forever');
    }
    const renditions = await this.deps.assets.videoRenditions(title.assetId);
    const over = new Set(renditionsOverCap(renditions, terms.maxResolution).map((r) => r.name));
    const allowed = renditions.filter((r) => !over.has(r.name)).sort((a, b) => b.height - a.height);
    if (input.rendition !== undefined && over.has(input.rendition)) {
      throw new AppError(403, 'RENDITION_NOT_ALLOWED', `the plan allows up to ${terms.maxResolution} lines: ${input.rendition} is above it`);
    }
    const rendition = input.rendition ?? allowed[0]?.name;
    if (!rendition || !allowed.some((r) => r.name === rendition)) throw badRequest('RENDITION_UNKNOWN', `the title has the renditions ${allowed.map((r) => r.name).join(', ')}`);
    const key = this.config.edge.playbackSigningKey;
    if (!key) throw new AppError(409, 'PLAYBACK_SIGNING_DISABLED', 'this server has no PLAYBACK_SIGNING_KEY: download URLs cannot be signed');
    const kids = await this.deps.keys.kidsOf(await this.deps.assets.keyOwners(title.assetId));
    const row = await this.deps.sql.tx(async (q) => {
      // One account's grants are counted under its row lock, so two devices racing cannot both pass.
      await q.query(`SELECT id FROM accounts WHERE id = $1 FOR UPDATE`, [accountId]);
      const devices = await q.query<{ device_id: string }>(
        `SELECT DISTINCT device_id FROM downloads WHERE account_id = $1 AND revoked_at IS NULL AND expires_at > now()`,
        [accountId],
      );
      if (!devices.some((d) => d.device_id === input.device.id) && devices.length >= terms.devices) {
        throw new AppError(403, 'DOWNLOAD_DEVICE_LIMIT', `the ${terms.planId} plan allows downloads on ${terms.devices} device${terms.devices === 1 ? '' : 's'}: remove one (DELETE /v1/devices/:id) or delete its downloads`, undefined, { limit: terms.devices, devices: devices.map((d) => d.device_id) });
      }
      const [inserted] = await q.query<DownloadRow>(
        `INSERT INTO downloads (id, account_id, profile_id, device_id, title_id, asset_id, rendition, kids, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, now(), now() + make_interval(days => $9)) RETURNING *`,
        [crypto.randomUUID(), accountId, viewer.profileId, input.device.id, title.id, title.assetId, rendition, kids, terms.days],
      );
      return inserted;
    });
    await this.deps.devices.touch(accountId, input.device);
    const ttlSeconds = Math.max(60, Math.min(PLAYBACK_TOKEN_MAX_TTL_SECONDS, Math.floor((new Date(row.expires_at).getTime() - Date.now()) / 1000)));
    const token = signPlaybackToken(key, { sub: title.assetId, ttlSeconds, pid: viewer.profileId, maxh: terms.maxResolution, xr: over.size ? [...over] : undefined });
    const edge = toOrigin('http', this.config.publicHost, this.config.ports.edge);
    return { ...this.view(row), file: `${edge}/t/${token}/vod/${title.assetId}/${rendition}.mp4`, keyIds: kids };
  }

  async list(accountId: string): Promise<DownloadView[]> {
    const rows = await this.deps.sql.query<DownloadRow>(`SELECT * FROM downloads WHERE account_id = $1 ORDER BY created_at DESC LIMIT 500`, [accountId]);
    return rows.map((r) => this.view(r));
  }

  private async row(accountId: string, id: string): Promise<DownloadRow> {
    if (!/^[0-9a-f-]{36}$/i.test(id)) throw notFound('download');
    const [row] = await this.deps.sql.query<DownloadRow>(`SELECT * FROM downloads WHERE id = $1 AND account_id = $2`, [id, accountId]);
    if (!row) throw notFound('download');
    return row;
  }

  /**
   * The keys of a download (W3C ClearKey licence, `persistent-license`, with `expiresAt`): refused
   * when it expired (403 DOWNLOAD_EXPIRED), was revoked (DOWNLOAD_REVOKED), or the subscription no
   * longer entitles (the entitlement's own refusal).
   */
  async license(accountId: string, id: string): Promise<{ keys: { kty: 'oct'; kid: string; k: string }[]; type: 'persistent-license'; expiresAt: string }> {
    const row = await this.row(accountId, id);
    if (row.revoked_at) throw new AppError(403, 'DOWNLOAD_REVOKED', `this download was revoked (${row.revoked_reason ?? 'revoked'}): download it again`);
    if (new Date(row.expires_at).getTime() <= Date.now()) throw new AppError(403, 'DOWNLOAD_EXPIRED', `this download expired at ${iso(row.expires_at)}: download it again`);
    let title;
    try {
      title = await this.deps.titles.publicRow(row.title_id);
    } catch {
      throw new AppError(403, 'DOWNLOAD_REVOKED', 'this title is no longer available');
    }
    await this.deps.entitlements.forDownload(accountId, title);
    const keys = await this.deps.keys.byKids(row.kids);
    return {
      keys: keys.map((k) => ({ kty: 'oct' as const, kid: Buffer.from(k.kid, 'hex').toString('base64url'), k: k.key.toString('base64url') })),
      type: 'persistent-license',
      expiresAt: iso(row.expires_at),
    };
  }

  /** Deletes a download (the licence refuses from now on). */
  async revoke(accountId: string, id: string): Promise<void> {
    await this.row(accountId, id);
    await this.deps.sql.query(`UPDATE downloads SET revoked_at = now(), revoked_reason = 'deleted' WHERE id = $1 AND revoked_at IS NULL`, [id]);
  }

  /** A device was signed out: its downloads stop playing at the next licence request. */
  async revokeDevice(accountId: string, deviceId: string): Promise<void> {
    await this.deps.sql.query(`UPDATE downloads SET revoked_at = now(), revoked_reason = 'device removed' WHERE account_id = $1 AND device_id = $2 AND revoked_at IS NULL`, [accountId, deviceId]);
  }
}
