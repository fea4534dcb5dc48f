/**
 * The keys of one encrypted live session: one per rotation period (every `rotationSegments` segments,
 * or one for the whole session), fetched from the KeyProvider ahead of need so that sealing a part
 * never waits on the network.
 */
import type { Logger } from '../../platform/index.js';
import type { ContentKeyGrant, KeyProvider } from './key-provider.js';

/** Periods fetched ahead of the one in use. */
const LOOKAHEAD = 2;

/** Keys by rotation period, loaded ahead. */
export class LiveKeyRing {
  private readonly keys = new Map<number, ContentKeyGrant>();
  private readonly loading = new Set<number>();
  private warnedMissing = -1;

  constructor(
    private readonly deps: { keys: KeyProvider; logger: Logger },
    /** Segments are numbered from the session's start (session media time ÷ segment target). */
    private readonly config: { mediaId: string; sessionId: string; rotationSegments: number },
  ) {}

  /** Loads the first periods' keys; packaging starts once this resolves. */
  async start(): Promise<void> {
    await this.load(0);
    this.prefetch(0);
  }

  /** Keys change during the session. */
  get rotates(): boolean {
    return this.config.rotationSegments > 0;
  }

  /** The rotation period of the session's segment number `index`. */
  periodOf(index: number): number {
    const n = this.config.rotationSegments;
    return n > 0 ? Math.max(0, Math.floor(index / n)) : 0;
  }

  /** The first key: the init segments' default KID and the MPD's. */
  get first(): ContentKeyGrant {
    const k = this.keys.get(0);
    if (!k) throw new Error('LiveKeyRing.start() first');
    return k;
  }

  /**
   * The key of the session's segment number `index`. Should its period's key not have arrived (a slow
   * key server), the latest earlier one is used, and the playlists say so through each segment's key ID.
   */
  keyFor(index: number): ContentKeyGrant {
    const period = this.periodOf(index);
    this.prefetch(period);
    for (let p = period; p >= 0; p--) {
      const k = this.keys.get(p);
      if (k) {
        if (p !== period && this.warnedMissing !== period) {
          this.warnedMissing = period;
          this.deps.logger.warn({ period, using: p }, 'the key of this rotation period has not arrived: keeping the previous key');
        }
        return k;
      }
    }
    return this.first;
  }

  private prefetch(period: number): void {
    for (let p = period + 1; p <= period + LOOKAHEAD; p++) {
      if (this.config.rotationSegments > 0 && !this.keys.has(p) && !this.loading.has(p)) void this.load(p).catch((err) => this.deps.logger.warn({ err, period: p }, 'fetching a rotation key failed: it is asked again later'));
    }
  }

  private async load(period: number): Promise<void> {
    this.loading.add(period);
    try {
      this.keys.set(period, await this.deps.keys.contentKey({ mediaId: this.config.mediaId, period: `${this.config.sessionId}:${period}` }));
      // Periods long past are dropped (the DVR window's segments are already sealed).
      for (const p of this.keys.keys()) if (p < period - 2 * LOOKAHEAD && p !== 0) this.keys.delete(p);
    } finally {
      this.loading.delete(period);
    }
  }
}
