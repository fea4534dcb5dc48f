import { LRUCache } from 'lru-cache';
import { verifyPlaybackToken } from '../platform/index.js';

export { signPlaybackToken } from '../platform/index.js';

/** Outcome of a playback authorization check; anything but 'ok' is refused. */
export type AuthVerdict = 'ok' | 'missing' | 'invalid' | 'expired' | 'wrong-subject';

/** HTTP status and problem code per refused verdict (RFC 6750 §3.1). */
export const VERDICT_RESPONSE: Record<Exclude<AuthVerdict, 'ok'>, { status: 401 | 403; code: string; detail: string }> = {
  missing: { status: 401, code: 'PLAYBACK_TOKEN_REQUIRED', detail: 'this media needs a playback token (?token= or Authorization: Bearer)' },
  invalid: { status: 403, code: 'PLAYBACK_TOKEN_INVALID', detail: 'the playback token is malformed or its signature does not verify' },
  expired: { status: 403, code: 'PLAYBACK_TOKEN_EXPIRED', detail: 'the playback token has expired' },
  'wrong-subject': { status: 403, code: 'PLAYBACK_TOKEN_WRONG_MEDIA', detail: 'the playback token was issued for other media' },
};

interface Verified {
  sub: string;
  expMs: number;
  /** The plan's resolution cap and the renditions it leaves out, when the token has one. */
  cap?: RenditionCap;
}

/** What a capped token allows: renditions up to `maxh` lines; `excluded` (folder names) are refused. */
export interface RenditionCap {
  maxh: number;
  excluded: ReadonlySet<string>;
}

/**
 * Verifies playback tokens with an explicit algorithm allow-list. A player sends the same token with
 * every part and playlist, so verified tokens are memoised (bounded LRU) and a repeat costs a map
 * look-up and two comparisons instead of an HMAC and a JSON parse. Only valid tokens are memoised.
 */
export class PlaybackAuth {
  private readonly memo = new LRUCache<string, Verified>({ max: 10_000 });

  constructor(private readonly key: string) {
    if (!key) throw new Error('playback signing key is empty');
  }

  /** The resolution cap of a token that check() accepted (undefined without one). */
  capOf(token: string): RenditionCap | undefined {
    return this.memo.get(token)?.cap;
  }

  /** Checks that `token` is a valid, unexpired token for `mediaId`. */
  check(mediaId: string, token: string | undefined, nowMs = Date.now()): AuthVerdict {
    if (!token) return 'missing';
    let v = this.memo.get(token);
    if (!v) {
      const verified = this.verify(token);
      if (typeof verified === 'string') return verified;
      v = verified;
      this.memo.set(token, v);
    }
    if (v.expMs <= nowMs) {
      this.memo.delete(token);
      return 'expired';
    }
    return v.sub === mediaId ? 'ok' : 'wrong-subject';
  }

  private verify(token: string): Verified | 'invalid' | 'expired' {
    const v = verifyPlaybackToken(this.key, token);
    if (typeof v === 'string') return v;
    return { sub: v.sub, expMs: v.expMs, ...(v.maxh ? { cap: { maxh: v.maxh, excluded: new Set(v.xr ?? []) } } : {}) };
  }
}
