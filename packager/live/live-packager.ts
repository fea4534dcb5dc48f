import type { BlobStore, Bus, Config, Logger, Registry, Unsubscribe } from '../../platform/index.js';
import type { KeyProvider } from '../crypto/key-provider.js';
import type { IngestTopics } from '../../ingest/index.js';
import type { PackagerTopics } from '../contract.js';
import type { LiveCatalog } from './live-catalog.js';
import { LiveSession, createLiveMetrics, type LiveMetrics } from './live-session.js';
import { writeRecording } from './recording.js';

/** The topics the live packager reads and writes. */
export type LivePackagerTopics = IngestTopics & PackagerTopics;

/** What the live packager runs with. */
export interface LivePackagerDeps {
  bus: Bus<LivePackagerTopics>;
  blobs: BlobStore;
  catalog: LiveCatalog;
  logger: Logger;
  metrics: Registry;
  /** Content keys of encrypted streams. */
  keys?: KeyProvider;
}

interface Entry {
  session: LiveSession;
  /** The publish session currently feeding it (a reconnect replaces it). */
  publishSessionId: string;
  grace?: NodeJS.Timeout;
}

/**
 * Turns ingest sessions into packaged live streams. A publish that ends starts the reconnect grace
 * window; a publish of the same stream inside it resumes the session, otherwise the session finishes
 * and its segments become a recording asset.
 */
export class LivePackager {
  private readonly live = new Map<string, Entry>();
  private readonly unsubs: Unsubscribe[] = [];
  private readonly log: Logger;
  private readonly metrics: LiveMetrics;
  private readonly finishing = new Set<Promise<void>>();
  private readonly failed = new WeakSet<LiveSession>();

  constructor(
    private readonly deps: LivePackagerDeps,
    private readonly config: Config,
  ) {
    this.log = deps.logger.child({ mod: 'packager' });
    this.metrics = createLiveMetrics(deps.metrics);
  }

  async start(): Promise<void> {
    // Work-sharing group: with several packager processes each publish is packaged exactly once.
    this.unsubs.push(await this.deps.bus.subscribe('ingest.stream.started', (m) => this.onStreamStarted(m), { group: 'packager' }));
    this.unsubs.push(await this.deps.bus.subscribe('ingest.stream.ended', (m) => this.onStreamEnded(m)));
  }

  /** Streams being packaged now. */
  get sessionCount(): number {
    return this.live.size;
  }

  async onStreamStarted(m: IngestTopics['ingest.stream.started']): Promise<void> {
    const entry = this.live.get(m.streamId);
    if (entry?.grace) {
      clearTimeout(entry.grace);
      entry.grace = undefined;
      entry.publishSessionId = m.sessionId;
      await entry.session.resume(m);
      return;
    }
    if (entry) {
      // Ingest refuses a second publisher of a live key, so this is a stale session: replace it.
      this.log.warn({ stream: m.streamId }, 'new publish while a session is active: finishing the old one');
      await this.finish(m.streamId);
    }
    const session = new LiveSession(
      {
        blobs: this.deps.blobs, catalog: this.deps.catalog, logger: this.deps.logger, metrics: this.metrics, keys: this.deps.keys,
        onFailed: (code, reason) => void this.onSessionFailed(m.streamId, session, code, reason),
      },
      this.config,
      m,
    );
    this.live.set(m.streamId, { session, publishSessionId: m.sessionId });
    try {
      await session.start();
      // A source that failed while starting (no video...) was already reported and ended.
      if (this.failed.has(session)) return;
      await this.deps.bus.publish('packager.session.started', { streamId: m.streamId, sessionId: session.sessionId, startedAtMs: session.startedAtMs });
    } catch (err) {
      await this.onSessionFailed(m.streamId, session, (err as { code?: string }).code ?? 'PACKAGER_START_FAILED', (err as Error).message);
    }
  }

  /** Reports a failed session (with a stable code for the creator) and ends it. */
  private async onSessionFailed(streamId: string, session: LiveSession, code: string, reason: string): Promise<void> {
    if (this.live.get(streamId)?.session !== session || this.failed.has(session)) return;
    this.failed.add(session);
    this.log.error({ stream: streamId, code, reason }, 'live session failed');
    await this.deps.bus.publish('packager.session.failed', { streamId, sessionId: session.sessionId, code, reason, atMs: Date.now() });
    await this.finish(streamId);
  }

  async onStreamEnded(m: IngestTopics['ingest.stream.ended']): Promise<void> {
    const entry = this.live.get(m.streamId);
    if (!entry || entry.publishSessionId !== m.sessionId || entry.grace) return;
    await entry.session.sourceEnded();
    const graceMs = this.config.live.reconnectGraceSeconds * 1000;
    entry.grace = setTimeout(() => void this.finish(m.streamId), graceMs);
  }

  /** Ends a session: final playlists, recording, events. */
  private finish(streamId: string): Promise<void> {
    const entry = this.live.get(streamId);
    if (!entry) return Promise.resolve();
    this.live.delete(streamId);
    clearTimeout(entry.grace);
    const job = (async () => {
      const { session } = entry;
      const pipelines = await session.finish();
      const endedAtMs = Date.now();
      await this.deps.bus.publish('packager.session.ended', { streamId, sessionId: session.sessionId, endedAtMs });
      try {
        const rec = await writeRecording(this.deps.blobs, session.streamState(), [...pipelines.values()], session.recordingId);
        if (rec) {
          await this.deps.bus.publish('packager.recording.ready', {
            streamId,
            sessionId: session.sessionId,
            assetId: rec.assetId,
            durationSeconds: rec.durationSeconds,
            startedAtMs: session.startedAtMs,
            endedAtMs,
          });
          this.log.info({ stream: streamId, asset: rec.assetId, duration: rec.durationSeconds }, 'recording ready');
        }
      } catch (err) {
        this.log.error({ err, stream: streamId }, 'recording failed');
      }
    })();
    this.finishing.add(job);
    return job.finally(() => this.finishing.delete(job));
  }

  async close(): Promise<void> {
    for (const u of this.unsubs) await u();
    await Promise.all([...this.live.keys()].map((id) => this.finish(id)));
    await Promise.all(this.finishing);
  }
}
