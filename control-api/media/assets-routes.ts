import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { IdParams, bearer, errorResponses } from '../http/common-schemas.js';
import { AssetSchema } from './schemas.js';
import type { RouteContext } from '../http/route-context.js';

/** On-demand assets of the caller's account (recordings of live streams for now). */
export const assetsRoutes: FastifyPluginAsyncTypebox<RouteContext> = async (app, { services }) => {
  app.get(
    '/v1/assets/:id',
    {
      schema: {
        tags: ['assets'],
        summary: 'One asset with its playback URLs at the edge',
        security: bearer,
        params: IdParams,
        response: { 200: AssetSchema, ...errorResponses },
      },
    },
    async (req) => services.assets.get(services.tokens.authenticate(req.headers.authorization).accountId, req.params.id),
  );
};
