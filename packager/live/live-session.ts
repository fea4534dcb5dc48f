import crypto from 'node:crypto';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { BlobStore, Config, Logger, Rung } from '../../platform/index.js';
import type { IngestTopics } from '../../ingest/index.js';
import type { RenditionInfo, StreamState } from '../contract.js';
import { ffmpegLadderArgs, type LadderArgs, type LadderOutput } from '../ladder/ffmpeg-ladder-args.js';
import { LadderSupervisor } from '../ladder/ladder-supervisor.js';
import { probeSource } from '../ladder/ffprobe.js';
import { RenditionPipeline } from './rendition-pipeline.js';
import type { LiveCatalog } from './live-catalog.js';
import { encryptionInfoFor, type KeyProvider } from '../crypto/key-provider.js';
import { LiveKeyRing } from '../crypto/live-keys.js';
import type { EncryptionInfo } from '../manifest/encryption-info.js';

type Started = IngestTopics['ingest.stream.started'];

/** First-fragment arrival may trail the ingest clock by the transcoder's start-up; beyond this it joined late. */
const INGEST_ANCHOR_SLACK_MS = 2500;

/** Prometheus series the live sessions share (created once per packager). */
export interface LiveMetrics {
  speed: Gauge<'stream'>;
  fps: Gauge<'stream'>;
  restarts: Counter<'stream'>;
  partDelay: Histogram<'rendition_kind'>;
  parts: Counter<'rendition_kind'>;
  sessions: Gauge;
  /** Writes waiting in every rendition pipeline's chain. */
  queueDepth: Gauge;
  /** Parts dropped because storage or the catalog did not keep up. */
  droppedParts: Counter<'rendition_kind'>;
}

/** Creates the live packager's metrics in a registry. */
export function createLiveMetrics(registry: Registry): LiveMetrics {
  const registers = [registry];
  return {
    speed: new Gauge({ name: 'packager_transcode_speed_ratio', help: 'Transcoder speed as a multiple of real time', labelNames: ['stream'], registers }),
    fps: new Gauge({ name: 'packager_transcode_frames_per_second', help: 'Transcoder output frame rate', labelNames: ['stream'], registers }),
    restarts: new Counter({ name: 'packager_transcoder_restarts_total', help: 'Transcoder processes restarted after dying', labelNames: ['stream'], registers }),
    partDelay: new Histogram({
      name: 'packager_part_publish_delay_seconds',
      help: 'Ingest wall clock of a part\'s last sample to the part being written and announced',
      labelNames: ['rendition_kind'],
      buckets: [0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 4],
      registers,
    }),
    parts: new Counter({ name: 'packager_parts_written_total', help: 'LL-HLS parts written', labelNames: ['rendition_kind'], registers }),
    sessions: new Gauge({ name: 'packager_live_sessions', help: 'Live sessions being packaged', registers }),
    queueDepth: new Gauge({ name: 'packager_write_queue_depth', help: 'Part, segment and announcement writes waiting for storage or the catalog', registers }),
    droppedParts: new Counter({ name: 'packager_dropped_parts_total', help: 'Parts dropped (whole segments) because storage or the catalog did not keep up', labelNames: ['rendition_kind'], registers }),
  };
}

/** Dependencies of a live session. */
export interface LiveSessionDeps {
  blobs: BlobStore;
  catalog: LiveCatalog;
  logger: Logger;
  metrics: LiveMetrics;
  /** Packaging gave up on this publish (no video, unsupported codec, transcoder dying in a loop). */
  onFailed: (code: string, reason: string) => void;
  /** Content keys of encrypted streams (control-api's key store, in process or over HTTP). */
  keys?: KeyProvider;
}

/**
 * One live stream being packaged: one FFmpeg ladder (restarted if it dies), one CMAF pipeline per
 * output, and the stream state in the live catalog. A publisher reconnecting within the grace window
 * resumes the same session: same playlists, media sequence keeps counting, a discontinuity where it resumed.
 */
export class LiveSession {
  readonly sessionId: string;
  readonly startedAtMs: number;
  /** Media sequence number of the session's first segment (set by start()). */
  private firstMsn = 0;
  /** Pipelines created so far, and whether the first ladder was attached (later pipelines join mid-session). */
  private generation = 0;
  private attached = false;
  /** Renditions that left the ladder mid-session (ended, not recorded). */
  private readonly retired: RenditionPipeline[] = [];
  /** Asset id of the session's recording: segments leaving the DVR window move under `vod/{recordingId}/`. */
  readonly recordingId = crypto.randomUUID();
  private supervisor?: LadderSupervisor;
  private pipelines = new Map<string, RenditionPipeline>();
  private renditions: RenditionInfo[] = [];
  private expected: string[] = [];
  private readonly log: Logger;
  private source: Started;
  private ended = false;
  /** Wall clock (epoch ms) of media time 0 for the running FFmpeg: shared by its outputs so PDTs align. */
  private runAnchorMs?: number;
  /** Wall clock of session media time 0 (the first run's anchor); later runs are shifted onto it. */
  private sessionAnchorMs?: number;
  /** Why the last ladder build failed, with its stable code. */
  private buildError?: { code: string; message: string };
  /** The running FFmpeg started with its publish (not a restart): the ingest clock applies. */
  private anchorFromIngest = false;
  /** Encrypted sessions: the scheme, the session's keys and what the manifests say. */
  private encryption?: { scheme: 'cbcs' | 'cenc'; keys: LiveKeyRing; info: EncryptionInfo };

  constructor(
    private readonly deps: LiveSessionDeps,
    private readonly config: Config,
    first: Started,
  ) {
    this.source = first;
    this.sessionId = first.sessionId;
    this.startedAtMs = first.startedAtMs;
    this.log = deps.logger.child({ mod: 'packager', stream: first.streamId, session: first.sessionId });
  }

  get streamId(): string {
    return this.source.streamId;
  }

  /** Starts the ladder for the first publish. */
  async start(): Promise<void> {
    this.deps.metrics.sessions.inc();
    // 0 from the start, so "no restarts" is a value on the dashboards, not a gap.
    this.deps.metrics.restarts.inc({ stream: this.streamId }, 0);
    // Numbered from the wall clock (seconds) and never below what an earlier session of this stream
    // reached, so every segment, part and init URL of the session is new (edges cache them immutable).
    const earlier = await this.deps.catalog.nextMsn(this.streamId).catch(() => undefined);
    this.firstMsn = Math.max(Math.floor(this.startedAtMs / 1000), earlier ?? 0);
    const e = this.source.encryption;
    if (e) {
      // Keys first: no part of an encrypted stream is ever stored in the clear.
      if (!this.deps.keys) return this.deps.onFailed('ENCRYPTION_UNAVAILABLE', 'this packager has no key provider, so it cannot encrypt the stream');
      const keys = new LiveKeyRing({ keys: this.deps.keys, logger: this.log }, { mediaId: this.streamId, sessionId: this.sessionId, rotationSegments: e.rotationSegments });
      try {
        await keys.start();
      } catch (err) {
        this.log.error({ err }, 'the content key could not be fetched: not packaging this publish');
        return this.deps.onFailed('ENCRYPTION_UNAVAILABLE', `the content key could not be fetched: ${(err as Error).message}`);
      }
      this.encryption = { scheme: e.scheme, keys, info: encryptionInfoFor(e.scheme, keys.first, e.licenseUrl) };
    }
    await this.runLadder(false);
  }

  /** The publisher came back within the grace window: continue with a discontinuity. */
  async resume(next: Started): Promise<void> {
    this.log.info({ publishSession: next.sessionId }, 'publisher reconnected within grace window: resuming session');
    await this.stopLadder();
    this.source = next;
    await this.runLadder(true);
  }

  /** The publisher left: stop the ladder (it drains what it has); the session may still resume. */
  async sourceEnded(): Promise<void> {
    await this.stopLadder();
  }

  /** Grace window over: flush, mark every playlist ended. Returns the renditions' final timelines. */
  async finish(): Promise<Map<string, RenditionPipeline>> {
    if (!this.ended) {
      this.ended = true;
      await this.stopLadder();
      for (const p of this.pipelines.values()) await p.finish();
      for (const p of this.retired) await p.finish();
      await this.deps.catalog.putStream(this.streamState());
      this.deps.metrics.sessions.dec();
      // Per-stream series go with the stream: label sets stay bounded by the streams live now.
      for (const m of [this.deps.metrics.speed, this.deps.metrics.fps, this.deps.metrics.restarts]) m.remove({ stream: this.streamId });
    }
    return this.pipelines;
  }

  /** Stream-level state for the multivariant playlist and MPD. */
  streamState(): StreamState {
    return {
      streamId: this.streamId,
      sessionId: this.sessionId,
      startedAtMs: this.startedAtMs,
      renditions: this.renditions,
      expectedRenditions: this.expected,
      partTarget: this.config.live.partTargetSeconds,
      segmentTarget: this.config.live.segmentSeconds,
      dvrWindowSeconds: this.config.live.dvrWindowSeconds,
      ended: this.ended,
      ...(this.source.passthrough ? { sourceGops: true } : {}),
      ...(this.encryption ? { encryption: this.encryption.info } : {}),
    };
  }

  private async buildLadder(): Promise<LadderArgs> {
    const src = this.source;
    let width = src.video?.width ?? 0;
    let height = src.video?.height ?? 0;
    let fps = src.video?.fps ?? 0;
    let audioCodec = src.audio?.codec;
    let hasAudio = Boolean(src.audio);
    if (!width || !height || !fps) {
      // The publisher did not announce its video: ask ffprobe (slower start, same result).
      const probe = await probeSource(src.sourceUrl, { ffprobePath: this.config.live.ffprobePath, timeoutMs: 10_000 }).catch((err: Error & { code?: string }) => {
        // The creator sees this message: name the source, not our internal URL.
        this.buildError = { code: err.code ?? 'PROBE_FAILED', message: err.message.replace(/(?:probe of )?http:\/\/\S+/, 'the source') };
        throw err;
      });
      ({ width, height, fps } = probe);
      audioCodec = probe.audioCodec;
      hasAudio = Boolean(probe.audioCodec);
    }
    const rungs: Rung[] = src.ladder?.length ? src.ladder : this.config.live.ladder;
    return ffmpegLadderArgs({
      input: { kind: 'url', url: src.sourceUrl },
      source: { width, height, fps, hasAudio, audioCodec },
      rungs,
      segmentSeconds: this.config.live.segmentSeconds,
      x264Preset: this.config.live.x264Preset,
      passthrough: src.passthrough,
    });
  }

  private async runLadder(discontinuity: boolean): Promise<void> {
    const supervisor = new LadderSupervisor({ logger: this.log }, { ffmpegPath: this.config.live.ffmpegPath, build: () => this.buildLadder() });
    this.supervisor = supervisor;
    let firstSpawn = true;
    supervisor.on('spawned', ({ ladder }) => {
      // A respawn (FFmpeg died) or a resumed publisher starts a fresh fMP4 stream per output.
      this.runAnchorMs = undefined;
      this.anchorFromIngest = firstSpawn;
      this.attachOutputs(ladder.outputs, discontinuity || !firstSpawn);
      firstSpawn = false;
    });
    supervisor.on('data', (output, chunk) => this.pipelines.get(output)?.push(chunk));
    supervisor.on('progress', (p) => {
      this.deps.metrics.speed.set({ stream: this.streamId }, p.speed);
      this.deps.metrics.fps.set({ stream: this.streamId }, p.fps);
    });
    supervisor.on('restarted', ({ restarts, lastExit }) => {
      this.deps.metrics.restarts.inc({ stream: this.streamId });
      this.log.warn({ restarts, code: lastExit.code, signal: lastExit.signal, stderr: lastExit.stderrTail }, 'transcoder died: restarted, discontinuity follows');
    });
    supervisor.on('failed', ({ reason, lastExit }) => {
      this.log.error({ reason, stderr: lastExit?.stderrTail }, 'transcoder failed: giving up on this publish');
      const err = this.buildError ?? { code: 'TRANSCODER_FAILED', message: `${reason}: ${lastExit?.stderrTail.split('\n').filter(Boolean).at(-1) ?? 'no output'}` };
      this.deps.onFailed(err.code, err.message);
    });
    await supervisor.start();
  }

  private attachOutputs(outputs: LadderOutput[], discontinuity: boolean): void {
    this.expected = outputs.map((o) => o.name);
    // Rungs that left the ladder (a publisher back at a lower resolution) end now: their playlists get
    // ENDLIST, and the multivariant playlist and MPD stop listing them (a rung nobody feeds would hold
    // the MPD's common segment back and leave blocking reloads to time out).
    for (const [name, p] of this.pipelines) {
      if (this.expected.includes(name)) continue;
      this.log.info({ rendition: name }, 'rendition left the ladder: ending it');
      this.pipelines.delete(name);
      this.retired.push(p);
      this.renditions = this.renditions.filter((r) => r.name !== name);
      void p.finish().then(() => this.deps.catalog.putStream(this.streamState())).catch((err) => this.log.warn({ err, rendition: name }, 'ending a rendition failed'));
    }
    // A rendition (re)joining mid-session numbers after its siblings' open segment, under a log of its
    // own, so none of its URLs is one it used before it left.
    const siblingsAt = 1 + Math.max(this.firstMsn, ...[...this.pipelines.values(), ...this.retired].map((p) => p.state?.current.msn ?? this.firstMsn));
    const joining = this.attached;
    this.attached = true;
    for (const out of outputs) {
      let p = this.pipelines.get(out.name);
      if (!p) {
        const generation = this.generation++;
        p = new RenditionPipeline(
          { blobs: this.deps.blobs, catalog: this.deps.catalog, logger: this.log, metrics: this.deps.metrics, onInfo: (info) => this.onRenditionInfo(info) },
          {
            streamId: this.streamId,
            sessionId: joining ? `${this.sessionId}.${generation}` : this.sessionId,
            output: out,
            partTarget: this.config.live.partTargetSeconds,
            segmentTarget: this.config.live.segmentSeconds,
            dvrWindowSeconds: this.config.live.dvrWindowSeconds,
            firstMsn: joining ? siblingsAt : this.firstMsn,
            clock: { runOffsetSeconds: (raw) => this.runOffsetSeconds(raw), wallClockMs: (s) => this.wallClockMs(s) },
            recordingPrefix: `vod/${this.recordingId}/${out.name}`,
            ...(this.encryption ? { encryption: { scheme: this.encryption.scheme, keys: this.encryption.keys } } : {}),
          },
        );
        this.pipelines.set(out.name, p);
      } else {
        p.restart(discontinuity);
      }
    }
  }

  /**
   * How far the running FFmpeg's media time is shifted onto the session timeline. FFmpeg's outputs start at
   * media time 0 on the first FLV tag it reads, which for a fresh publish is the publisher's first
   * keyframe, the moment ingest reported as `startedAtMs`: PDT is then the ingest arrival clock of each
   * frame. When the ladder joined later (a restart, or a start slower than one GOP) the first fragment's
   * arrival is the better bound, as no frame leaves FFmpeg before it arrived.
   */
  private runOffsetSeconds(rawSeconds: number): number {
    if (this.runAnchorMs === undefined) {
      const byArrival = Date.now() - rawSeconds * 1000;
      const byIngest = this.source.startedAtMs;
      this.runAnchorMs = this.anchorFromIngest && byArrival - byIngest < INGEST_ANCHOR_SLACK_MS ? byIngest : byArrival;
      this.sessionAnchorMs ??= this.runAnchorMs;
    }
    // A later run (restart, reconnect) joins the session timeline where the wall clock says it is, so
    // media time keeps tracking the ingest clock across the gap: one DASH Period, one recording.
    return (this.runAnchorMs - this.sessionAnchorMs!) / 1000;
  }

  /** Wall clock (epoch ms) of a session media time: EXT-X-PROGRAM-DATE-TIME. */
  private wallClockMs(sessionSeconds: number): number {
    return (this.sessionAnchorMs ?? Date.now()) + sessionSeconds * 1000;
  }

  private async onRenditionInfo(info: RenditionInfo): Promise<void> {
    // A rendition that left the ladder still measures the segment it flushes: it stays unlisted.
    if (!this.pipelines.has(info.name)) return;
    this.renditions = [...this.renditions.filter((r) => r.name !== info.name), info].sort(
      (a, b) => (a.kind === b.kind ? (b.height ?? 0) - (a.height ?? 0) : a.kind === 'video' ? -1 : 1),
    );
    await this.deps.catalog.putStream(this.streamState());
  }

  private async stopLadder(): Promise<void> {
    const s = this.supervisor;
    this.supervisor = undefined;
    if (s) await s.close();
  }
}
