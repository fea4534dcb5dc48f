import type { Migration } from '../platform/index.js';
import { catalogMigrations } from './catalog/migrations.js';
import { engagementMigrations } from './engagement/migrations.js';
import { billingMigrations } from './billing/migrations.js';
import { analyticsMigrations } from './analytics/migrations.js';

/**
 * control-api schema. Plain SQL that runs unchanged on PGlite and Postgres (the one extension is
 * pg_trgm, for catalog search); ids are
 * generated in TypeScript (crypto.randomUUID()), timestamps are set by the caller where ordering
 * matters (pagination cursors round-trip through JS Dates, which hold milliseconds only).
 */
const coreMigrations: Migration[] = [
  {
    id: 'control_api_0001_accounts',
    up: `
      CREATE TABLE accounts (
        id uuid PRIMARY KEY,
        email text NOT NULL UNIQUE CHECK (email = lower(email)),
        password_hash text NOT NULL,
        display_name text NOT NULL,
        role text NOT NULL DEFAULT 'creator' CHECK (role IN ('viewer', 'creator', 'admin')),
        created_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE TABLE refresh_tokens (
        id uuid PRIMARY KEY,
        account_id uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
        family_id uuid NOT NULL,
        token_hash text NOT NULL UNIQUE,
        created_at timestamptz NOT NULL DEFAULT now(),
        expires_at timestamptz NOT NULL,
        used_at timestamptz,
        revoked_at timestamptz
      );
      CREATE INDEX refresh_tokens_family_idx ON refresh_tokens (family_id);
      CREATE INDEX refresh_tokens_account_idx ON refresh_tokens (account_id);
    `,
  },
  {
    id: 'control_api_0002_profiles',
    up: `
      CREATE TABLE profiles (
        id uuid PRIMARY KEY,
        account_id uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
        name text NOT NULL,
        kind text NOT NULL DEFAULT 'standard' CHECK (kind IN ('standard', 'kids')),
        maturity_ceiling text NOT NULL CHECK (maturity_ceiling IN ('G', 'PG', 'PG-13', 'R', 'NC-17')),
        pin_hash text,
        avatar text NOT NULL DEFAULT 'default',
        created_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE INDEX profiles_account_idx ON profiles (account_id, created_at);
    `,
  },
  {
    id: 'control_api_0003_live_streams',
    up: `
      CREATE TABLE live_streams (
        id uuid PRIMARY KEY,
        account_id uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
        title text NOT NULL,
        stream_key_hash text NOT NULL UNIQUE,
        stream_key_prefix text NOT NULL,
        enabled boolean NOT NULL DEFAULT true,
        status text NOT NULL DEFAULT 'idle' CHECK (status IN ('idle', 'live', 'ended')),
        ladder jsonb,
        passthrough boolean NOT NULL DEFAULT false,
        playback_policy text NOT NULL DEFAULT 'public' CHECK (playback_policy IN ('public', 'signed')),
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL,
        last_live_at timestamptz
      );
      CREATE INDEX live_streams_account_page_idx ON live_streams (account_id, created_at DESC, id DESC);
      CREATE TABLE assets (
        id uuid PRIMARY KEY,
        account_id uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
        live_stream_id uuid REFERENCES live_streams (id) ON DELETE SET NULL,
        title text NOT NULL,
        status text NOT NULL DEFAULT 'preparing' CHECK (status IN ('preparing', 'ready', 'errored')),
        duration_seconds double precision,
        created_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE INDEX assets_live_stream_idx ON assets (live_stream_id, created_at DESC);
      CREATE INDEX assets_account_idx ON assets (account_id, created_at DESC);
    `,
  },
  {
    // A publisher reconnecting inside the packager's grace window finds the stream still `live`:
    // whether a publisher is connected right now is what refuses a second one.
    id: 'control_api_0004_publisher_connected',
    up: `ALTER TABLE live_streams ADD COLUMN publisher_connected boolean NOT NULL DEFAULT false;`,
  },
  {
    // Why the last session failed (no video, unsupported codec, transcoder giving up), for the creator's UI.
    id: 'control_api_0005_live_stream_last_error',
    up: `ALTER TABLE live_streams ADD COLUMN last_error jsonb;`,
  },
  {
    // Heartbeat of the connected publisher (ingest's periodic stats): a crashed ingest that never said
    // "ended" must not lock the key out forever.
    id: 'control_api_0006_publisher_seen_at',
    up: `ALTER TABLE live_streams ADD COLUMN publisher_seen_at timestamptz;`,
  },
  {
    // A recording keeps the playback policy its stream had, even after the stream is deleted.
    id: 'control_api_0007_asset_playback_policy',
    up: `ALTER TABLE assets ADD COLUMN playback_policy text NOT NULL DEFAULT 'public' CHECK (playback_policy IN ('public', 'signed'));`,
  },
  {
    // The publisher's last ingest statistics, shown to the creator while live (stream health).
    id: 'control_api_0008_live_stream_ingest_stats',
    up: `ALTER TABLE live_streams ADD COLUMN ingest_stats jsonb;`,
  },
  {
    // Direct uploads (tus) and what an uploaded asset needs: its processing progress, tracks and errors.
    id: 'control_api_0009_uploads',
    up: `
      CREATE TABLE uploads (
        id uuid PRIMARY KEY,
        account_id uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
        status text NOT NULL DEFAULT 'waiting' CHECK (status IN ('waiting', 'uploading', 'asset_created', 'errored', 'cancelled', 'timed_out')),
        asset_settings jsonb NOT NULL,
        size bigint,
        asset_id uuid,
        error jsonb,
        expires_at timestamptz NOT NULL,
        created_at timestamptz NOT NULL,
        completed_at timestamptz
      );
      CREATE INDEX uploads_account_idx ON uploads (account_id, created_at DESC);
      CREATE INDEX uploads_open_idx ON uploads (expires_at) WHERE status IN ('waiting', 'uploading');
      ALTER TABLE assets ADD COLUMN upload_id uuid;
      ALTER TABLE assets ADD COLUMN description text;
      ALTER TABLE assets ADD COLUMN progress_percent integer;
      ALTER TABLE assets ADD COLUMN playable_at timestamptz;
      ALTER TABLE assets ADD COLUMN ready_at timestamptz;
      ALTER TABLE assets ADD COLUMN tracks jsonb;
      ALTER TABLE assets ADD COLUMN errors jsonb;
    `,
  },
  {
    // Poster, sprite sheet and WebVTT thumbnail track of an uploaded asset (paths under vod/{id}/).
    id: 'control_api_0010_asset_thumbnails',
    up: `ALTER TABLE assets ADD COLUMN thumbnails jsonb;`,
  },
  {
    // Caption tracks of an asset, one per language (the WebVTT itself is stored with the media).
    id: 'control_api_0011_asset_captions',
    up: `
      CREATE TABLE asset_captions (
        asset_id uuid NOT NULL REFERENCES assets (id) ON DELETE CASCADE,
        language text NOT NULL,
        label text NOT NULL,
        source_format text NOT NULL CHECK (source_format IN ('vtt', 'srt')),
        created_at timestamptz NOT NULL,
        PRIMARY KEY (asset_id, language)
      );
    `,
  },
  {
    // Content protection: each stream's and asset's encryption, and the content keys (wrapped with
    // KEY_ENCRYPTION_KEY), one per (media, period): 'vod' for an asset, '{session}:{n}' for live.
    id: 'control_api_0017_encryption',
    up: `
      ALTER TABLE assets ADD COLUMN encryption text NOT NULL DEFAULT 'none' CHECK (encryption IN ('none', 'aes-128', 'cbcs', 'cenc'));
      ALTER TABLE live_streams ADD COLUMN encryption text NOT NULL DEFAULT 'none' CHECK (encryption IN ('none', 'aes-128', 'cbcs', 'cenc'));
      ALTER TABLE live_streams ADD COLUMN key_rotation_segments integer CHECK (key_rotation_segments >= 0);
      CREATE TABLE content_keys (
        kid text PRIMARY KEY,
        media_id text NOT NULL,
        period text NOT NULL,
        wrapped_key text NOT NULL,
        iv text NOT NULL,
        created_at timestamptz NOT NULL,
        UNIQUE (media_id, period)
      );
    `,
  },
  {
    // Parental controls: the account PIN that lets a kids profile's session switch to another profile.
    id: 'control_api_0019_account_pin',
    up: `ALTER TABLE accounts ADD COLUMN pin_hash text;`,
  },
  {
    // Offline downloads: one grant per (device, title) download, with the key IDs its licence returns.
    id: 'control_api_0020_downloads',
    up: `
      CREATE TABLE downloads (
        id uuid PRIMARY KEY,
        account_id uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
        profile_id uuid NOT NULL,
        device_id text NOT NULL,
        title_id uuid NOT NULL,
        asset_id uuid NOT NULL,
        rendition text NOT NULL,
        kids text[] NOT NULL,
        created_at timestamptz NOT NULL,
        expires_at timestamptz NOT NULL,
        revoked_at timestamptz,
        revoked_reason text
      );
      CREATE INDEX downloads_account_device ON downloads (account_id, device_id);
    `,
  },
];

/** Every control-api migration: the core ones above, then each domain's (one history on PGlite and Postgres). */
export const controlApiMigrations: Migration[] = [...coreMigrations, ...catalogMigrations, ...engagementMigrations, ...billingMigrations, ...analyticsMigrations];
