import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { resolveViewer } from '../accounts/viewer.js';
import { requireProfile } from '../catalog/index.js';
import { IdParams, IsoDate, bearer, closed, errorResponses } from '../http/common-schemas.js';
import type { RouteContext } from '../http/route-context.js';

const DownloadSchema = Type.Object({
  id: Type.String(),
  titleId: Type.String(),
  profileId: Type.String(),
  deviceId: Type.String(),
  rendition: Type.String(),
  createdAt: IsoDate,
  expiresAt: IsoDate,
  status: Type.Union([Type.Literal('active'), Type.Literal('expired'), Type.Literal('revoked')]),
  licenseUrl: Type.String({ format: 'uri' }),
});
const GrantSchema = Type.Intersect([
  DownloadSchema,
  Type.Object({
    file: Type.String({ format: 'uri', description: 'the encrypted MP4 (one video rendition and the audio); the URL carries a playback token valid for a day' }),
    keyIds: Type.Array(Type.String(), { description: 'key IDs (hex) the licence returns' }),
  }),
]);
const LicenseSchema = Type.Object({
  keys: Type.Array(Type.Object({ kty: Type.Literal('oct'), kid: Type.String(), k: Type.String() })),
  type: Type.Literal('persistent-license'),
  expiresAt: IsoDate,
});

/** Offline downloads: grants (plan, device limit, expiry), their list, their licences. */
export const downloadsRoutes: FastifyPluginAsyncTypebox<RouteContext> = async (app, { services }) => {
  const tags = ['downloads'];
  const me = (authorization: string | undefined) => services.tokens.authenticate(authorization).accountId;

  app.post(
    '/v1/downloads',
    {
      schema: {
        tags,
        summary: 'Download a title for offline viewing: an encrypted MP4 and a licence that lasts the plan’s download days',
        description: 'Needs a subscription whose plan includes downloads (403 DOWNLOADS_NOT_INCLUDED, SUBSCRIPTION_INACTIVE, PLAN_REQUIRED), a `downloadable` title with encrypted media (403 DOWNLOAD_NOT_ALLOWED, 409 DOWNLOAD_NEEDS_ENCRYPTION), and a device within the plan’s download devices (403 DOWNLOAD_DEVICE_LIMIT). `rendition` defaults to the tallest the plan allows.',
        security: bearer,
        body: Type.Object(
          {
            titleId: Type.String({ format: 'uuid' }),
            profileId: Type.Optional(Type.String({ format: 'uuid' })),
            deviceId: Type.String({ minLength: 1, maxLength: 100, pattern: '^[A-Za-z0-9._:-]+$' }),
            deviceName: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
            deviceType: Type.Optional(Type.String({ minLength: 1, maxLength: 30 })),
            rendition: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_-]{1,32}$' })),
          },
          closed,
        ),
        response: { 201: GrantSchema, ...errorResponses },
      },
    },
    async (req, reply) => {
      const viewer = await resolveViewer(services, { headers: req.headers, query: { profileId: req.body.profileId } });
      const profile = requireProfile(viewer);
      const { titleId, deviceId, deviceName, deviceType, rendition } = req.body;
      const grant = await services.downloads.grant(
        { accountId: viewer.accountId, profileId: profile.id, maturityCeiling: profile.maturityCeiling },
        { titleId, device: { id: deviceId, name: deviceName, type: deviceType }, rendition },
      );
      return reply.status(201).send(grant);
    },
  );

  app.get('/v1/downloads', { schema: { tags, summary: 'The account’s downloads (active, expired, revoked)', security: bearer, response: { 200: Type.Object({ items: Type.Array(DownloadSchema) }), ...errorResponses } } }, async (req) => ({
    items: await services.downloads.list(me(req.headers.authorization)),
  }));

  app.post(
    '/v1/downloads/:id/license',
    {
      schema: {
        tags,
        summary: 'The content keys of a download (ClearKey JSON Web Key set, persistent-license), while the grant holds',
        description: '403 DOWNLOAD_EXPIRED after `expiresAt`, DOWNLOAD_REVOKED once the download or its device was removed, SUBSCRIPTION_INACTIVE or DOWNLOADS_NOT_INCLUDED once the plan no longer allows it. Players renew it whenever they are online.',
        security: bearer,
        params: IdParams,
        response: { 200: LicenseSchema, ...errorResponses },
      },
    },
    async (req, reply) => {
      reply.header('cache-control', 'no-store');
      return services.downloads.license(me(req.headers.authorization), req.params.id);
    },
  );

  app.delete('/v1/downloads/:id', { schema: { tags, summary: 'Delete a download: its licence is refused from now on', security: bearer, params: IdParams, response: { 204: Type.Null({ description: 'deleted' }), ...errorResponses } } }, async (req, reply) => {
    await services.downloads.revoke(me(req.headers.authorization), req.params.id);
    return reply.status(204).send(null);
  });
};
