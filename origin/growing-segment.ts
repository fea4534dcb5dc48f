import type http from 'node:http';
import type { LiveView } from './live-view.js';
import type { HotObjects } from './hot-objects.js';
import { sendProblem } from './http-replies.js';

/** Completed media never changes (RFC 8216bis §6.2.2 recommends long caching for it). */
export const IMMUTABLE = 'public, max-age=31536000, immutable';

/** Which segment of which rendition, and how long to wait for each of its parts. */
export interface GrowingSegment {
  id: string;
  rendition: string;
  msn: number;
  timeoutMs: number;
}

/**
 * Streams the segment being produced as its parts complete (chunked), which is what DASH
 * availabilityTimeOffset promises low-latency players. Its bytes are the concatenation of its parts,
 * identical to the finished segment, so it is immutable all the same. A segment that stalls or whose
 * stream ends mid-way is cut short rather than held forever.
 */
export async function streamGrowingSegment(view: LiveView, hot: HotObjects, res: http.ServerResponse, seg: GrowingSegment): Promise<number> {
  const prefix = `live/${seg.id}/${seg.rendition}`;
  let written = 0;
  let part = 0;
  for (;;) {
    const s = await view.waitFor(seg.id, seg.rendition, (st) => st.current.msn > seg.msn || st.current.parts.length > part, seg.timeoutMs);
    if (!s || s.ended) {
      if (!res.headersSent) return sendProblem(res, 503, 'BLOCKING_TIMEOUT', `segment ${seg.msn} stalled`);
      res.destroy();
      return 200;
    }
    const complete = s.current.msn > seg.msn;
    if (!res.headersSent) res.writeHead(200, { 'Content-Type': 'video/iso.segment', 'Cache-Control': IMMUTABLE });
    if (complete) {
      // Complete now: send what the parts have not covered yet from the stored segment, then end.
      const whole = await hot.get(`${prefix}/seg-${seg.msn}.m4s`);
      if (!whole) {
        res.destroy();
        return 200;
      }
      res.end(whole.body.subarray(written));
      return 200;
    }
    const bytes = await hot.get(`${prefix}/part-${seg.msn}.${part}.m4s`);
    if (!bytes) {
      res.destroy();
      return 200;
    }
    res.write(bytes.body);
    written += bytes.body.length;
    part++;
  }
}
