import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { AccountRole } from '../contract.js';
import { IdParams, bearer, errorResponses } from '../http/common-schemas.js';
import { CreateUploadBody, UploadSchema } from './schemas.js';
import type { RouteContext } from '../http/route-context.js';

/** Roles that may upload. */
const CREATORS: readonly AccountRole[] = ['creator', 'admin'];

/** Direct uploads: reserve one, follow it, cancel it; and the tus endpoint itself. */
export const uploadsRoutes: FastifyPluginAsyncTypebox<RouteContext> = async (app, { services }) => {
  const tags = ['uploads'];
  const owner = (authorization: string | undefined) => services.tokens.authenticate(authorization).accountId;

  app.post(
    '/v1/uploads',
    {
      schema: {
        tags,
        summary: 'Reserve a direct upload (creator or admin)',
        description: 'Send the file to `url` with any tus 1.0 client (creation, creation-with-upload, checksum, termination); no Authorization header is needed there.',
        security: bearer,
        body: CreateUploadBody,
        response: { 201: UploadSchema, ...errorResponses },
      },
    },
    async (req, reply) => {
      const upload = await services.uploads.create(services.tokens.authenticate(req.headers.authorization, CREATORS).accountId, req.body.asset);
      return reply.status(201).header('location', `/v1/uploads/${upload.id}`).send(upload);
    },
  );

  app.get(
    '/v1/uploads/:id',
    { schema: { tags, summary: 'An upload: status, bytes received, and its asset once complete', security: bearer, params: IdParams, response: { 200: UploadSchema, ...errorResponses } } },
    async (req) => services.uploads.get(owner(req.headers.authorization), req.params.id),
  );

  app.delete(
    '/v1/uploads/:id',
    { schema: { tags, summary: 'Cancel an unfinished upload (its bytes are removed)', security: bearer, params: IdParams, response: { 200: UploadSchema, ...errorResponses } } },
    async (req) => services.uploads.cancel(owner(req.headers.authorization), req.params.id),
  );

  // The tus endpoint: bodies are streamed to the file store untouched, so no parser reads them here.
  await app.register(async (tus) => {
    tus.removeAllContentTypeParsers();
    tus.addContentTypeParser('*', (_req, _payload, done) => done(null));
    tus.route({
      method: ['POST', 'HEAD', 'PATCH', 'DELETE', 'OPTIONS'],
      url: '/v1/uploads/:id/tus',
      schema: { hide: true },
      handler: async (req, reply) => {
        reply.hijack();
        try {
          await services.uploads.handle(req.raw, reply.raw);
        } catch (err) {
          req.log.error({ err }, 'tus request failed');
          if (!reply.raw.headersSent) reply.raw.writeHead(500, { 'content-type': 'text/plain', 'tus-resumable': '1.0.0' });
          reply.raw.end('Internal error\n');
        }
      },
    });
  });
};
