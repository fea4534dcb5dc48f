import crypto from 'node:crypto';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { PUBLISH_AUTHORIZE_PATH } from '../../ingest/contract.js';
import { INTERNAL_TOKEN_HEADER } from '../contract.js';
import { AuthError, notFound } from '../http/http-errors.js';
import { IdParams, errorResponses } from '../http/common-schemas.js';
import { AssetSchema, AssetStatusBody, RecordingAssetBody } from '../media/schemas.js';
import { PublishAuthorizationBody, PublishAuthorizationSchema, StreamStatusBody } from './schemas.js';
import type { RouteContext } from '../http/route-context.js';

/** Constant-time comparison, so response timing does not reveal how much of the token matched. */
function sameToken(given: string | string[] | undefined, expected: string): boolean {
  if (typeof given !== 'string') return false;
  const a = crypto.createHash('sha256').update(given).digest();
  const b = crypto.createHash('sha256').update(expected).digest();
  return crypto.timingSafeEqual(a, b);
}

/**
 * Service-to-service routes for split deployments (ingest and the live pipeline in other processes):
 * the same calls ControlApiServer offers in-process. Guarded by `x-internal-token`, hidden from OpenAPI.
 */
export const internalRoutes: FastifyPluginAsyncTypebox<RouteContext> = async (app, { services, config }) => {
  app.addHook('onRequest', async (req) => {
    // ingest's HTTP authorizer sends the token as a Bearer credential (ingest/contract.ts).
    const bearer = /^Bearer (.+)$/i.exec(req.headers.authorization ?? '')?.[1];
    const given = req.headers[INTERNAL_TOKEN_HEADER] ?? bearer;
    if (!sameToken(given, config.internalToken)) {
      throw new AuthError(`internal routes need the ${INTERNAL_TOKEN_HEADER} header`);
    }
  });
  const base = { hide: true, tags: ['internal'] };
  const done = { 204: Type.Null({ description: 'recorded' }), ...errorResponses };

  // Edges that find no policy entry in the live state ask here, rather than serve as if public.
  app.get(
    '/internal/v1/playback-policies/:id',
    { schema: { ...base, params: Type.Object({ id: Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$' }) }), response: { 200: Type.Object({ policy: Type.Union([Type.Literal('public'), Type.Literal('signed'), Type.Literal('gone')]) }), ...errorResponses } } },
    async (req) => ({ policy: await services.policies.policyOf(req.params.id) }),
  );

  // The packager's KeyProvider when it runs in another process: content keys travel only on this guarded route.
  app.post(
    '/internal/v1/content-keys',
    {
      schema: {
        ...base,
        body: Type.Object({ mediaId: Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$' }), period: Type.String({ pattern: '^[A-Za-z0-9_:.-]{1,128}$' }) }, { additionalProperties: false }),
        response: { 200: Type.Object({ kid: Type.String(), key: Type.String(), iv: Type.String() }), ...errorResponses },
      },
    },
    async (req) => {
      const grant = await services.keys.contentKey(req.body);
      return { kid: grant.kid, key: grant.key.toString('base64'), iv: grant.iv.toString('hex') };
    },
  );

  app.post(
    '/internal/v1/publish-authorizations',
    { schema: { ...base, body: PublishAuthorizationBody, response: { 200: PublishAuthorizationSchema, ...errorResponses } } },
    async (req) => services.liveStreams.authorizePublish(req.body.streamKey),
  );

  // ingest's own wire format; left open to extra fields so a newer ingest does not break every publish.
  app.post(
    PUBLISH_AUTHORIZE_PATH,
    {
      schema: {
        ...base,
        body: Type.Object({ streamKey: Type.String({ maxLength: 200 }), remoteAddress: Type.Optional(Type.String({ maxLength: 100 })) }),
        response: { 200: PublishAuthorizationSchema, ...errorResponses },
      },
    },
    async (req) => {
      const decision = await services.liveStreams.authorizePublish(req.body.streamKey);
      if (!decision.ok) req.log.info({ remoteAddress: req.body.remoteAddress, reason: decision.reason }, 'publish refused');
      return decision;
    },
  );

  app.post(
    '/internal/v1/live-streams/:id/status',
    { schema: { ...base, params: IdParams, body: StreamStatusBody, response: done } },
    async (req, reply) => {
      if (!(await services.liveStreams.setStatus(req.params.id, req.body.status))) throw notFound('live stream');
      return reply.status(204).send(null);
    },
  );

  app.post(
    '/internal/v1/assets',
    { schema: { ...base, body: RecordingAssetBody, response: { 201: AssetSchema, ...errorResponses } } },
    async (req, reply) => {
      const asset = await services.assets.createRecording(req.body);
      if (!asset) throw notFound('live stream');
      return reply.status(201).send(asset);
    },
  );

  app.post(
    '/internal/v1/assets/:id/status',
    { schema: { ...base, params: IdParams, body: AssetStatusBody, response: done } },
    async (req, reply) => {
      if (!(await services.assets.setStatus(req.params.id, req.body.status, req.body.durationSeconds))) throw notFound('asset');
      return reply.status(204).send(null);
    },
  );
};
