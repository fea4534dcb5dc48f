import type { RenditionState } from '../packager/index.js';

/**
 * RFC 8216bis §6.2.5.2 for blocking requests, as pure functions of a rendition's state.
 */

/** The Advance Part Limit: three divided by the part target when it is under a second, else three. */
export function advancePartLimit(partTarget: number): number {
  return partTarget < 1 ? 3 / partTarget : 3;
}

/**
 * Whether the playlist already has what (msn, part) asks for: the whole segment `msn` when part is
 * absent, else that part. A part index beyond the last part of a complete segment means part 0 of the
 * following segment (§6.2.5.2), so a player that asked for "the part after the last" is answered when
 * that part exists, not when the segment closes.
 */
export function hasPart(s: RenditionState, msn: number, part?: number): boolean {
  const cur = s.current;
  if (part === undefined) return cur.msn > msn;
  if (cur.msn === msn) return cur.parts.length > part;
  if (cur.msn < msn) return false;
  let count: number | undefined;
  for (let i = s.segments.length - 1; i >= 0; i--) {
    if (s.segments[i].msn === msn) {
      count = s.segments[i].parts?.length;
      break;
    }
    if (s.segments[i].msn < msn) break;
  }
  // Old segments have dropped their part list: whatever part of them was asked for is long out.
  if (count === undefined || part < count) return true;
  return hasPart(s, msn + 1, 0);
}

/**
 * §6.2.5.2: a request is answered 400 when `_HLS_msn` is more than two past the last complete segment,
 * or `_HLS_part` is further past the last listed part than the Advance Part Limit. Parts of segments not
 * yet started count at the playlist's parts per segment.
 */
export function tooFarAhead(s: RenditionState, msn: number, part?: number): boolean {
  const cur = s.current;
  const lastComplete = s.segments.at(-1)?.msn ?? cur.msn - 1;
  if (msn > lastComplete + 2) return true;
  if (part === undefined || msn < cur.msn) return false;
  const lastIndex = cur.parts.length - 1;
  const perSegment = Math.max(1, Math.round(s.targetDuration / s.partTarget));
  const ahead = msn === cur.msn ? part - lastIndex : perSegment - 1 - lastIndex + (msn - cur.msn - 1) * perSegment + part + 1;
  return ahead > advancePartLimit(s.partTarget) + 1e-9;
}
