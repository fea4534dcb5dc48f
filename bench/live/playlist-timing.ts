/**
 * Pure helpers of the part-listing benchmark: read an LL-HLS media playlist into its parts with the
 * wall-clock time each part's last frame was pushed (from EXT-X-PROGRAM-DATE-TIME), and remember when
 * each part was first seen at the playback URL. Delay = first listed − last frame pushed.
 */

/** One EXT-X-PART of a media playlist and when its last frame was pushed. */
export interface ListedPart {
  msn: number;
  /** Index of the part within its parent segment. */
  index: number;
  /** Seconds (EXT-X-PART DURATION). */
  duration: number;
  uri: string;
  independent: boolean;
  /**
   * Epoch ms when the part's last frame was pushed: PDT of the parent segment + the durations of the
   * parts before it in that segment + its own duration; null when the segment has no PDT.
   */
  endMs: number | null;
}

/** What the benchmark needs of a media playlist. */
export interface MediaPlaylistTiming {
  /** EXT-X-PART-INF PART-TARGET, seconds; null without one. */
  partTarget: number | null;
  mediaSequence: number;
  parts: ListedPart[];
  /** The part named by EXT-X-PRELOAD-HINT TYPE=PART: the next one the server will list. */
  preloadHint: { msn: number; index: number; uri: string } | null;
  /** EXT-X-ENDLIST seen. */
  ended: boolean;
}

/** Attributes of a tag line (`KEY=VALUE,KEY="quoted, value"`), RFC 8216bis §4.2. */
export function tagAttributes(line: string): Record<string, string> {
  const out: Record<string, string> = {};
  const body = line.slice(line.indexOf(':') + 1);
  const re = /([A-Z0-9-]+)=("[^"]*"|[^,]*)/g;
  for (let m = re.exec(body); m; m = re.exec(body)) out[m[1]] = m[2].startsWith('"') ? m[2].slice(1, -1) : m[2];
  return out;
}

/**
 * Parses the tags the benchmark uses. A segment without its own PDT continues from the previous one
 * (§4.4.4.6: PDT + EXTINF durations), and parts after the last EXTINF belong to the open segment.
 */
export function parseMediaPlaylist(text: string): MediaPlaylistTiming {
  const out: MediaPlaylistTiming = { partTarget: null, mediaSequence: 0, parts: [], preloadHint: null, ended: false };
  let msn = 0;
  let partIndex = 0;
  let segmentPdt: number | null = null;
  let elapsedInSegment = 0;
  let segmentDuration: number | null = null;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line) continue;
    if (line.startsWith('#EXT-X-MEDIA-SEQUENCE:')) {
      out.mediaSequence = Number(line.slice(22));
      msn = out.mediaSequence;
    } else if (line.startsWith('#EXT-X-PART-INF:')) {
      out.partTarget = Number(tagAttributes(line)['PART-TARGET']);
    } else if (line.startsWith('#EXT-X-SKIP:')) {
      // Delta update (§6.2.5.1): skipped segments carry no timing we could use.
      msn += Number(tagAttributes(line)['SKIPPED-SEGMENTS'] ?? 0);
      segmentPdt = null;
    } else if (line.startsWith('#EXT-X-PROGRAM-DATE-TIME:')) {
      const t = Date.parse(line.slice(25));
      segmentPdt = Number.isFinite(t) ? t : null;
    } else if (line.startsWith('#EXT-X-PART:')) {
      const a = tagAttributes(line);
      const duration = Number(a.DURATION);
      elapsedInSegment += duration;
      out.parts.push({
        msn,
        index: partIndex++,
        duration,
        uri: a.URI ?? '',
        independent: a.INDEPENDENT === 'YES',
        endMs: segmentPdt === null ? null : segmentPdt + elapsedInSegment * 1000,
      });
    } else if (line.startsWith('#EXT-X-PRELOAD-HINT:')) {
      const a = tagAttributes(line);
      if (a.TYPE === 'PART') out.preloadHint = { msn, index: partIndex, uri: a.URI ?? '' };
    } else if (line.startsWith('#EXTINF:')) {
      segmentDuration = Number.parseFloat(line.slice(8));
    } else if (line === '#EXT-X-ENDLIST') {
      out.ended = true;
    } else if (!line.startsWith('#')) {
      // A segment URI closes the segment; the next one starts where this one ended.
      if (segmentPdt !== null && segmentDuration !== null) segmentPdt += segmentDuration * 1000;
      msn++;
      partIndex = 0;
      elapsedInSegment = 0;
      segmentDuration = null;
    }
  }
  return out;
}

/** The part to ask for next with a blocking reload: the preload hint, else the one after the last listed. */
export function nextPart(p: MediaPlaylistTiming): { msn: number; part: number } | null {
  if (p.preloadHint) return { msn: p.preloadHint.msn, part: p.preloadHint.index };
  const last = p.parts[p.parts.length - 1];
  return last ? { msn: last.msn, part: last.index + 1 } : null;
}

/** A part seen for the first time, with its listing delay. */
export interface PartObservation {
  msn: number;
  index: number;
  duration: number;
  /** Epoch ms the last frame was pushed (see {@link ListedPart.endMs}). */
  endMs: number;
  /** Epoch ms the playlist that first listed it was received. */
  listedAtMs: number;
  /** listedAtMs − endMs, milliseconds. */
  delayMs: number;
}

/**
 * Remembers which parts have been listed. The first playlist is the baseline (its parts were listed
 * at unknown earlier times, so they are not observations); every later part is observed once, at the
 * time the first playlist that lists it arrived.
 */
export class PartListingTracker {
  private readonly seen = new Set<string>();
  private baseline = true;
  readonly observations: PartObservation[] = [];

  /** Feeds a playlist received at `atMs`; returns the parts it listed for the first time. */
  observe(playlist: MediaPlaylistTiming, atMs: number): PartObservation[] {
    const fresh: PartObservation[] = [];
    for (const p of playlist.parts) {
      const key = `${p.msn}.${p.index}`;
      if (this.seen.has(key)) continue;
      this.seen.add(key);
      if (this.baseline || p.endMs === null) continue;
      fresh.push({ msn: p.msn, index: p.index, duration: p.duration, endMs: p.endMs, listedAtMs: atMs, delayMs: atMs - p.endMs });
    }
    this.baseline = false;
    this.observations.push(...fresh);
    return fresh;
  }
}

/** p50/p95/max/mean/min of a sample set. */
export interface Summary {
  count: number;
  p50: number;
  p95: number;
  max: number;
  min: number;
  mean: number;
}

/** Nearest-rank percentile (`q` in 0..100) of an ascending array; NaN when empty. */
export function percentile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((q / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

/** Summary of `samples` (not modified); NaN fields when empty. */
export function summarize(samples: readonly number[]): Summary {
  const s = [...samples].sort((a, b) => a - b);
  const mean = s.length ? s.reduce((a, b) => a + b, 0) / s.length : NaN;
  return { count: s.length, p50: percentile(s, 50), p95: percentile(s, 95), max: s.length ? s[s.length - 1] : NaN, min: s.length ? s[0] : NaN, mean };
}
