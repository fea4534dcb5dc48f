/**
 * The VOD worker: takes transcode jobs from the durable queue (pg-boss), validates the upload,
 * chooses its per-title ladder, packages it, and reports progress, readiness or a refusal on the bus
 * for control-api. At-least-once: a retried job rewrites the same keys, so it is idempotent.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { BlobStore, Bus, Config, Job, JobQueue, Logger } from '../../platform/index.js';
import { VOD_CAPTIONS_QUEUE, VOD_QUEUE, type PackagerTopics, type VodCaptionsJob, type VodJob, type VodTracks } from '../contract.js';
import { inspectSource, VodError } from './inspect.js';
import { perTitleLadder } from './per-title.js';
import { makeThumbnails, type VodThumbnails } from './thumbnails.js';
import { packageVod, readVodPackage, writeVodManifests, PACKAGE_NAME, vodRoot, type VodEncryption, type VodPackaged } from './vod-packager.js';
import { encryptionInfoFor, type KeyProvider } from '../crypto/key-provider.js';

/** Metrics of the VOD workers of a process. */
interface VodMetrics {
  running: Gauge;
  jobs: Counter<'outcome'>;
  speed: Histogram;
  toPlayable: Histogram;
  toReady: Histogram;
}

function createVodMetrics(registry: Registry): VodMetrics {
  const registers = [registry];
  return {
    running: new Gauge({ name: 'vod_jobs_running', help: 'VOD transcode jobs running in this process', registers }),
    jobs: new Counter({ name: 'vod_jobs_total', help: 'VOD transcode job attempts by outcome (ready, errored, retried)', labelNames: ['outcome'], registers }),
    speed: new Histogram({ name: 'vod_transcode_speed_ratio', help: 'Ladder speed of finished VOD jobs, as a multiple of real time', buckets: [0.25, 0.5, 1, 2, 4, 8, 16, 32], registers }),
    toPlayable: new Histogram({ name: 'vod_upload_to_playable_seconds', help: 'Upload complete to the first playable segments', buckets: [1, 2, 5, 10, 20, 60, 300], registers }),
    toReady: new Histogram({ name: 'vod_upload_to_ready_seconds', help: 'Upload complete to every rendition stored', buckets: [5, 10, 30, 60, 300, 900, 3600, 14400], registers }),
  };
}

/** What the worker runs with. */
export interface VodWorkerDeps {
  jobs: JobQueue;
  blobs: BlobStore;
  bus: Pick<Bus<PackagerTopics>, 'publish'>;
  logger: Logger;
  metrics: Registry;
  /** Content keys for encrypted assets (control-api's key store, in process or over HTTP). */
  keys?: KeyProvider;
}

/** Turns the queue's jobs into packaged assets. */
export class VodWorker {
  private readonly log: Logger;
  private readonly metrics: VodMetrics;

  constructor(
    private readonly deps: VodWorkerDeps,
    private readonly config: Config,
  ) {
    this.log = deps.logger.child({ mod: 'vod-worker' });
    this.metrics = createVodMetrics(deps.metrics);
  }

  async start(): Promise<void> {
    await this.deps.jobs.work<VodJob>(VOD_QUEUE, { concurrency: this.config.vod.workerConcurrency }, (job) => this.run(job));
    await this.deps.jobs.work<VodCaptionsJob>(VOD_CAPTIONS_QUEUE, { concurrency: 1 }, (job) => this.captions(job));
    this.log.info({ concurrency: this.config.vod.workerConcurrency }, 'vod worker started');
  }

  /** One attempt of a job. Refusals of the file end it; other failures are retried until the last attempt. */
  async run(job: Job<VodJob>): Promise<void> {
    const { assetId } = job.data;
    const lastAttempt = job.retryCount >= this.config.vod.jobRetries;
    this.metrics.running.inc();
    const started = Date.now();
    try {
      const { result, thumbnails } = await this.transcode(job);
      this.metrics.jobs.inc({ outcome: 'ready' });
      this.metrics.speed.observe(result.durationSeconds / Math.max(0.001, (Date.now() - started) / 1000));
      this.metrics.toReady.observe((Date.now() - job.data.uploadedAtMs) / 1000);
      await this.deps.bus.publish('vod.asset.ready', { assetId, durationSeconds: result.durationSeconds, tracks: tracksOf(result), ...(thumbnails ? { thumbnails } : {}), atMs: Date.now() });
      this.log.info({ asset: assetId, duration: result.durationSeconds, seconds: (Date.now() - started) / 1000 }, 'vod asset ready');
    } catch (err) {
      const e = err instanceof VodError ? err : new VodError('TRANSCODE_FAILED', 'The video could not be processed.', false);
      if (!e.permanent && !lastAttempt) {
        this.metrics.jobs.inc({ outcome: 'retried' });
        this.log.warn({ err, asset: assetId, attempt: job.retryCount + 1 }, 'vod job failed: it will be retried');
        throw err;
      }
      this.metrics.jobs.inc({ outcome: 'errored' });
      this.log.warn({ asset: assetId, code: e.code, reason: e.message }, 'vod asset errored');
      await this.deps.bus.publish('vod.asset.errored', { assetId, code: e.code, message: e.message, atMs: Date.now() });
    } finally {
      this.metrics.running.dec();
    }
  }

  /**
   * Lists the asset's caption tracks in its manifests (the WebVTT files are already stored). An asset
   * still transcoding has no package yet: the job fails and is retried with backoff until it has.
   */
  async captions(job: Job<VodCaptionsJob>): Promise<void> {
    const { assetId, captions } = job.data;
    const pkg = await readVodPackage(this.deps.blobs, assetId);
    if (!pkg) throw new Error(`asset ${assetId} is not packaged yet`);
    pkg.captions = captions;
    await this.deps.blobs.put(`${vodRoot(assetId)}/${PACKAGE_NAME}`, Buffer.from(JSON.stringify(pkg)), { contentType: 'application/json', cacheControl: 'no-store' });
    await writeVodManifests(this.deps.blobs, assetId, pkg);
    await this.deps.bus.publish('vod.asset.captions', { assetId, captions, atMs: Date.now() });
    this.log.info({ asset: assetId, captions: captions.map((c) => c.language) }, 'captions listed');
  }

  private async transcode(job: Job<VodJob>): Promise<{ result: VodPackaged; thumbnails?: VodThumbnails }> {
    return this.transcodeFile(job, job.data.file);
  }

  private async transcodeFile(job: Job<VodJob>, file: string): Promise<{ result: VodPackaged; thumbnails?: VodThumbnails }> {
    const { assetId, uploadedAtMs } = job.data;
    const vod = this.config.vod;
    const tools = { ffmpegPath: this.config.live.ffmpegPath, ffprobePath: this.config.live.ffprobePath };
    const source = await inspectSource(file, { ...tools, maxDimension: vod.maxDimension, maxDurationSeconds: vod.maxDurationSeconds });
    const plan = await perTitleLadder(file, source, { ffmpegPath: tools.ffmpegPath, ladder: vod.ladder, crf: vod.crf });
    this.log.info({ asset: assetId, probeKbps: Math.round(plan.probeKbps), rungs: plan.rungs.map((r) => `${r.name}@${r.videoBitrateKbps}k`) }, 'per-title ladder');
    const encryption = await this.encryptionOf(job.data);
    let lastSent = 0;
    let wasPlayable = false;
    const result = await packageVod(
      { blobs: this.deps.blobs, logger: this.log },
      {
        assetId, file, source, rungs: plan.rungs, crf: plan.crf, segmentSeconds: vod.segmentSeconds, x264Preset: vod.x264Preset, ffmpegPath: tools.ffmpegPath,
        signal: job.signal,
        ...(encryption ? { encryption } : {}),
        onProgress: (p) => {
          const now = Date.now();
          const becamePlayable = p.playable && !wasPlayable;
          if (becamePlayable) {
            wasPlayable = true;
            this.metrics.toPlayable.observe((now - uploadedAtMs) / 1000);
          }
          if (!becamePlayable && now - lastSent < 1000) return;
          lastSent = now;
          this.deps.bus.publish('vod.asset.progress', { assetId, percent: p.percent, speed: p.speed, playable: p.playable, atMs: now }).catch((err: unknown) => this.log.warn({ err }, 'progress publish failed'));
        },
      },
    );
    // Pictures are extras: an asset without them still plays.
    const thumbnails = await makeThumbnails({ blobs: this.deps.blobs }, { assetId, file, source, ffmpegPath: tools.ffmpegPath }).catch((err: unknown) => {
      this.log.warn({ err, asset: assetId }, 'thumbnails failed');
      return undefined;
    });
    return { result, thumbnails };
  }

  /** The asset's key (one per asset, the same on every retry) and its signalling, when it is encrypted. */
  private async encryptionOf(job: VodJob): Promise<VodEncryption | undefined> {
    const e = job.encryption;
    if (!e) return undefined;
    if (!this.deps.keys) throw new VodError('ENCRYPTION_UNAVAILABLE', 'This worker has no key provider, so it cannot encrypt the asset.');
    const key = await this.deps.keys.contentKey({ mediaId: job.assetId, period: 'vod' });
    // AES-128's key URI names the key: the job carries the key server's prefix.
    return { scheme: e.scheme, key, info: encryptionInfoFor(e.scheme, key, e.scheme === 'aes-128' ? `${e.licenseUrl}${key.kid}` : e.licenseUrl) };
  }

  async close(): Promise<void> {}
}

/** The asset's tracks as the API lists them. */
function tracksOf(result: VodPackaged): VodTracks {
  return {
    video: result.renditions
      .filter((r) => r.kind === 'video')
      .sort((a, b) => (b.height ?? 0) - (a.height ?? 0))
      .map((r) => ({ name: r.name, width: r.width ?? 0, height: r.height ?? 0, bandwidth: r.bandwidth, averageBandwidth: r.averageBandwidth, codec: r.codec, frameRate: r.frameRate })),
    audio: result.audio.map((a) => {
      const r = result.renditions.find((x) => x.name === a.name);
      return { name: a.name, language: a.language, label: a.label, codec: r?.codec ?? 'mp4a.40.2', channels: r?.channels };
    }),
    captions: [],
  };
}
