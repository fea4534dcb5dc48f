import { playbackPolicyKey, type LiveState, type Logger, type Sql } from '../../platform/index.js';
import type { MediaPolicy, PlaybackPolicy } from '../contract.js';

/** Every policy is published again this often, so a live state that lost entries (restart, eviction, FLUSHALL) heals. */
const REPUBLISH_MS = 60_000;
/** Entries outlive several republish rounds; a deleted stream's entry then goes by itself. */
const ENTRY_TTL_MS = 10 * REPUBLISH_MS;

/**
 * Publishes every stream's and asset's playback policy, `signed` or `public`, to the shared live
 * state, where every edge looks before serving. The database stays the source of truth: `syncAll` at
 * start-up and every minute rebuilds the shared view. An edge that finds no entry does not take it as
 * public: it asks `policyOf` (in process, or over the internal route) and refuses when it cannot.
 */
export class PlaybackPolicies {
  private timer?: NodeJS.Timeout;

  constructor(private readonly deps: { sql: Sql; liveState: LiveState; logger: Logger }) {}

  /** Records one stream's or asset's policy (`gone`: deleted, the edge answers 404). */
  async set(mediaId: string, policy: MediaPolicy): Promise<void> {
    await this.deps.liveState.set(playbackPolicyKey(mediaId), policy, ENTRY_TTL_MS);
  }

  /** The policy from the database (and published again); media that does not exist (or was deleted) is `gone`. */
  async policyOf(mediaId: string): Promise<MediaPolicy> {
    const [row] = await this.deps.sql.query<{ playback_policy: PlaybackPolicy }>(
      `SELECT playback_policy FROM live_streams WHERE id::text = $1 UNION ALL SELECT playback_policy FROM assets WHERE id::text = $1 LIMIT 1`,
      [mediaId],
    );
    if (!row) return 'gone';
    await this.set(mediaId, row.playback_policy);
    return row.playback_policy;
  }

  /** Writes every stream's and asset's policy; returns how many are signed. */
  async syncAll(): Promise<number> {
    const rows = await this.deps.sql.query<{ id: string; playback_policy: PlaybackPolicy }>(
      `SELECT id, playback_policy FROM live_streams UNION ALL SELECT id, playback_policy FROM assets`,
    );
    for (const r of rows) await this.set(r.id, r.playback_policy);
    const signed = rows.filter((r) => r.playback_policy === 'signed').length;
    if (signed) this.deps.logger.debug({ signed, total: rows.length }, 'playback policies published');
    return signed;
  }

  /** Publishes everything now and then every `everyMs`. */
  async start(everyMs = REPUBLISH_MS): Promise<void> {
    await this.syncAll();
    this.timer = setInterval(() => void this.syncAll().catch((err) => this.deps.logger.warn({ err }, 'republishing playback policies failed')), everyMs);
    this.timer.unref();
  }

  close(): void {
    clearInterval(this.timer);
  }
}
