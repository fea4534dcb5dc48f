import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { AccountRole } from '../contract.js';
import { IdParams, PageQuery, bearer, errorResponses } from '../http/common-schemas.js';
import { CreateLiveStreamBody, LiveStreamPage, LiveStreamSchema } from './schemas.js';
import type { RouteContext } from '../http/route-context.js';

/** Roles that may stream. */
const STREAMERS: readonly AccountRole[] = ['creator', 'admin'];

/** Live streams of the caller's account: create, list, read, delete, rotate the key, enable/disable. */
export const liveStreamsRoutes: FastifyPluginAsyncTypebox<RouteContext> = async (app, { services }) => {
  const tags = ['live-streams'];
  const owner = (authorization: string | undefined) => services.tokens.authenticate(authorization).accountId;
  const streamer = (authorization: string | undefined) => services.tokens.authenticate(authorization, STREAMERS).accountId;
  const one = { 200: LiveStreamSchema, ...errorResponses };

  app.post(
    '/v1/live-streams',
    {
      schema: {
        tags,
        summary: 'Create a live stream (creator or admin)',
        description:
          'The answer holds `streamKey`, shown only here and on rotate-key. In OBS, `rtmpUrl` is the Server and `streamKey` the Stream Key.',
        security: bearer,
        body: CreateLiveStreamBody,
        response: { 201: LiveStreamSchema, ...errorResponses },
      },
    },
    async (req, reply) => {
      const stream = await services.liveStreams.create(streamer(req.headers.authorization), req.body);
      return reply.status(201).header('location', `/v1/live-streams/${stream.id}`).send(stream);
    },
  );

  app.get(
    '/v1/live-streams',
    {
      schema: {
        tags,
        summary: 'List own live streams, newest first',
        security: bearer,
        querystring: PageQuery,
        response: { 200: LiveStreamPage, ...errorResponses },
      },
    },
    async (req) => services.liveStreams.list(owner(req.headers.authorization), req.query.limit, req.query.cursor),
  );

  app.get(
    '/v1/live-streams/:id',
    { schema: { tags, summary: 'One live stream (without its key)', security: bearer, params: IdParams, response: one } },
    async (req) => services.liveStreams.get(owner(req.headers.authorization), req.params.id),
  );

  app.delete(
    '/v1/live-streams/:id',
    {
      schema: {
        tags,
        summary: 'Delete a live stream; its recordings stay',
        security: bearer,
        params: IdParams,
        response: { 204: Type.Null({ description: 'deleted' }), ...errorResponses },
      },
    },
    async (req, reply) => {
      await services.liveStreams.delete(owner(req.headers.authorization), req.params.id);
      return reply.status(204).send(null);
    },
  );

  app.post(
    '/v1/live-streams/:id/rotate-key',
    {
      schema: {
        tags,
        summary: 'Replace the stream key; the answer holds the new `streamKey` and the old one stops working',
        security: bearer,
        params: IdParams,
        response: one,
      },
    },
    async (req) => services.liveStreams.rotateKey(streamer(req.headers.authorization), req.params.id),
  );

  app.post(
    '/v1/live-streams/:id/disable',
    {
      schema: { tags, summary: 'Refuse publishing (and end a live session)', security: bearer, params: IdParams, response: one },
    },
    async (req) => services.liveStreams.setEnabled(owner(req.headers.authorization), req.params.id, false),
  );

  app.post(
    '/v1/live-streams/:id/enable',
    { schema: { tags, summary: 'Allow publishing again', security: bearer, params: IdParams, response: one } },
    async (req) => services.liveStreams.setEnabled(owner(req.headers.authorization), req.params.id, true),
  );
};
