/**
 * Common Media Client Data (CTA-5004, v1 and v2 keys): what players tell the edge about themselves on
 * every request, in the `CMCD` query parameter or the `CMCD-Request`, `CMCD-Object`, `CMCD-Status`
 * and `CMCD-Session` headers (hls.js, dash.js and shaka-player send them when enabled). Parsed
 * strictly: unknown keys are ignored, values of the wrong type or out of range are dropped, and the
 * whole input is capped, so a hostile client costs a bounded parse and moves no metric it should not.
 */
import type http from 'node:http';
import { Counter, Histogram, type Registry } from 'prom-client';

/** The keys this edge reads (others are ignored). Bitrates in kbps and times in ms, as sent. */
export interface Cmcd {
  /** Encoded bitrate of the requested object, kbps. */
  br?: number;
  /** Buffer length, ms. */
  bl?: number;
  /** Buffer starvation since the last request. */
  bs?: boolean;
  /** Content id. */
  cid?: string;
  /** Object duration, ms. */
  d?: number;
  /** Deadline, ms. */
  dl?: number;
  /** Measured throughput, kbps. */
  mtp?: number;
  /** Object type: m(anifest), a(udio), v(ideo), av, i(nit), c(aption), tt (timed text), k(ey), o(ther). */
  ot?: string;
  /** Playback rate. */
  pr?: number;
  /** Requested maximum throughput, kbps. */
  rtp?: number;
  /** Streaming format: d(ash), h(ls), s(mooth), o(ther). */
  sf?: string;
  /** Session id. */
  sid?: string;
  /** Stream type: v(od), l(ive). */
  st?: string;
  /** Startup: the object is needed urgently for startup, seek or recovery. */
  su?: boolean;
  /** Top bitrate available to the client, kbps. */
  tb?: number;
  /** CMCD version (absent = 1). */
  v?: number;
}

const MAX_INPUT = 2048;
const MAX_STRING = 64;
const MAX_INT = 2_000_000_000;
const INTEGER_KEYS = new Set(['br', 'bl', 'd', 'dl', 'mtp', 'rtp', 'tb', 'v']);
const STRING_KEYS = new Set(['cid', 'sid']);
const TOKENS: Record<string, ReadonlySet<string>> = {
  ot: new Set(['m', 'a', 'v', 'av', 'i', 'c', 'tt', 'k', 'o']),
  sf: new Set(['d', 'h', 's', 'o']),
  st: new Set(['v', 'l']),
};
const BOOLEAN_KEYS = new Set(['bs', 'su']);

/** Adds the keys of one CMCD list (`br=3200,bs,ot=v,sid="6e2f..."`) to `into`. */
export function parseCmcdList(text: string, into: Cmcd): void {
  if (text.length > MAX_INPUT) return;
  let i = 0;
  while (i < text.length) {
    // One key[=value], the value a quoted string (with \" and \\ escapes) or a bare token/number.
    let end = i;
    let quoted = false;
    while (end < text.length && (quoted || text[end] !== ',')) {
      if (text[end] === '"' ) quoted = !quoted;
      else if (quoted && text[end] === '\\') end++;
      end++;
    }
    const item = text.slice(i, end).trim();
    i = end + 1;
    if (!item) continue;
    const eq = item.indexOf('=');
    const key = eq < 0 ? item : item.slice(0, eq);
    const raw = eq < 0 ? undefined : item.slice(eq + 1);
    if (!/^[a-z]{1,4}$/.test(key)) continue;
    const rec = into as Record<string, unknown>;
    if (BOOLEAN_KEYS.has(key)) {
      if (raw === undefined || raw === 'true') rec[key] = true;
      else if (raw === 'false') rec[key] = false;
    } else if (INTEGER_KEYS.has(key)) {
      if (raw !== undefined && /^\d{1,10}$/.test(raw) && Number(raw) <= MAX_INT) rec[key] = Number(raw);
    } else if (key === 'pr') {
      if (raw !== undefined && /^\d{1,3}(\.\d{1,3})?$/.test(raw)) rec[key] = Number(raw);
    } else if (STRING_KEYS.has(key)) {
      if (raw !== undefined && raw.length >= 2 && raw.startsWith('"') && raw.endsWith('"')) {
        const s = raw.slice(1, -1).replace(/\\(.)/g, '$1');
        if (s.length <= MAX_STRING) rec[key] = s;
      }
    } else if (TOKENS[key]) {
      if (raw !== undefined && TOKENS[key].has(raw)) rec[key] = raw;
    }
  }
}

const HEADERS = ['cmcd-request', 'cmcd-object', 'cmcd-status', 'cmcd-session'] as const;

/** The CMCD of a request (query parameter and headers together), or undefined when it carries none. */
export function cmcdOf(url: string, headers: http.IncomingHttpHeaders): Cmcd | undefined {
  let out: Cmcd | undefined;
  const q = url.indexOf('CMCD=');
  if (q > 0 && (url[q - 1] === '?' || url[q - 1] === '&')) {
    const end = url.indexOf('&', q);
    const raw = url.slice(q + 5, end < 0 ? undefined : end);
    try {
      const text = decodeURIComponent(raw.replace(/\+/g, ' '));
      out = {};
      parseCmcdList(text, out);
    } catch {
      // Malformed percent-encoding: nothing is read.
    }
  }
  for (const name of HEADERS) {
    const v = headers[name];
    if (typeof v === 'string') parseCmcdList(v, (out ??= {}));
  }
  return out;
}

/**
 * What CMCD tells the edge, as Prometheus series: requests by object type, buffer starvation and
 * startup requests, and buffer length, measured throughput and encoded bitrate histograms. Session
 * and content ids never become labels.
 */
export class CmcdMetrics {
  private readonly requests: Counter<'ot'>;
  private readonly starvation: Counter;
  private readonly startup: Counter;
  private readonly buffer: Histogram;
  private readonly throughput: Histogram;
  private readonly bitrate: Histogram;

  constructor(registry: Registry) {
    const registers = [registry];
    this.requests = new Counter({ name: 'edge_cmcd_requests_total', help: 'Requests carrying CMCD, by object type (ot; "unknown" when not sent)', labelNames: ['ot'], registers });
    this.starvation = new Counter({ name: 'edge_cmcd_buffer_starvation_total', help: 'Requests whose player reports a buffer starvation since its last request (bs)', registers });
    this.startup = new Counter({ name: 'edge_cmcd_startup_requests_total', help: 'Requests a player needs urgently for startup, seek or recovery (su)', registers });
    this.buffer = new Histogram({ name: 'edge_cmcd_buffer_length_seconds', help: 'Players’ buffer length when they request media (bl)', buckets: [0.5, 1, 2, 4, 8, 15, 30, 60], registers });
    this.throughput = new Histogram({ name: 'edge_cmcd_measured_throughput_bits_per_second', help: 'Throughput players measure (mtp)', buckets: [5e5, 1e6, 2e6, 4e6, 8e6, 16e6, 32e6, 64e6, 128e6], registers });
    this.bitrate = new Histogram({ name: 'edge_cmcd_encoded_bitrate_bits_per_second', help: 'Encoded bitrate of the media objects players request (br)', buckets: [2e5, 5e5, 1e6, 2e6, 3e6, 5e6, 8e6, 16e6], registers });
    for (const ot of ['m', 'a', 'v', 'av', 'i', 'c', 'tt', 'k', 'o', 'unknown']) this.requests.inc({ ot }, 0);
  }

  observe(c: Cmcd): void {
    this.requests.inc({ ot: c.ot ?? 'unknown' });
    if (c.bs) this.starvation.inc();
    if (c.su) this.startup.inc();
    if (c.bl !== undefined) this.buffer.observe(c.bl / 1000);
    if (c.mtp !== undefined) this.throughput.observe(c.mtp * 1000);
    if (c.br !== undefined && (c.ot === 'v' || c.ot === 'av' || c.ot === 'a')) this.bitrate.observe(c.br * 1000);
  }
}
