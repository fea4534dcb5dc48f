import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { BlobStore, Config, Handler, JobQueue, LiveState, Logger, Registry, Sql, SubscribeOptions, Unsubscribe } from '../platform/index.js';
import type { IngestTopics } from '../ingest/contract.js';
import type { PackagerTopics } from '../packager/contract.js';
import { AccountService } from './accounts/accounts.js';
import { AssetService } from './media/assets.js';
import { RECS_QUEUE, type ControlApiTopics } from './contract.js';
import { BODY_LIMIT_BYTES, installErrorHandling } from './http/errors-plugin.js';
import { installHttpMetrics } from './http/http-metrics.js';
import { LiveStreamService } from './streams/live-streams.js';
import { ProfileService } from './accounts/profiles.js';
import { assetsRoutes } from './media/assets-routes.js';
import { uploadsRoutes } from './media/uploads-routes.js';
import { UploadService } from './media/uploads.js';
import { playbackTokensRoutes } from './playback/playback-tokens-routes.js';
import { authRoutes } from './accounts/auth-routes.js';
import { healthRoutes } from './http/health-routes.js';
import { internalRoutes } from './streams/internal-routes.js';
import { liveStreamsRoutes } from './streams/live-streams-routes.js';
import { profilesRoutes } from './accounts/profiles-routes.js';
import type { Services } from './http/route-context.js';
import { TokenService } from './accounts/tokens.js';
import { PlaybackPolicies } from './playback/playback-policies.js';
import { KeyStore } from './playback/key-store.js';
import { keyServerRoutes } from './playback/key-server-routes.js';
import { catalogRoutes, createCatalog } from './catalog/index.js';
import { createEngagement, engagementRoutes, notificationsRoutes } from './engagement/index.js';
import { billingRoutes, createBilling } from './billing/index.js';
import { analyticsRoutes, QosAggregator, QOS_TOPIC } from './analytics/index.js';
import { Entitlements } from './playback/entitlements.js';
import { PlaybackSessions } from './playback/playback-sessions.js';
import { DownloadService } from './playback/downloads.js';
import { downloadsRoutes } from './playback/downloads-routes.js';

/** Every topic control-api publishes or consumes (the consumed ones are defined by their publishers). */
export type ControlApiBusTopics = ControlApiTopics &
  Pick<IngestTopics, 'ingest.stream.started' | 'ingest.stream.ended' | 'ingest.stream.stats'> &
  Pick<PackagerTopics, 'packager.recording.ready' | 'packager.session.ended' | 'packager.session.started' | 'packager.session.failed' | 'vod.asset.progress' | 'vod.asset.ready' | 'vod.asset.errored' | 'vod.asset.captions'>;

/**
 * The bus as control-api uses it: publishes its own topics, subscribes to the ones it consumes. Any
 * platform Bus fits, including main.ts's untyped `Bus<TopicMap>`.
 */
export interface ControlApiBus {
  publish<K extends keyof ControlApiTopics & string>(topic: K, msg: ControlApiTopics[K]): Promise<void>;
  subscribe<K extends keyof ControlApiBusTopics & string>(
    topic: K,
    handler: Handler<ControlApiBusTopics[K]>,
    opts?: SubscribeOptions,
  ): Promise<Unsubscribe>;
}

/** What control-api is built from; main.ts (or a test) owns and closes all of it. */
export interface ControlApiDeps {
  sql: Sql;
  liveState: LiveState;
  logger: Logger;
  metrics: Registry;
  bus?: ControlApiBus;
  /** Extra readiness for `/healthz`; one-process mode passes one covering every service. */
  ready?: () => boolean | Promise<boolean>;
  /** The durable queue finished uploads are sent to (VOD transcodes). */
  jobs?: JobQueue;
  /** Media storage, for deleting an asset's media. */
  blobs?: BlobStore;
  /** Services already built over these deps (ControlApiServer shares its own with the HTTP app). */
  services?: Services;
}

/** Builds the domain services over the ports (stateless: two sets over one Sql agree). */
export function createServices(deps: ControlApiDeps, config: Config): Services {
  const logger = deps.logger.child({ mod: 'control-api' });
  const tokens = new TokenService({ sql: deps.sql }, config.auth);
  const accounts = new AccountService({ sql: deps.sql, liveState: deps.liveState, tokens }, config);
  const policies = new PlaybackPolicies({ sql: deps.sql, liveState: deps.liveState, logger });
  const keys = new KeyStore({ sql: deps.sql }, config.drm.keyEncryptionKey);
  const assets = new AssetService({ sql: deps.sql, logger, bus: deps.bus, policies, blobs: deps.blobs, jobs: deps.jobs, keys }, config);
  const profiles = new ProfileService({ sql: deps.sql, liveState: deps.liveState }, config);
  // Catalog and engagement read each other (titles ↔ continue watching), so one is handed to the other late.
  const catalog = createCatalog({
    sql: deps.sql, liveState: deps.liveState, assets,
    // Each call reaches `engagement` only when browse runs, after both exist.
    signals: {
      continueWatching: (viewer, limit) => engagement.watching.continueWatching(viewer, limit),
      trending: (limit) => engagement.watching.trending(limit),
      recentlyWatched: (profileId, limit) => engagement.watching.recentlyWatched(profileId, limit),
      recommended: async (viewer, limit) => (await engagement.recommendations.forProfile(viewer, limit)).items.map((t) => t.id),
    },
    onFirstPublish: async (title) => {
      if (title.type === 'episode' && title.seriesId) {
        await engagement.notifications.newEpisode({ id: title.id, seriesId: title.seriesId, name: title.name, season: title.season, episode: title.episode, maturityRating: title.maturityRating });
      }
    },
  });
  const engagement = createEngagement(
    { sql: deps.sql, liveState: deps.liveState, logger, catalog: catalog.titles, profiles, accounts, bus: deps.bus, onView: () => catalog.browse.viewsChanged() },
    config.quotas,
  );
  const sessions = new PlaybackSessions({ liveState: deps.liveState }, config.billing.playbackLeaseSeconds);
  const billing = createBilling(
    {
      sql: deps.sql, logger, accounts, metrics: deps.metrics,
      onDeviceRemoved: async (accountId, deviceId) => {
        await sessions.endDevice(accountId, deviceId);
        await downloads.revokeDevice(accountId, deviceId);
      },
    },
    config,
  );
  const entitlements = new Entitlements({ billing: billing.billing, plans: billing.plans, sessions, devices: billing.devices, metrics: deps.metrics }, config.billing);
  const downloads = new DownloadService({ sql: deps.sql, entitlements, titles: catalog.titles, assets, keys, devices: billing.devices }, config);
  return {
    downloads,
    tokens,
    assets,
    billing,
    sessions,
    entitlements,
    catalog,
    engagement,
    uploads: new UploadService({ sql: deps.sql, logger, assets, jobs: deps.jobs, metrics: deps.metrics }, config),
    accounts,
    profiles,
    liveStreams: new LiveStreamService({ sql: deps.sql, assets, logger, bus: deps.bus, policies }, config),
    policies,
    keys,
  };
}

/**
 * The control-api HTTP application: routes, schemas, OpenAPI at /docs, problem+json errors, metrics.
 * It does not listen (ControlApiServer does), so tests drive it with `app.inject()`. The schema must
 * already be migrated.
 */
export async function buildControlApi(deps: ControlApiDeps, config: Config): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: deps.logger.child({ mod: 'control-api' }) as FastifyBaseLogger,
    bodyLimit: BODY_LIMIT_BYTES,
    // fastify's default ajv silently drops unknown properties; we want them to be a 400.
    ajv: { customOptions: { removeAdditional: false } },
  }).withTypeProvider<TypeBoxTypeProvider>();

  installErrorHandling(app);
  installHttpMetrics(app, deps.metrics, 'control-api');
  app.addHook('onSend', async (req, reply, payload) => {
    // Tokens and stream keys must not sit in shared caches (RFC 6749 §5.1).
    if (!reply.hasHeader('cache-control') && /^\/(v1|internal)\//.test(req.url)) reply.header('cache-control', 'no-store');
    return payload;
  });

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'streamforge control API',
        version: '1.0.0',
        description: 'Accounts, profiles, live streams, uploads and assets, the catalog (titles, search, browse) and engagement (progress, My List, likes, ratings, comments). Errors are application/problem+json {type, title, status, detail, code}.',
      },
      components: { securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } } },
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });

  const ctx = { services: deps.services ?? createServices(deps, config), config };
  await app.register(healthRoutes, { sql: deps.sql, metrics: deps.metrics, ready: deps.ready });
  await app.register(authRoutes, ctx);
  await app.register(profilesRoutes, ctx);
  await app.register(liveStreamsRoutes, ctx);
  await app.register(assetsRoutes, ctx);
  await app.register(uploadsRoutes, ctx);
  await app.register(playbackTokensRoutes, ctx);
  await app.register(keyServerRoutes, {
    config, keys: ctx.services.keys, liveState: deps.liveState, metrics: deps.metrics,
    keyOwners: (mediaId) => ctx.services.assets.keyOwners(mediaId),
    renewSession: async (sessionId) => void (await ctx.services.entitlements.renewById(sessionId)),
  });
  await app.register(internalRoutes, ctx);
  const { services } = ctx;
  await app.register(catalogRoutes, {
    config, tokens: services.tokens, profiles: services.profiles, ...services.catalog,
    viewerStates: (profileId, ids) => services.engagement.watching.viewerStates(profileId, ids),
  });
  await app.register(engagementRoutes, {
    tokens: services.tokens, profiles: services.profiles, ...services.engagement,
    requestRefresh: deps.jobs ? () => deps.jobs!.send(RECS_QUEUE, {}, { singletonKey: 'recs-on-demand' }) : undefined,
  });
  await app.register(billingRoutes, {
    config, logger: deps.logger, tokens: services.tokens, ...services.billing, entitlements: services.entitlements, sessions: services.sessions,
  });
  await app.register(downloadsRoutes, ctx);
  await app.register(analyticsRoutes, {
    sql: deps.sql, liveState: deps.liveState, tokens: services.tokens,
    aggregator: new QosAggregator({ sql: deps.sql, logger: deps.logger, metrics: deps.metrics }),
    publish: deps.bus ? (batch) => deps.bus!.publish(QOS_TOPIC, batch) : undefined,
    ownAsset: (accountId, id) => services.assets.get(accountId, id),
    ownStream: (accountId, id) => services.liveStreams.get(accountId, id),
  });
  await app.register(notificationsRoutes, { tokens: services.tokens, notifications: services.engagement.notifications });
  return app as unknown as FastifyInstance;
}
