import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { type Config, type Logger, migrate, type Unsubscribe } from '../platform/index.js';
import type { PublishAuthorizer, PublishMeta } from '../ingest/contract.js';
import type { PackagerTopics } from '../packager/contract.js';
import { buildControlApi, createServices, type ControlApiDeps } from './app.js';
import { RECS_QUEUE } from './contract.js';
import type {
  AssetStatus, AssetView, LiveStreamControl, LiveStreamStatus, MediaPolicy, PublishAuthorization, RecordingAssetInput,
} from './contract.js';
import { controlApiMigrations } from './migrations.js';
import type { Services } from './http/route-context.js';
import type { ContentKeyGrant, KeyProvider, KeyRequest } from '../packager/contract.js';

/** Consumer group: with several control-api processes, each event is handled once. */
const GROUP = 'control-api';

/**
 * The control-api service: migrates, listens on config.ports.api, and keeps stream status and
 * recordings in step with the live pipeline, both from bus events and through direct calls
 * (in one-process mode ingest calls `authorize` here; split, it uses the /internal HTTP routes).
 */
export class ControlApiServer implements LiveStreamControl, PublishAuthorizer, KeyProvider {
  private readonly services: Services;
  private readonly logger: Logger;
  private app?: FastifyInstance;
  private readonly unsubscribes: Unsubscribe[] = [];
  private listening = false;
  private expiryTimer?: NodeJS.Timeout;
  private recsTimer?: NodeJS.Timeout;

  constructor(
    private readonly deps: ControlApiDeps,
    private readonly config: Config,
  ) {
    this.services = createServices(deps, config);
    this.logger = deps.logger.child({ mod: 'control-api' });
  }

  /** Applies migrations, subscribes to pipeline events, then listens. */
  async start(): Promise<void> {
    const applied = await migrate(this.deps.sql, controlApiMigrations);
    if (applied.length) this.logger.info({ applied }, 'migrations applied');
    // Edges learn which media need signed playback from the shared live state (republished every minute).
    await this.services.policies.start();
    await this.subscribe();
    const ready = this.deps.ready;
    this.app = await buildControlApi({ ...this.deps, services: this.services, ready: async () => this.listening && (ready ? await ready() : true) }, this.config);
    // Unfinished uploads past their expiry are marked timed_out and their bytes removed.
    this.expiryTimer = setInterval(() => void this.services.uploads.expire().catch((err: unknown) => this.logger.warn({ err }, 'expiring uploads failed')), 60_000);
    this.expiryTimer.unref();
    await this.scheduleRecommendations();
    await this.app.listen({ port: this.config.ports.api, host: this.config.bindHost });
    this.listening = true;
    this.logger.info({ url: this.url }, 'control-api listening');
  }

  /**
   * Works the recommendation queue and asks for a refresh every minute: pg-boss's singleton window
   * (RECS_REFRESH_MINUTES) lets one job through per window across every control-api process.
   */
  private async scheduleRecommendations(): Promise<void> {
    const jobs = this.deps.jobs;
    if (!jobs) return;
    await jobs.createQueue(RECS_QUEUE, { retryLimit: 2, retryDelaySeconds: 60, timeoutSeconds: this.config.recommendations.timeoutSeconds });
    await jobs.work(RECS_QUEUE, { concurrency: 1, pollingIntervalSeconds: 5 }, async (job) => {
      await this.services.engagement.recommendations.refresh(job.signal);
    });
    const request = () =>
      void jobs
        .send(RECS_QUEUE, {}, { singletonKey: 'recs-scheduled', singletonSeconds: this.config.recommendations.refreshMinutes * 60 })
        .catch((err: unknown) => this.logger.warn({ err }, 'scheduling recommendations failed'));
    request();
    this.recsTimer = setInterval(request, 60_000);
    this.recsTimer.unref();
  }

  /** `http://host:port` actually bound (useful with port 0), once started. */
  get url(): string | undefined {
    const addr = this.app?.server.address() as AddressInfo | null | undefined;
    if (!addr) return undefined;
    const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
    return `http://${host === '0.0.0.0' || host === '[::]' ? '127.0.0.1' : host}:${addr.port}`;
  }

  /** Stops listening (in-flight requests finish) and unsubscribes; the ports it was given stay open. */
  async close(): Promise<void> {
    this.listening = false;
    clearInterval(this.expiryTimer);
    clearInterval(this.recsTimer);
    this.services.policies.close();
    await Promise.allSettled(this.unsubscribes.splice(0).map((u) => u()));
    await this.app?.close();
  }

  /** The packager's KeyProvider, answered in process: the content key of (media, period). */
  contentKey(req: KeyRequest): Promise<ContentKeyGrant> {
    return this.services.keys.contentKey(req);
  }

  /** The playback policy of a stream or asset, from the database (for edges that found no entry). */
  playbackPolicy(mediaId: string): Promise<MediaPolicy> {
    return this.services.policies.policyOf(mediaId);
  }

  /** May this stream key publish now? */
  authorizePublish(streamKey: string): Promise<PublishAuthorization> {
    return this.services.liveStreams.authorizePublish(streamKey);
  }

  /** ingest's PublishAuthorizer port, answered in process. */
  async authorize(streamKey: string, meta: PublishMeta): Promise<PublishAuthorization> {
    const decision = await this.authorizePublish(streamKey);
    if (!decision.ok) this.logger.info({ remoteAddress: meta.remoteAddress, reason: decision.reason }, 'publish refused');
    return decision;
  }

  /** Records a status reported by the live pipeline; false when the stream does not exist. */
  setStreamStatus(streamId: string, status: LiveStreamStatus): Promise<boolean> {
    return this.services.liveStreams.setStatus(streamId, status);
  }

  /** Registers a recording as an asset of the stream's account; undefined when the stream is gone. */
  createRecordingAsset(input: RecordingAssetInput): Promise<AssetView | undefined> {
    return this.services.assets.createRecording(input);
  }

  /** Updates an asset's processing state; false when the asset does not exist. */
  setAssetStatus(assetId: string, status: AssetStatus, durationSeconds?: number): Promise<boolean> {
    return this.services.assets.setStatus(assetId, status, durationSeconds);
  }

  /** ingest and packager events drive stream status and recordings. */
  private async subscribe(): Promise<void> {
    const bus = this.deps.bus;
    if (!bus) return;
    this.unsubscribes.push(
      await bus.subscribe('ingest.stream.started', (m) => this.onStatus(m.streamId, 'live'), { group: GROUP }),
      await bus.subscribe('ingest.stream.ended', (m) => this.services.liveStreams.setPublisherGone(m.streamId).then(() => undefined), { group: GROUP }),
      await bus.subscribe(
        'ingest.stream.stats',
        (m) =>
          this.services.liveStreams.publisherSeen(m.streamId, {
            bitrateKbps: Math.round(m.bitrateKbps),
            fps: Math.round(m.fps * 10) / 10,
            droppedFrames: m.droppedFrames,
            at: new Date(m.atMs).toISOString(),
          }),
        { group: GROUP },
      ),
      await bus.subscribe('packager.session.started', (m) => this.services.liveStreams.setLastError(m.streamId, null).then(() => undefined), { group: GROUP }),
      await bus.subscribe(
        'packager.session.failed',
        (m) => this.services.liveStreams.setLastError(m.streamId, { code: m.code, message: m.reason, at: new Date(m.atMs).toISOString() }).then(() => undefined),
        { group: GROUP },
      ),
      // The session ends after the packager's reconnect grace window, not when the publisher drops.
      await bus.subscribe('packager.session.ended', (m) => this.onStatus(m.streamId, 'ended'), { group: GROUP }),
      await bus.subscribe('packager.recording.ready', (m) => this.onRecordingReady(m), { group: GROUP }),
      await bus.subscribe('vod.asset.progress', (m) => this.services.assets.onProgress(m), { group: GROUP }),
      await bus.subscribe('vod.asset.ready', (m) => this.onAssetDone(m.assetId, () => this.services.assets.onReady(m)), { group: GROUP }),
      await bus.subscribe('vod.asset.captions', (m) => this.services.assets.onCaptions(m), { group: GROUP }),
      await bus.subscribe(
        'vod.asset.errored',
        (m) => this.onAssetDone(m.assetId, () => this.services.assets.setErrored(m.assetId, { code: m.code, message: m.message }), { code: m.code, message: m.message }),
        { group: GROUP },
      ),
    );
  }

  private async onStatus(streamId: string, status: LiveStreamStatus): Promise<void> {
    const before = status === 'live' ? await this.services.liveStreams.summary(streamId) : undefined;
    if (!(await this.setStreamStatus(streamId, status))) {
      this.logger.warn({ streamId, status }, 'status for unknown stream');
      return;
    }
    // A reconnect inside the grace window finds the stream still live: followers hear of a session once.
    if (before && before.status !== 'live') await this.services.engagement.notifications.creatorWentLive(before);
  }

  /** A transcode finished (or failed): record it, then tell the uploader. */
  private async onAssetDone(assetId: string, record: () => Promise<unknown>, error?: { code: string; message: string }): Promise<void> {
    await record();
    const owner = await this.services.assets.ownerOf(assetId);
    if (!owner?.uploadId) return;
    await this.services.engagement.notifications.notify(owner.accountId, error ? 'upload.failed' : 'upload.ready', { assetId, title: owner.title, ...(error ?? {}) });
  }

  private async onRecordingReady(m: PackagerTopics['packager.recording.ready']): Promise<void> {
    const asset = await this.createRecordingAsset({
      id: m.assetId, liveStreamId: m.streamId, status: 'ready', durationSeconds: m.durationSeconds,
    });
    if (!asset) this.logger.warn({ streamId: m.streamId, assetId: m.assetId }, 'recording of unknown stream');
    else if (asset.status !== 'ready') await this.setAssetStatus(asset.id, 'ready', m.durationSeconds);
  }
}
