/**
 * Composition root. `node dist/main.js [service]` runs one service (control-api, ingest, packager, origin,
 * edge-cache, vod-worker) or, by default, all of them in one process on the embedded defaults.
 */
import { pathToFileURL } from 'node:url';
import {
  Lifecycle,
  OpsServer,
  playbackPolicyKey,
  problem,
  sendJson,
  type OpsRoute,
  createBlobStore,
  createBus,
  createLiveState,
  createLogger,
  createMetricsRegistry,
  createSql,
  PgBossJobQueue,
  type Sql,
  loadConfig,
  type Config,
  type Logger,
  type LiveState,
} from './platform/index.js';
import { ControlApiClient, ControlApiServer, QosAggregator, QOS_TOPIC, type ControlApiTopics } from './control-api/index.js';
import { IngestServer, type IngestTopics, type PublishAuthorizer } from './ingest/index.js';
import { LiveCatalog, LivePackager, VOD_CAPTIONS_QUEUE, VOD_QUEUE, VodWorker, type PackagerTopics } from './packager/index.js';
import { OriginServer } from './origin/index.js';
import { EdgeServer, edgeConfigFrom } from './edge-cache/index.js';

/** Every bus topic of the platform. */
export type PlatformTopics = ControlApiTopics & IngestTopics & PackagerTopics;

/** The services `main.js` can run. */
export const SERVICES = ['control-api', 'ingest', 'packager', 'origin', 'edge-cache', 'vod-worker', 'analytics'] as const;
export type ServiceName = (typeof SERVICES)[number];

/** WHIP (WebRTC ingest) is announced in the API contract but not served yet: say so clearly. */
const whipNotYet: OpsRoute = (req, res, url) => {
  if (!url.pathname.startsWith('/whip/')) return false;
  sendJson(res, 501, problem(501, 'WHIP_NOT_AVAILABLE', 'WHIP ingest is not available yet on this server: publish over RTMP (rtmpUrl + streamKey)'));
  return true;
};

/** A running platform: what tests and the CLI hold on to. */
export interface RunningPlatform {
  config: Config;
  logger: Logger;
  /** The shared live state (in-process or Redis), for operators' tools and tests. */
  liveState: LiveState;
  close(): Promise<void>;
}

/** Builds and starts the named services (all of them by default) sharing one set of adapters. */
export async function startPlatform(config: Config, services: readonly ServiceName[] = SERVICES, logger = createLogger(config.logLevel)): Promise<RunningPlatform> {
  const life = new Lifecycle(logger);
  const metrics = createMetricsRegistry();
  const has = (s: ServiceName) => services.includes(s);
  let ready = false;
  let shared: LiveState | undefined;
  try {
    const liveState = life.add('live-state', createLiveState(config));
    shared = liveState;
    const bus = life.add('bus', createBus<PlatformTopics>(config, logger));
    const blobs = life.add('blobs', createBlobStore(config));
    const catalog = new LiveCatalog(liveState);

    // The database and the durable job queue on it: control-api sends VOD jobs, the VOD worker runs them.
    let sql: Sql | undefined;
    let jobs: PgBossJobQueue | undefined;
    if (has('control-api') || has('vod-worker') || has('analytics')) {
      sql = life.add('sql', await createSql(config));
      jobs = life.add('jobs', new PgBossJobQueue({ sql, logger }));
      await jobs.createQueue(VOD_QUEUE, { retryLimit: config.vod.jobRetries, retryDelaySeconds: 10, timeoutSeconds: config.vod.jobTimeoutSeconds });
      await jobs.createQueue(VOD_CAPTIONS_QUEUE, { retryLimit: 10, retryDelaySeconds: 5, timeoutSeconds: 120 });
    }

    let controlApi: ControlApiServer | undefined;
    if (has('control-api') && sql) {
      controlApi = new ControlApiServer({ sql, liveState, bus, logger, metrics, jobs, blobs, ready: () => ready }, config);
      await controlApi.start();
      life.add('control-api', controlApi);
    }
    if (has('packager')) {
      // Content keys: control-api's store in this process, or over its internal route when split.
      const packager = new LivePackager({ bus, blobs, catalog, logger, metrics, keys: controlApi ?? new ControlApiClient({}, config) }, config);
      await packager.start();
      life.add('packager', packager);
      if (services.length === 1) {
        // A packager on its own has no HTTP port: give Prometheus and probes one.
        const ops = new OpsServer({ port: config.metricsPort, host: config.bindHost, registry: metrics });
        await ops.start();
        life.add('packager-http', ops);
      }
    }
    if (has('vod-worker') && jobs) {
      // Content keys: control-api's store in this process, or over its internal route when split.
      const keys = controlApi ?? new ControlApiClient({}, config);
      const worker = new VodWorker({ jobs, blobs, bus, logger, metrics, keys }, config);
      await worker.start();
      life.add('vod-worker', worker);
      if (services.length === 1) {
        const ops = new OpsServer({ port: config.metricsPort, host: config.bindHost, registry: metrics });
        await ops.start();
        life.add('vod-worker-http', ops);
      }
    }
    if (has('analytics') && sql) {
      // Viewer QoS beacons, from whichever control-api took them, applied once each (consumer group).
      const aggregator = new QosAggregator({ sql, logger, metrics });
      const unsubscribe = await bus.subscribe(QOS_TOPIC, async (batch) => void (await aggregator.apply(batch)), { group: 'analytics' });
      life.add('analytics', { close: unsubscribe });
      if (services.length === 1) {
        const ops = new OpsServer({ port: config.metricsPort, host: config.bindHost, registry: metrics });
        await ops.start();
        life.add('analytics-http', ops);
      }
    }
    if (has('origin')) {
      const origin = new OriginServer({ blobs, catalog, logger, metrics }, config);
      await origin.start();
      life.add('origin', origin);
    }
    if (has('edge-cache')) {
      // Streams and assets whose playback policy is signed need a token at the edge. control-api publishes
      // every policy to the shared live state; a missing entry (Redis restart, eviction, FLUSHALL) is
      // never taken as public: control-api is asked, and when it cannot answer the edge refuses.
      const policyApi = controlApi ?? new ControlApiClient({}, config);
      const playbackPolicy = async (mediaId: string): Promise<'signed' | 'public' | 'gone'> => {
        const known = await liveState.get(playbackPolicyKey(mediaId));
        return known === 'signed' || known === 'public' || known === 'gone' ? known : policyApi.playbackPolicy(mediaId);
      };
      const edge = new EdgeServer({ logger, metrics, playbackPolicy }, edgeConfigFrom(config));
      await edge.start();
      life.add('edge-cache', edge);
    }
    if (has('ingest')) {
      // In one process the authorizer is control-api itself; split, it is control-api over HTTP.
      const authorizer: PublishAuthorizer = controlApi ?? new ControlApiClient({}, config);
      const ingest = new IngestServer({ authorizer, bus, logger, metrics }, config);
      await ingest.start();
      life.add('ingest', ingest);
      // Ingest's HTTP face: health, metrics, and the WHIP endpoint that control-api already hands out.
      const ingestHttp = new OpsServer({ port: config.ports.ingestHttp, host: config.bindHost, registry: metrics, routes: [whipNotYet] });
      await ingestHttp.start();
      life.add('ingest-http', ingestHttp);
    }
  } catch (err) {
    await life.close();
    throw err;
  }
  ready = true;
  const host = config.publicHost;
  logger.info(
    {
      services,
      api: has('control-api') ? `http://${host}:${config.ports.api}/v1 (docs: /docs)` : undefined,
      obsServer: has('ingest') ? `rtmp://${host}:${config.ports.rtmp}/live` : undefined,
      playback: has('edge-cache') ? `http://${host}:${config.ports.edge}/live/{streamId}/master.m3u8` : undefined,
    },
    'platform ready',
  );
  return {
    config,
    logger,
    liveState: shared!,
    close: async () => {
      ready = false;
      await life.close();
    },
  };
}

async function cli(): Promise<void> {
  const arg = process.argv[2] ?? 'all';
  const services = arg === 'all' ? SERVICES : SERVICES.filter((s) => s === arg);
  if (services.length === 0) {
    process.stderr.write(`unknown service "${arg}"; use one of: all, ${SERVICES.join(', ')}\n`);
    process.exit(2);
  }
  let config: Config;
  try {
    // One process (`all`) keeps generated secrets under DATA_DIR; split services must be given theirs.
    config = loadConfig(process.env, { localSecrets: arg === 'all', split: arg !== 'all' });
  } catch (err) {
    process.stderr.write(`configuration error: ${(err as Error).message}\n`);
    process.exit(2);
  }
  const logger = createLogger(config.logLevel, undefined, config.logFormat === 'pretty');
  const running = await startPlatform(config, services, logger).catch((err) => {
    logger.fatal({ err }, 'start failed');
    process.exit(1);
  });
  const life = new Lifecycle(logger);
  life.add('platform', running);
  life.closeOnSignals();
  // A promise nobody awaited failing is a bug to log, not a reason to end every live stream.
  process.on('unhandledRejection', (err) => logger.error({ err }, 'unhandled rejection'));
  // A thrown exception leaves state unknown: log it, close what can be closed, exit for the supervisor.
  process.on('uncaughtException', (err) => {
    logger.fatal({ err }, 'uncaught exception: shutting down');
    const timer = setTimeout(() => process.exit(1), 5000);
    timer.unref();
    void life.close().finally(() => process.exit(1));
  });
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  void cli();
}
