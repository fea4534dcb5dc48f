import type { LiveState, Unsubscribe } from '../../platform/index.js';
import type { RenditionEvent, RenditionMeta, RenditionState, StreamState } from '../contract.js';
import { foldRenditionEvent, openRenditionState } from './rendition-fold.js';

/** Channel on which every change is announced (see CatalogChange for the message forms). */
const UPDATES = 'live.updates';
/** Catalog entries outlive the stream by this much, so late viewers still get ENDLIST playlists. */
const TTL_MS = 6 * 3600_000;
/** Part events kept per rendition: far more than the newest segments whose parts playlists list. */
const PART_LOG_LENGTH = 256;
/** A rendition's facts are re-stored this often, so a session longer than the ttl keeps them. */
const META_REFRESH_MS = TTL_MS / 4;

const streamKey = (streamId: string) => `live:${streamId}:stream`;
const metaKey = (streamId: string, rendition: string) => `live:${streamId}:r:${rendition}`;
/** Segment events (and `end`) in one log, part events in another, so parts can be trimmed far sooner. */
const logKey = (m: RenditionMeta, log: 's' | 'p') => `live:${m.streamId}:r:${m.rendition}:${m.epoch}:${log}`;

/** Segment events kept: the DVR window with room for segments shorter than the target. */
function segmentLogLength(m: RenditionMeta): number {
  return Math.ceil((1.5 * m.dvrWindowSeconds) / m.segmentTarget) + 32;
}

/** What a catalog publishes for a timeline: its facts, then its events in order. */
export interface PublishableTimeline {
  readonly meta: RenditionMeta;
  /** Events recorded and not yet acknowledged, oldest first. */
  pendingEvents(): readonly RenditionEvent[];
  /** Events up to n are stored and announced. */
  acknowledge(n: number): void;
}

/** A change the catalog announces. */
export type CatalogChange =
  /** Stream-level state changed (renditions, ended, dropped). */
  | { streamId: string; rendition: '*' }
  /** A rendition (re)opened, for the session `epoch`: read it afresh. */
  | { streamId: string; rendition: string; epoch: string; event?: undefined }
  /** An event was appended to a rendition's log. */
  | { streamId: string; rendition: string; epoch: string; event: RenditionEvent };

/** A rendition as read from the catalog: its facts and the fold of its log. */
export interface LoadedRendition {
  meta: RenditionMeta;
  state: RenditionState;
}

/**
 * Where the packager announces which parts exist and the origin finds them, on LiveState (Redis when
 * split). Each rendition is an append-only log of small events (contract.ts RenditionEvent), trimmed
 * to the DVR window, so publishing a part costs the same whatever the window; every notification
 * carries its event, so an origin that hears it in order reads nothing, and one that missed some reads
 * the log from where it was.
 */
export class LiveCatalog {
  private readonly opened = new WeakMap<PublishableTimeline, number>();
  /** Bytes this catalog has written to the shared state for renditions (keys, values, announcements). */
  publishedBytes = 0;

  constructor(private readonly state: LiveState) {}

  /** Records a session's stream-level state (renditions, targets). */
  async putStream(stream: StreamState): Promise<void> {
    await this.state.set(streamKey(stream.streamId), JSON.stringify(stream), TTL_MS);
    await this.state.notify(UPDATES, `${stream.streamId} *`);
  }

  async getStream(streamId: string): Promise<StreamState | null> {
    const raw = await this.state.get(streamKey(streamId));
    return raw ? (JSON.parse(raw) as StreamState) : null;
  }

  /**
   * Publishes what the timeline recorded: its facts first (once, and again before they could expire),
   * then each event, stored before it is announced. An event that fails to publish stays pending and
   * goes out with the next call.
   */
  async publish(t: PublishableTimeline): Promise<void> {
    const m = t.meta;
    const opened = this.opened.get(t);
    if (opened === undefined || Date.now() - opened > META_REFRESH_MS) {
      const key = metaKey(m.streamId, m.rendition);
      const value = JSON.stringify(m);
      await this.state.set(key, value, TTL_MS);
      if (opened === undefined) {
        const message = `${m.streamId} ${m.rendition} ${m.epoch}`;
        await this.state.notify(UPDATES, message);
        this.publishedBytes += message.length;
      }
      this.publishedBytes += key.length + value.length;
      this.opened.set(t, Date.now());
    }
    for (const ev of [...t.pendingEvents()]) {
      const data = JSON.stringify(ev);
      const part = ev.e === 'part';
      const key = logKey(m, part ? 'p' : 's');
      const message = `${m.streamId} ${m.rendition} ${m.epoch} ${data}`;
      await this.state.append(key, ev.n, data, {
        maxLen: part ? PART_LOG_LENGTH : segmentLogLength(m),
        ttlMs: TTL_MS,
        notify: { channel: UPDATES, message },
      });
      t.acknowledge(ev.n);
      this.publishedBytes += key.length + data.length + UPDATES.length + message.length;
    }
  }

  /** A rendition's facts and its state folded from the log, or null when it is not in the catalog. */
  async loadRendition(streamId: string, rendition: string): Promise<LoadedRendition | null> {
    const raw = await this.state.get(metaKey(streamId, rendition));
    if (!raw) return null;
    const meta = JSON.parse(raw) as RenditionMeta;
    const state = openRenditionState(meta);
    await this.catchUp(meta, state);
    return { meta, state };
  }

  /**
   * Folds the events logged after `state.seq` into it (both logs, in sequence order) and returns how
   * many were applied: how a reader that missed announcements heals without re-reading the window.
   */
  async catchUp(meta: RenditionMeta, state: RenditionState): Promise<number> {
    const after = state.seq;
    const [segs, parts] = await Promise.all([this.state.readLog(logKey(meta, 's'), after), this.state.readLog(logKey(meta, 'p'), after)]);
    let applied = 0;
    let i = 0;
    let j = 0;
    while (i < segs.length || j < parts.length) {
      const next = j >= parts.length || (i < segs.length && segs[i].seq < parts[j].seq) ? segs[i++] : parts[j++];
      if (foldRenditionEvent(state, JSON.parse(next.data) as RenditionEvent)) applied++;
    }
    return applied;
  }

  /**
   * The media sequence number after the last one any rendition of the stream's latest session used,
   * or undefined when the catalog holds none: a new session starts beyond it, so none of its URLs
   * (segments, parts, init) can be one an edge has cached, immutable, from an earlier session.
   */
  async nextMsn(streamId: string): Promise<number | undefined> {
    const stream = await this.getStream(streamId);
    let next: number | undefined;
    for (const name of stream?.expectedRenditions ?? []) {
      const r = await this.loadRendition(streamId, name);
      if (r) next = Math.max(next ?? 0, r.state.current.msn + 1);
    }
    return next;
  }

  /** Forgets a stream (deleted, or replaced by a new session). */
  async dropStream(streamId: string, renditions: string[]): Promise<void> {
    for (const r of renditions) await this.state.del(metaKey(streamId, r));
    await this.state.del(streamKey(streamId));
    await this.state.notify(UPDATES, `${streamId} *`);
  }

  /** Calls handler on every change announced by any process. */
  watch(handler: (change: CatalogChange) => void): Promise<Unsubscribe> {
    return this.state.listen(UPDATES, (msg) => {
      const change = parseChange(msg);
      if (change) handler(change);
    });
  }
}

/** `<streamId> *`, `<streamId> <rendition> <epoch>` or `<streamId> <rendition> <epoch> <event json>`. */
function parseChange(msg: string): CatalogChange | undefined {
  const a = msg.indexOf(' ');
  if (a <= 0) return undefined;
  const streamId = msg.slice(0, a);
  const b = msg.indexOf(' ', a + 1);
  if (b < 0) return msg.slice(a + 1) === '*' ? { streamId, rendition: '*' } : undefined;
  const rendition = msg.slice(a + 1, b);
  const c = msg.indexOf(' ', b + 1);
  if (c < 0) return { streamId, rendition, epoch: msg.slice(b + 1) };
  try {
    return { streamId, rendition, epoch: msg.slice(b + 1, c), event: JSON.parse(msg.slice(c + 1)) as RenditionEvent };
  } catch {
    return undefined;
  }
}
