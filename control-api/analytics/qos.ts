import { Counter, Histogram, type Registry } from 'prom-client';
import { Type, type Static } from 'typebox';
import type { Logger, Sql } from '../../platform/index.js';

/** One thing a player reports (CMCD cannot carry these): ids are the client's, so a resend is recognised. */
export const QosEvent = Type.Object(
  {
    id: Type.String({ minLength: 8, maxLength: 64, pattern: '^[A-Za-z0-9_-]+$', description: 'unique per event (a UUID): a resent event is counted once' }),
    type: Type.Union([Type.Literal('start'), Type.Literal('playing'), Type.Literal('rebuffer'), Type.Literal('bitrate'), Type.Literal('error'), Type.Literal('latency'), Type.Literal('end')]),
    at: Type.Integer({ minimum: 0, description: 'epoch milliseconds at the player' }),
    startupSeconds: Type.Optional(Type.Number({ minimum: 0, maximum: 600, description: 'start: play attempt → first frame' })),
    watchedSeconds: Type.Optional(Type.Number({ minimum: 0, maximum: 3600, description: 'playing/end: media watched since the previous event' })),
    durationSeconds: Type.Optional(Type.Number({ minimum: 0, maximum: 3600, description: 'rebuffer: how long playback stalled' })),
    bitrate: Type.Optional(Type.Integer({ minimum: 0, maximum: 1e9, description: 'bitrate: the new rendition, bits per second' })),
    droppedFrames: Type.Optional(Type.Integer({ minimum: 0, maximum: 1e7, description: 'frames dropped since the previous event' })),
    latencySeconds: Type.Optional(Type.Number({ minimum: 0, maximum: 600, description: 'latency: behind the live edge' })),
    fatal: Type.Optional(Type.Boolean()),
    code: Type.Optional(Type.String({ maxLength: 64 })),
  },
  { additionalProperties: false },
);

/** A batch of a player session's events (what `POST /v1/qos` takes, and what the bus carries). */
export const QosBatch = Type.Object(
  {
    sessionId: Type.String({ minLength: 8, maxLength: 64, pattern: '^[A-Za-z0-9_-]+$', description: 'the player session (a view)' }),
    mediaId: Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_-]+$', description: 'the asset or live stream played' }),
    mediaKind: Type.Union([Type.Literal('vod'), Type.Literal('live')]),
    viewerId: Type.Optional(Type.String({ maxLength: 64, description: 'an opaque, stable viewer id (unique viewers)' })),
    device: Type.Optional(Type.String({ maxLength: 32, description: 'desktop, phone, tv, ...' })),
    events: Type.Array(QosEvent, { minItems: 1, maxItems: 100 }),
  },
  { additionalProperties: false },
);
export type QosBatch = Static<typeof QosBatch>;

/** The bus topic beacons travel on, from `POST /v1/qos` to the aggregator. */
export const QOS_TOPIC = 'qos.beacons';

/** Prometheus series the aggregator feeds (bounded labels: event type only, never a session or media id). */
interface QosMetrics {
  events: Counter<'type'>;
  startup: Histogram;
  rebuffer: Histogram;
  latency: Histogram;
  watch: Counter;
  rebufferTime: Counter;
}

function qosMetrics(registry: Registry): QosMetrics {
  const existing = registry.getSingleMetric('qos_events_total');
  if (existing) {
    return {
      events: existing as Counter<'type'>, startup: registry.getSingleMetric('qos_startup_seconds') as Histogram, rebuffer: registry.getSingleMetric('qos_rebuffer_duration_seconds') as Histogram,
      latency: registry.getSingleMetric('qos_live_latency_seconds') as Histogram, watch: registry.getSingleMetric('qos_watch_seconds_total') as Counter, rebufferTime: registry.getSingleMetric('qos_rebuffer_seconds_total') as Counter,
    };
  }
  const registers = [registry];
  return {
    events: new Counter({ name: 'qos_events_total', help: 'Viewer QoS events applied (replays not counted), by type', labelNames: ['type'], registers }),
    startup: new Histogram({ name: 'qos_startup_seconds', help: 'Play attempt to first frame, per view', buckets: [0.25, 0.5, 1, 2, 3, 5, 8, 13, 30], registers }),
    rebuffer: new Histogram({ name: 'qos_rebuffer_duration_seconds', help: 'Length of each rebuffering stall', buckets: [0.1, 0.25, 0.5, 1, 2, 5, 10, 30], registers }),
    latency: new Histogram({ name: 'qos_live_latency_seconds', help: 'Live viewers behind the live edge, as players report it', buckets: [0.5, 1, 1.5, 2, 3, 5, 8, 15, 30], registers }),
    watch: new Counter({ name: 'qos_watch_seconds_total', help: 'Media watched (the rebuffer ratio is qos_rebuffer_seconds_total over this)', registers }),
    rebufferTime: new Counter({ name: 'qos_rebuffer_seconds_total', help: 'Time spent rebuffering', registers }),
  };
}

/**
 * Applies beacon batches at least once delivered (a bus consumer group): each event is stored by id
 * in the transaction that adds it to its view, so a replayed beacon or a redelivered batch changes
 * nothing; Prometheus series move only for events applied the first time.
 */
/** Event ids are kept this long: a beacon resent later than this would count again (players resend within minutes). */
const EVENT_ID_RETENTION = '7 days';

export class QosAggregator {
  private readonly m?: QosMetrics;
  private batches = 0;

  constructor(private readonly deps: { sql: Sql; logger: Logger; metrics?: Registry }) {
    if (deps.metrics) this.m = qosMetrics(deps.metrics);
  }

  async apply(batch: QosBatch): Promise<number> {
    const applied = await this.deps.sql.tx(async (q) => {
      const ids = batch.events.map((e) => e.id);
      const fresh = await q.query<{ id: string }>(
        `INSERT INTO qos_events (id, session_id, type) SELECT * FROM unnest($1::text[], $2::text[], $3::text[]) ON CONFLICT (id) DO NOTHING RETURNING id`,
        [ids, ids.map(() => batch.sessionId), batch.events.map((e) => e.type)],
      );
      const isFresh = new Set(fresh.map((r) => r.id));
      const events = batch.events.filter((e) => isFresh.has(e.id));
      if (events.length === 0) return [];
      const sum = (f: (e: (typeof events)[number]) => number | undefined) => events.reduce((n, e) => n + (f(e) ?? 0), 0);
      const startup = events.find((e) => e.type === 'start' && e.startupSeconds !== undefined)?.startupSeconds ?? null;
      const latency = [...events].reverse().find((e) => e.type === 'latency' && e.latencySeconds !== undefined)?.latencySeconds ?? null;
      const firstAt = new Date(Math.min(...events.map((e) => e.at)));
      await q.query(
        `INSERT INTO qos_views (session_id, media_id, media_kind, viewer_id, device, started_at, updated_at, startup_seconds, watch_seconds, rebuffer_seconds, rebuffer_count, bitrate_switches, dropped_frames, errors, fatal_errors, live_latency_seconds)
         VALUES ($1, $2, $3, $4, $5, $6, now(), $7, $8, $9, $10, $11, $12, $13, $14, $15)
         ON CONFLICT (session_id) DO UPDATE SET
           updated_at = now(), started_at = LEAST(qos_views.started_at, EXCLUDED.started_at),
           startup_seconds = COALESCE(qos_views.startup_seconds, EXCLUDED.startup_seconds),
           watch_seconds = qos_views.watch_seconds + EXCLUDED.watch_seconds, rebuffer_seconds = qos_views.rebuffer_seconds + EXCLUDED.rebuffer_seconds,
           rebuffer_count = qos_views.rebuffer_count + EXCLUDED.rebuffer_count, bitrate_switches = qos_views.bitrate_switches + EXCLUDED.bitrate_switches,
           dropped_frames = qos_views.dropped_frames + EXCLUDED.dropped_frames, errors = qos_views.errors + EXCLUDED.errors, fatal_errors = qos_views.fatal_errors + EXCLUDED.fatal_errors,
           live_latency_seconds = COALESCE(EXCLUDED.live_latency_seconds, qos_views.live_latency_seconds)`,
        [
          batch.sessionId, batch.mediaId, batch.mediaKind, batch.viewerId ?? null, batch.device ?? null, firstAt, startup,
          sum((e) => (e.type === 'playing' || e.type === 'end' ? e.watchedSeconds : undefined)), sum((e) => (e.type === 'rebuffer' ? e.durationSeconds : undefined)),
          events.filter((e) => e.type === 'rebuffer').length, events.filter((e) => e.type === 'bitrate').length, sum((e) => e.droppedFrames),
          events.filter((e) => e.type === 'error').length, events.filter((e) => e.type === 'error' && e.fatal).length, latency,
        ],
      );
      return events;
    });
    // Now and then, forget event ids old enough that no player resends them.
    if (++this.batches % 1000 === 1) {
      await this.deps.sql.query(`DELETE FROM qos_events WHERE received_at < now() - interval '${EVENT_ID_RETENTION}'`).catch((err: unknown) => this.deps.logger.warn({ err }, 'pruning QoS event ids failed'));
    }
    for (const e of applied) {
      this.m?.events.inc({ type: e.type });
      if (e.type === 'start' && e.startupSeconds !== undefined) this.m?.startup.observe(e.startupSeconds);
      if (e.type === 'rebuffer' && e.durationSeconds !== undefined) {
        this.m?.rebuffer.observe(e.durationSeconds);
        this.m?.rebufferTime.inc(e.durationSeconds);
      }
      if ((e.type === 'playing' || e.type === 'end') && e.watchedSeconds) this.m?.watch.inc(e.watchedSeconds);
      if (e.type === 'latency' && e.latencySeconds !== undefined && batch.mediaKind === 'live') this.m?.latency.observe(e.latencySeconds);
    }
    return applied.length;
  }
}

/** What creators read of their media's views (definitions in README "Viewer QoS and analytics"). */
export interface MediaAnalytics {
  from: string;
  to: string;
  views: number;
  uniqueViewers: number;
  watchTimeSeconds: number;
  averageViewDurationSeconds: number;
  rebufferRatio: number;
  rebufferCount: number;
  startupSeconds: { p50: number | null; p95: number | null };
  errors: number;
  fatalErrors: number;
  liveLatencySeconds: { p50: number | null };
  devices: { device: string; views: number }[];
}

/** Views of one asset or stream in a time range, added up. */
export async function mediaAnalytics(sql: Sql, mediaId: string, from: Date, to: Date): Promise<MediaAnalytics> {
  const [row] = await sql.query<{
    views: number; unique_viewers: number; watch: number; rebuffer: number; rebuffer_count: number; p50: number | null; p95: number | null; errors: number; fatal: number; latency_p50: number | null;
  }>(
    `SELECT count(*)::int AS views, count(DISTINCT COALESCE(viewer_id, session_id))::int AS unique_viewers,
            COALESCE(sum(watch_seconds), 0)::float8 AS watch, COALESCE(sum(rebuffer_seconds), 0)::float8 AS rebuffer, COALESCE(sum(rebuffer_count), 0)::int AS rebuffer_count,
            percentile_cont(0.5) WITHIN GROUP (ORDER BY startup_seconds) AS p50, percentile_cont(0.95) WITHIN GROUP (ORDER BY startup_seconds) AS p95,
            COALESCE(sum(errors), 0)::int AS errors, COALESCE(sum(fatal_errors), 0)::int AS fatal,
            percentile_cont(0.5) WITHIN GROUP (ORDER BY live_latency_seconds) AS latency_p50
       FROM qos_views WHERE media_id = $1 AND started_at >= $2 AND started_at < $3`,
    [mediaId, from, to],
  );
  const devices = await sql.query<{ device: string; views: number }>(
    `SELECT COALESCE(device, 'unknown') AS device, count(*)::int AS views FROM qos_views WHERE media_id = $1 AND started_at >= $2 AND started_at < $3 GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 10`,
    [mediaId, from, to],
  );
  const round = (n: number | null, d = 3) => (n === null ? null : Math.round(Number(n) * 10 ** d) / 10 ** d);
  return {
    from: from.toISOString(), to: to.toISOString(), views: row.views, uniqueViewers: row.unique_viewers, watchTimeSeconds: round(row.watch)!,
    averageViewDurationSeconds: row.views ? round(row.watch / row.views)! : 0, rebufferRatio: row.watch > 0 ? round(row.rebuffer / row.watch, 4)! : 0, rebufferCount: row.rebuffer_count,
    startupSeconds: { p50: round(row.p50), p95: round(row.p95) }, errors: row.errors, fatalErrors: row.fatal, liveLatencySeconds: { p50: round(row.latency_p50) }, devices,
  };
}
