import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { IdParams, PageQuery, bearer, errorResponses } from '../http/common-schemas.js';
import { AssetPage, AssetSchema, CaptionBody, CaptionSchema, UpdateAssetBody } from './schemas.js';
import type { RouteContext } from '../http/route-context.js';

/** On-demand assets of the caller's account: uploads and recordings of live streams. */
export const assetsRoutes: FastifyPluginAsyncTypebox<RouteContext> = async (app, { services }) => {
  const tags = ['assets'];
  const owner = (authorization: string | undefined) => services.tokens.authenticate(authorization).accountId;

  app.get(
    '/v1/assets',
    { schema: { tags, summary: "The account's assets, newest first", security: bearer, querystring: PageQuery, response: { 200: AssetPage, ...errorResponses } } },
    async (req) => services.assets.list(owner(req.headers.authorization), req.query.limit, req.query.cursor),
  );

  app.get(
    '/v1/assets/:id',
    {
      schema: {
        tags,
        summary: 'One asset: status, progress, tracks and its playback URLs at the edge',
        description: 'While `preparing`, `playableFrom` is set as soon as the first segments of every rendition play (a growing EVENT playlist).',
        security: bearer,
        params: IdParams,
        response: { 200: AssetSchema, ...errorResponses },
      },
    },
    async (req) => services.assets.get(owner(req.headers.authorization), req.params.id),
  );

  app.patch(
    '/v1/assets/:id',
    { schema: { tags, summary: 'Change the title or description', security: bearer, params: IdParams, body: UpdateAssetBody, response: { 200: AssetSchema, ...errorResponses } } },
    async (req) => services.assets.update(owner(req.headers.authorization), req.params.id, req.body),
  );

  app.post(
    '/v1/assets/:id/captions',
    {
      schema: {
        tags,
        summary: 'Add (or replace) the caption track of a language, WebVTT or SRT',
        description: 'Answers 202: the manifests list the track (HLS SUBTITLES, DASH text AdaptationSet) within seconds, and `tracks.captions` follows. 409 ASSET_NOT_READY before the asset is ready; 400 CAPTIONS_INVALID for a file with no cue.',
        security: bearer,
        params: IdParams,
        body: CaptionBody,
        response: { 202: CaptionSchema, ...errorResponses },
      },
      bodyLimit: 3 * 1024 * 1024,
    },
    async (req, reply) => reply.status(202).send(await services.assets.addCaptions(owner(req.headers.authorization), req.params.id, req.body)),
  );

  app.delete(
    '/v1/assets/:id',
    { schema: { tags, summary: 'Delete the asset and its media (the edge answers 404 within seconds)', security: bearer, params: IdParams, response: { 204: Type.Null({ description: 'deleted' }), ...errorResponses } } },
    async (req, reply) => {
      const { uploadId } = await services.assets.delete(owner(req.headers.authorization), req.params.id);
      if (uploadId) await services.uploads.removeBytes(uploadId);
      return reply.status(204).send(null);
    },
  );
};
