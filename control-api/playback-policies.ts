import { playbackPolicyKey, type LiveState, type Logger, type Sql } from '../platform/index.js';
import type { PlaybackPolicy } from './contract.js';

/**
 * Publishes which streams and assets need signed playback to the shared live state, where every edge
 * looks before serving (edge-cache `isSigned`). The database stays the source of truth: `syncAll` at
 * start-up rebuilds the shared view (an in-process LiveState starts empty).
 */
export class PlaybackPolicies {
  constructor(private readonly deps: { sql: Sql; liveState: LiveState; logger: Logger }) {}

  /** Records one stream's or asset's policy. */
  async set(mediaId: string, policy: PlaybackPolicy): Promise<void> {
    if (policy === 'signed') await this.deps.liveState.set(playbackPolicyKey(mediaId), 'signed');
    else await this.deps.liveState.del(playbackPolicyKey(mediaId));
  }

  /** Writes every signed stream and asset; returns how many. */
  async syncAll(): Promise<number> {
    const rows = await this.deps.sql.query<{ id: string }>(
      `SELECT id FROM live_streams WHERE playback_policy = 'signed' UNION ALL SELECT id FROM assets WHERE playback_policy = 'signed'`,
    );
    for (const r of rows) await this.set(r.id, 'signed');
    if (rows.length) this.deps.logger.info({ count: rows.length }, 'signed playback policies published');
    return rows.length;
  }
}
