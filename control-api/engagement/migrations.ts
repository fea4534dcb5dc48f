import type { Migration } from '../../platform/index.js';

/**
 * What profiles do with titles: watch progress and views, My List, likes, ratings and comments.
 * Ids continue control-api's one sequence (migrate() applies them sorted by id).
 */
export const engagementMigrations: Migration[] = [
  {
    id: 'control_api_0013_engagement',
    up: `
      CREATE TABLE watch_progress (
        profile_id uuid NOT NULL REFERENCES profiles (id) ON DELETE CASCADE,
        title_id uuid NOT NULL REFERENCES titles (id) ON DELETE CASCADE,
        position_seconds double precision NOT NULL CHECK (position_seconds >= 0),
        finished boolean NOT NULL DEFAULT false,
        -- The play session that wrote last: within one session the position only moves forward.
        session_id text NOT NULL,
        updated_at timestamptz NOT NULL,
        PRIMARY KEY (profile_id, title_id)
      );
      CREATE INDEX watch_progress_recent_idx ON watch_progress (profile_id, updated_at DESC);
      CREATE INDEX watch_progress_title_idx ON watch_progress (title_id);
      -- One row per play session: trending and the recommender's implicit feedback.
      CREATE TABLE title_views (
        profile_id uuid NOT NULL REFERENCES profiles (id) ON DELETE CASCADE,
        session_id text NOT NULL,
        title_id uuid NOT NULL REFERENCES titles (id) ON DELETE CASCADE,
        viewed_at timestamptz NOT NULL,
        PRIMARY KEY (profile_id, session_id, title_id)
      );
      CREATE INDEX title_views_recent_idx ON title_views (viewed_at DESC);
      CREATE INDEX title_views_title_idx ON title_views (title_id, viewed_at DESC);
      CREATE TABLE watchlist (
        profile_id uuid NOT NULL REFERENCES profiles (id) ON DELETE CASCADE,
        title_id uuid NOT NULL REFERENCES titles (id) ON DELETE CASCADE,
        added_at timestamptz NOT NULL,
        PRIMARY KEY (profile_id, title_id)
      );
      CREATE INDEX watchlist_recent_idx ON watchlist (profile_id, added_at DESC);
      CREATE TABLE title_likes (
        profile_id uuid NOT NULL REFERENCES profiles (id) ON DELETE CASCADE,
        title_id uuid NOT NULL REFERENCES titles (id) ON DELETE CASCADE,
        created_at timestamptz NOT NULL,
        PRIMARY KEY (profile_id, title_id)
      );
      CREATE INDEX title_likes_title_idx ON title_likes (title_id);
      CREATE TABLE title_ratings (
        profile_id uuid NOT NULL REFERENCES profiles (id) ON DELETE CASCADE,
        title_id uuid NOT NULL REFERENCES titles (id) ON DELETE CASCADE,
        value smallint NOT NULL CHECK (value BETWEEN 1 AND 5),
        updated_at timestamptz NOT NULL,
        PRIMARY KEY (profile_id, title_id)
      );
      CREATE INDEX title_ratings_title_idx ON title_ratings (title_id);
      CREATE TABLE comments (
        id uuid PRIMARY KEY,
        title_id uuid NOT NULL REFERENCES titles (id) ON DELETE CASCADE,
        account_id uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
        profile_id uuid REFERENCES profiles (id) ON DELETE SET NULL,
        author_name text NOT NULL,
        parent_id uuid REFERENCES comments (id) ON DELETE CASCADE,
        body text NOT NULL,
        -- deleted: a top-level comment removed by its author that still has replies (a tombstone).
        status text NOT NULL DEFAULT 'visible' CHECK (status IN ('visible', 'hidden', 'deleted')),
        reply_count integer NOT NULL DEFAULT 0,
        created_at timestamptz NOT NULL
      );
      CREATE INDEX comments_thread_idx ON comments (title_id, created_at DESC, id DESC) WHERE parent_id IS NULL;
      CREATE INDEX comments_replies_idx ON comments (parent_id, created_at, id) WHERE parent_id IS NOT NULL;
    `,
  },
  {
    // What the scheduled recommender computed per profile, best first (filtered again when served).
    id: 'control_api_0014_recommendations',
    up: `
      CREATE TABLE recommendations (
        profile_id uuid PRIMARY KEY REFERENCES profiles (id) ON DELETE CASCADE,
        title_ids uuid[] NOT NULL,
        computed_at timestamptz NOT NULL
      );
    `,
  },
  {
    // Stored notifications (seq is the replay cursor of a reconnecting socket) and who follows whom.
    id: 'control_api_0015_notifications',
    up: `
      CREATE TABLE notifications (
        seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        id uuid NOT NULL UNIQUE,
        account_id uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
        kind text NOT NULL,
        data jsonb NOT NULL,
        created_at timestamptz NOT NULL,
        read_at timestamptz
      );
      CREATE INDEX notifications_account_idx ON notifications (account_id, seq DESC);
      CREATE INDEX notifications_unread_idx ON notifications (account_id) WHERE read_at IS NULL;
      CREATE TABLE follows (
        follower_id uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
        creator_id uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
        created_at timestamptz NOT NULL,
        PRIMARY KEY (follower_id, creator_id)
      );
      CREATE INDEX follows_creator_idx ON follows (creator_id);
    `,
  },
  {
    // Views per title per UTC day: trending reads at most 7 rows per title instead of every view.
    id: 'control_api_0016_title_view_days',
    up: `
      CREATE TABLE title_view_days (
        title_id uuid NOT NULL REFERENCES titles (id) ON DELETE CASCADE,
        day date NOT NULL,
        views integer NOT NULL,
        PRIMARY KEY (title_id, day)
      );
      CREATE INDEX title_view_days_day_idx ON title_view_days (day);
      INSERT INTO title_view_days (title_id, day, views)
        SELECT title_id, (viewed_at AT TIME ZONE 'UTC')::date, count(*) FROM title_views GROUP BY 1, 2;
    `,
  },
];
