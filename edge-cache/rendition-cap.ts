/**
 * A plan's resolution cap at the edge: multivariant playlists and MPDs lose the video renditions
 * taller than the token's `maxh` (by the rule control-api names them in its `xr` claim:
 * renditionsOverCap), and requests into a left-out rendition are refused. One cached copy of the
 * manifest serves every cap; each capped form is derived from it once per entry.
 */
import { renditionsOverCap } from '../platform/index.js';
import { CacheEntry } from './cache-entry.js';

/** `/vod/{id}/master.m3u8`, `/live/{id}/manifest.mpd`: the manifests that list renditions. */
export function isRenditionList(key: string): boolean {
  return /^\/(live|vod)\/[^/]+\/(master\.m3u8|manifest\.mpd)$/.test(key);
}

/** The rendition a media path is of (`/vod/{id}/{rendition}/...`, or the download file `/vod/{id}/{rendition}.mp4`), if any. */
export function renditionOf(key: string): string | undefined {
  const m = /^\/(?:live|vod)\/[^/]+\/(?:([^/?]+)\/|([A-Za-z0-9_-]+)\.mp4$)/.exec(key);
  return m?.[1] ?? m?.[2];
}

/** An HLS multivariant playlist without the variants (and I-frame variants) taller than maxh. */
export function capHlsMultivariant(text: string, maxh: number): string {
  const lines = text.split('\n');
  const heightOf = (line: string) => Number(/RESOLUTION=\d+x(\d+)/.exec(line)?.[1] ?? NaN);
  const variants = lines.flatMap((l, i) => (l.startsWith('#EXT-X-STREAM-INF:') && Number.isFinite(heightOf(l)) ? [{ i, height: heightOf(l) }] : []));
  const frames = lines.flatMap((l, i) => (l.startsWith('#EXT-X-I-FRAME-STREAM-INF:') && Number.isFinite(heightOf(l)) ? [{ i, height: heightOf(l) }] : []));
  const drop = new Set<number>();
  for (const v of renditionsOverCap(variants, maxh)) drop.add(v.i).add(v.i + 1); // the tag and its URI line
  for (const f of renditionsOverCap(frames, maxh)) drop.add(f.i);
  return lines.filter((_, i) => !drop.has(i)).join('\n');
}

/** A DASH MPD without the video Representations taller than maxh. */
export function capMpd(text: string, maxh: number): string {
  const reps = [...text.matchAll(/[ \t]*<Representation\b[^>]*?\bheight="(\d+)"[^>]*?(?:\/>|>[\s\S]*?<\/Representation>)\r?\n?/g)].map((m) => ({ text: m[0], index: m.index!, height: Number(m[1]) }));
  let out = text;
  // From the end, so earlier indices stay valid.
  for (const r of renditionsOverCap(reps, maxh).sort((a, b) => b.index - a.index)) out = out.slice(0, r.index) + out.slice(r.index + r.text.length);
  return out;
}

/** Capped copies of manifest entries, per entry and cap, dropped with the entry. */
export class CappedManifests {
  private readonly derived = new WeakMap<CacheEntry, Map<number, CacheEntry>>();

  /** The entry as a viewer capped at maxh gets it (the entry itself when nothing is left out or it is not a 200). */
  of(entry: CacheEntry, maxh: number): CacheEntry {
    if (entry.status !== 200) return entry;
    let byCap = this.derived.get(entry);
    const known = byCap?.get(maxh);
    if (known) return known;
    const text = entry.body.toString('utf8');
    const capped = entry.key.endsWith('.mpd') ? capMpd(text, maxh) : capHlsMultivariant(text, maxh);
    const out = capped === text ? entry : CacheEntry.derivedFrom(entry, Buffer.from(capped, 'utf8'));
    if (!byCap) this.derived.set(entry, (byCap = new Map()));
    byCap.set(maxh, out);
    return out;
  }
}
