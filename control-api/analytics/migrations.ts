import type { Migration } from '../../platform/index.js';

/**
 * Viewer QoS: every beacon event by its id (so a replayed or redelivered one is applied once), and one
 * row per view (a player session: a view starts at the first play attempt, as Mux Data counts them)
 * holding what its events add up to.
 */
export const analyticsMigrations: Migration[] = [
  {
    id: 'control_api_0021_qos',
    up: `
      CREATE TABLE qos_events (
        id text PRIMARY KEY,
        session_id text NOT NULL,
        type text NOT NULL,
        received_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE INDEX qos_events_received ON qos_events (received_at);
      CREATE TABLE qos_views (
        session_id text PRIMARY KEY,
        media_id text NOT NULL,
        media_kind text NOT NULL CHECK (media_kind IN ('vod', 'live')),
        viewer_id text,
        device text,
        started_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL,
        startup_seconds double precision,
        watch_seconds double precision NOT NULL DEFAULT 0,
        rebuffer_seconds double precision NOT NULL DEFAULT 0,
        rebuffer_count integer NOT NULL DEFAULT 0,
        bitrate_switches integer NOT NULL DEFAULT 0,
        dropped_frames integer NOT NULL DEFAULT 0,
        errors integer NOT NULL DEFAULT 0,
        fatal_errors integer NOT NULL DEFAULT 0,
        live_latency_seconds double precision
      );
      CREATE INDEX qos_views_media ON qos_views (media_id, started_at);
    `,
  },
];
