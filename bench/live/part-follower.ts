/**
 * Follows one LL-HLS media playlist the way a low-latency player does: always a blocking reload for
 * the next part (`_HLS_msn`/`_HLS_part`, RFC 8216bis §6.2.5.2), and records when each part was first
 * listed at that URL.
 */
import { nextPart, parseMediaPlaylist, PartListingTracker, type PartObservation } from './playlist-timing.js';

/** What to follow and for how long. */
export interface PartFollowerConfig {
  /** Media playlist URL at the edge (no query). */
  url: string;
  /** Stop at this epoch ms. */
  untilMs: number;
  /** One blocking request gives up after this long (the origin answers 503 after its own hold time). */
  requestTimeoutMs?: number;
}

/** What a follower saw. */
export interface PartFollowerResult {
  url: string;
  partTarget: number | null;
  observations: PartObservation[];
  /** Blocking requests made, and how many did not return 200 (timeouts, 4xx/5xx). */
  requests: number;
  failedRequests: number;
  /** Playlists whose newest part was not the one asked for or later (the server answered early). */
  earlyAnswers: number;
}

/** Follows a media playlist with blocking reloads until `untilMs` or EXT-X-ENDLIST. */
export class PartFollower {
  private stopped = false;

  constructor(private readonly config: PartFollowerConfig) {}

  /** Runs the follow loop; resolves with every first-listing observation. */
  async run(): Promise<PartFollowerResult> {
    const { url, untilMs } = this.config;
    const tracker = new PartListingTracker();
    const result: PartFollowerResult = { url, partTarget: null, observations: tracker.observations, requests: 0, failedRequests: 0, earlyAnswers: 0 };
    let want: { msn: number; part: number } | null = null;
    while (!this.stopped && Date.now() < untilMs) {
      const target = want ? `${url}?_HLS_msn=${want.msn}&_HLS_part=${want.part}` : url;
      result.requests++;
      let text: string;
      try {
        const res = await fetch(target, { signal: AbortSignal.timeout(this.config.requestTimeoutMs ?? 10_000) });
        text = await res.text();
        if (res.status !== 200) throw new Error(`${res.status}`);
      } catch {
        // A 400 (asked too far ahead after a restart), 503 (hold timed out) or a timeout: start over
        // from a plain reload, like hls.js does.
        result.failedRequests++;
        want = null;
        await new Promise((r) => setTimeout(r, 100));
        continue;
      }
      const listedAtMs = Date.now();
      const playlist = parseMediaPlaylist(text);
      result.partTarget ??= playlist.partTarget;
      tracker.observe(playlist, listedAtMs);
      if (want && !listsAtLeast(playlist, want)) result.earlyAnswers++;
      if (playlist.ended) break;
      want = nextPart(playlist);
    }
    return result;
  }

  /** Ends the loop after the request in flight. */
  stop(): void {
    this.stopped = true;
  }
}

/** True when the playlist lists part `want` or anything after it (§6.2.5.2: the server held until then). */
function listsAtLeast(p: ReturnType<typeof parseMediaPlaylist>, want: { msn: number; part: number }): boolean {
  const last = p.parts[p.parts.length - 1];
  if (!last) return false;
  return last.msn > want.msn || (last.msn === want.msn && last.index >= want.part) || (p.preloadHint?.msn ?? -1) > want.msn;
}
