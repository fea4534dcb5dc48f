import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { AppError, type LiveState, type Sql } from '../../platform/index.js';
import { FixedWindowLimiter } from '../accounts/rate-limit.js';
import type { TokenService } from '../accounts/tokens.js';
import { IdParams, IsoDate, Nullable, bearer, closed, errorResponses } from '../http/common-schemas.js';
import { badRequest } from '../http/http-errors.js';
import { mediaAnalytics, QosBatch, type QosAggregator } from './qos.js';

export interface AnalyticsRouteDeps {
  sql: Sql;
  liveState: LiveState;
  tokens: TokenService;
  /** Publishes a batch for the aggregator; without a bus the batch is applied at once. */
  publish?: (batch: QosBatch) => Promise<void>;
  aggregator: QosAggregator;
  /** The caller's own asset or stream (404 otherwise). */
  ownAsset: (accountId: string, id: string) => Promise<unknown>;
  ownStream: (accountId: string, id: string) => Promise<unknown>;
}

const AnalyticsSchema = Type.Object({
  from: IsoDate, to: IsoDate, views: Type.Integer(), uniqueViewers: Type.Integer(), watchTimeSeconds: Type.Number(), averageViewDurationSeconds: Type.Number(),
  rebufferRatio: Type.Number({ description: 'rebuffer time ÷ watch time' }), rebufferCount: Type.Integer(),
  startupSeconds: Type.Object({ p50: Nullable(Type.Number()), p95: Nullable(Type.Number()) }), errors: Type.Integer(), fatalErrors: Type.Integer(),
  liveLatencySeconds: Type.Object({ p50: Nullable(Type.Number()) }), devices: Type.Array(Type.Object({ device: Type.String(), views: Type.Integer() })),
});
const RangeQuery = Type.Object({ from: Type.Optional(IsoDate), to: Type.Optional(IsoDate) }, closed);
const BEACON_BYTES = 64 * 1024;

/** Viewer QoS beacons in, creators' analytics out. */
export const analyticsRoutes: FastifyPluginAsyncTypebox<AnalyticsRouteDeps> = async (app, deps) => {
  const perSession = new FixedWindowLimiter({ liveState: deps.liveState }, { prefix: 'qos:session', max: 60, windowSeconds: 60 });
  const perAddress = new FixedWindowLimiter({ liveState: deps.liveState }, { prefix: 'qos:ip', max: 1200, windowSeconds: 60 });
  // navigator.sendBeacon sends text/plain (a CORS-safelisted type, so no preflight): it is the same JSON.
  app.addContentTypeParser('text/plain', { parseAs: 'string', bodyLimit: BEACON_BYTES }, (_req, body, done) => {
    try {
      done(null, JSON.parse(body as string));
    } catch {
      done(badRequest('QOS_INVALID', 'the beacon is not JSON'), undefined);
    }
  });
  app.addHook('onSend', async (req, reply, payload) => {
    if (req.url.startsWith('/v1/qos')) reply.header('access-control-allow-origin', '*');
    return payload;
  });
  app.options('/v1/qos', { schema: { hide: true } }, async (_req, reply) =>
    reply.headers({ 'access-control-allow-methods': 'POST, OPTIONS', 'access-control-allow-headers': 'content-type', 'access-control-max-age': '600' }).code(204).send());

  app.post(
    '/v1/qos',
    {
      bodyLimit: BEACON_BYTES,
      schema: {
        tags: ['analytics'],
        summary: 'Player QoS beacons (batched): startup, rebuffering, bitrate switches, dropped frames, errors, live latency',
        description: 'JSON, or text/plain as navigator.sendBeacon sends it; up to 100 events and 64 KiB per batch, 60 batches per session per minute (429). Event ids make a resend harmless. No token needed.',
        body: QosBatch,
        response: { 202: Type.Object({ accepted: Type.Integer() }), ...errorResponses },
      },
    },
    async (req, reply) => {
      await perSession.hit([req.body.sessionId], 'beacon');
      await perAddress.hit([req.ip], 'beacon');
      if (deps.publish) await deps.publish(req.body);
      else await deps.aggregator.apply(req.body);
      return reply.status(202).send({ accepted: req.body.events.length });
    },
  );

  const range = (q: { from?: string; to?: string }) => {
    const to = q.to ? new Date(q.to) : new Date();
    const from = q.from ? new Date(q.from) : new Date(to.getTime() - 30 * 86_400_000);
    if (!(from < to)) throw new AppError(400, 'RANGE_INVALID', 'from must be before to');
    return { from, to };
  };
  const summary = 'Views, unique viewers, watch time, average view duration, rebuffer ratio, startup p50/p95, errors and devices (default: the last 30 days)';
  app.get('/v1/assets/:id/analytics', { schema: { tags: ['analytics'], summary, security: bearer, params: IdParams, querystring: RangeQuery, response: { 200: AnalyticsSchema, ...errorResponses } } }, async (req) => {
    const { accountId } = deps.tokens.authenticate(req.headers.authorization);
    await deps.ownAsset(accountId, req.params.id);
    const { from, to } = range(req.query);
    return mediaAnalytics(deps.sql, req.params.id, from, to);
  });
  app.get('/v1/live-streams/:id/analytics', { schema: { tags: ['analytics'], summary, security: bearer, params: IdParams, querystring: RangeQuery, response: { 200: AnalyticsSchema, ...errorResponses } } }, async (req) => {
    const { accountId } = deps.tokens.authenticate(req.headers.authorization);
    await deps.ownStream(accountId, req.params.id);
    const { from, to } = range(req.query);
    return mediaAnalytics(deps.sql, req.params.id, from, to);
  });
};
