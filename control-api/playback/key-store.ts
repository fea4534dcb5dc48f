/**
 * The built-in KeyProvider: content keys made here, wrapped with KEY_ENCRYPTION_KEY (AES-256 key wrap,
 * RFC 3394) before they reach the database, one per (media, period). The licence server reads them
 * back by key ID. A DRM vendor's CPIX adapter replaces `contentKey`; the licence side then belongs to
 * the vendor.
 */
import crypto from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { AppError, type Config, type Sql } from '../../platform/index.js';
import type { ContentKeyGrant, EncryptionMode, KeyProvider, KeyRequest } from '../../packager/contract.js';

/** RFC 3394 §2.2.3.1 default initial value. */
const KEY_WRAP_IV = Buffer.from('a6a6a6a6a6a6a6a6', 'hex');

/** A stored key with the media it belongs to. */
export interface StoredContentKey extends ContentKeyGrant {
  mediaId: string;
  period: string;
}

interface KeyRow {
  kid: string;
  media_id: string;
  period: string;
  wrapped_key: string;
  iv: string;
}

/** Wraps a 16-byte content key with the 32-byte master key. */
export function wrapKey(kek: Buffer, key: Buffer): Buffer {
  const c = crypto.createCipheriv('id-aes256-wrap', kek, KEY_WRAP_IV);
  return Buffer.concat([c.update(key), c.final()]);
}

/** Unwraps a content key; throws when the master key is not the one it was wrapped with (RFC 3394 integrity check). */
export function unwrapKey(kek: Buffer, wrapped: Buffer): Buffer {
  const d = crypto.createDecipheriv('id-aes256-wrap', kek, KEY_WRAP_IV);
  return Buffer.concat([d.update(wrapped), d.final()]);
}

/**
 * Refuses an encryption this server cannot deliver: any needs KEY_ENCRYPTION_KEY (to store keys) and
 * PLAYBACK_SIGNING_KEY (licences answer playback tokens); AES-128 whole-segment encryption is for live streams.
 */
export function requireEncryptionSupport(config: Config, encryption: EncryptionMode, what: 'asset' | 'stream'): void {
  if (encryption === 'none') return;
  if (!config.drm.keyEncryptionKey) throw new AppError(409, 'ENCRYPTION_DISABLED', `encryption "${encryption}" needs KEY_ENCRYPTION_KEY on this server (one-process mode generates one under DATA_DIR)`);
  if (!config.edge.playbackSigningKey) throw new AppError(409, 'ENCRYPTION_DISABLED', `encryption "${encryption}" needs PLAYBACK_SIGNING_KEY: licences are granted to playback tokens`);
  // Whole-segment AES-128 (HLS players without EME) is made for uploads; live parts are not yet: refused rather than left clear.
  if (encryption === 'aes-128' && what === 'stream') throw new AppError(400, 'ENCRYPTION_UNSUPPORTED', 'live streams are encrypted with cbcs (every EME player, HLS and DASH) or cenc; aes-128 is offered for uploaded assets');
}

/** Content keys in control-api's database. */
export class KeyStore implements KeyProvider {
  /**
   * Keys by ID, unwrapped: a key never changes once made, so licences for the same media (every viewer
   * of a stream asks for the same few) are answered without the database.
   */
  private readonly byKid = new LRUCache<string, StoredContentKey>({ max: 10_000 });

  constructor(
    private readonly deps: { sql: Sql },
    private readonly kek: Buffer | undefined,
  ) {}

  /** Encryption can be turned on: a master key is configured. */
  get enabled(): boolean {
    return this.kek !== undefined;
  }

  private requireKek(): Buffer {
    if (!this.kek) throw new AppError(409, 'ENCRYPTION_DISABLED', 'this server has no KEY_ENCRYPTION_KEY: encryption is off');
    return this.kek;
  }

  /** The key of (media, period): made and stored on the first request, the same one afterwards, from any process. */
  async contentKey(req: KeyRequest): Promise<ContentKeyGrant> {
    const kek = this.requireKek();
    const fresh = { kid: crypto.randomBytes(16).toString('hex'), key: crypto.randomBytes(16), iv: crypto.randomBytes(16) };
    // Two packagers asking at once both insert; the unique (media, period) keeps one, and both read it.
    await this.deps.sql.query(
      `INSERT INTO content_keys (kid, media_id, period, wrapped_key, iv, created_at) VALUES ($1, $2, $3, $4, $5, now())
       ON CONFLICT (media_id, period) DO NOTHING`,
      [fresh.kid, req.mediaId, req.period, wrapKey(kek, fresh.key).toString('base64'), fresh.iv.toString('hex')],
    );
    const [row] = await this.deps.sql.query<KeyRow>(`SELECT * FROM content_keys WHERE media_id = $1 AND period = $2`, [req.mediaId, req.period]);
    return this.toGrant(kek, row);
  }

  /** Stored keys by key ID (32 hex digits each); unknown IDs are left out. */
  async byKids(kids: readonly string[]): Promise<StoredContentKey[]> {
    if (kids.length === 0) return [];
    const kek = this.requireKek();
    const cached = kids.map((k) => this.byKid.get(k)).filter((k): k is StoredContentKey => k !== undefined);
    const missing = kids.filter((k) => !this.byKid.has(k));
    if (missing.length === 0) return cached;
    const rows = await this.deps.sql.query<KeyRow>(`SELECT * FROM content_keys WHERE kid = ANY($1::text[])`, [missing]);
    const loaded = rows.map((r) => ({ ...this.toGrant(kek, r), mediaId: r.media_id, period: r.period }));
    for (const k of loaded) this.byKid.set(k.kid, k);
    return [...cached, ...loaded];
  }

  /** The key IDs of these streams and assets, oldest first. */
  async kidsOf(mediaIds: readonly string[]): Promise<string[]> {
    const rows = await this.deps.sql.query<{ kid: string }>(`SELECT kid FROM content_keys WHERE media_id = ANY($1::text[]) ORDER BY created_at, kid`, [mediaIds]);
    return rows.map((r) => r.kid);
  }

  /** Every key of one stream or asset (for deleting it with its media). */
  async deleteFor(mediaId: string): Promise<void> {
    const rows = await this.deps.sql.query<{ kid: string }>(`DELETE FROM content_keys WHERE media_id = $1 RETURNING kid`, [mediaId]);
    for (const r of rows) this.byKid.delete(r.kid);
  }

  private toGrant(kek: Buffer, row: KeyRow): ContentKeyGrant {
    let key: Buffer;
    try {
      key = unwrapKey(kek, Buffer.from(row.wrapped_key, 'base64'));
    } catch {
      throw new AppError(500, 'KEY_UNWRAP_FAILED', 'a stored content key does not unwrap with this KEY_ENCRYPTION_KEY (was the master key changed?)');
    }
    return { kid: row.kid, key, iv: Buffer.from(row.iv, 'hex') };
  }
}
