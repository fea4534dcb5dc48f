import type { LiveState, Unsubscribe } from '../../platform/index.js';
import type { RenditionState, StreamState } from '../contract.js';

/** Channel on which every rendition change is announced, as "<streamId> <rendition>". */
const UPDATES = 'live.updates';
/** Catalog entries outlive the stream by this much, so late viewers still get ENDLIST playlists. */
const TTL_MS = 6 * 3600_000;

const streamKey = (streamId: string) => `live:${streamId}:stream`;
const renditionKey = (streamId: string, rendition: string) => `live:${streamId}:r:${rendition}`;

/**
 * Where the packager announces which parts exist and the origin finds them. Backed by LiveState, so
 * with Redis a part announced by one packager is visible to every origin process at once.
 */
export class LiveCatalog {
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

  /** Stores a rendition's state, then announces it: storage first, then the announcement. */
  async putRendition(r: RenditionState): Promise<void> {
    await this.state.set(renditionKey(r.streamId, r.rendition), JSON.stringify(r), TTL_MS);
    await this.state.notify(UPDATES, `${r.streamId} ${r.rendition}`);
  }

  async getRendition(streamId: string, rendition: string): Promise<RenditionState | null> {
    const raw = await this.state.get(renditionKey(streamId, rendition));
    return raw ? (JSON.parse(raw) as RenditionState) : null;
  }

  /** Forgets a stream (deleted, or replaced by a new session). */
  async dropStream(streamId: string, renditions: string[]): Promise<void> {
    for (const r of renditions) await this.state.del(renditionKey(streamId, r));
    await this.state.del(streamKey(streamId));
    await this.state.notify(UPDATES, `${streamId} *`);
  }

  /** Calls handler(streamId, rendition) on every change; rendition "*" means stream-level state. */
  watch(handler: (streamId: string, rendition: string) => void): Promise<Unsubscribe> {
    return this.state.listen(UPDATES, (msg) => {
      const i = msg.indexOf(' ');
      if (i > 0) handler(msg.slice(0, i), msg.slice(i + 1));
    });
  }
}
