import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { AppError, signPlaybackToken } from '../../platform/index.js';
import { bearer, errorResponses } from '../http/common-schemas.js';
import type { RouteContext } from '../http/route-context.js';

const PlaybackTokenRequest = Type.Object(
  {
    streamId: Type.Optional(Type.String({ format: 'uuid', description: 'a live stream of yours' })),
    assetId: Type.Optional(Type.String({ format: 'uuid', description: 'an asset (recording) of yours' })),
    ttlSeconds: Type.Optional(Type.Integer({ minimum: 30, maximum: 86_400, default: 3600 })),
  },
  { additionalProperties: false },
);

const PlaybackTokenResponse = Type.Object({
  token: Type.String({ description: 'JWT HS256, sub = the stream or asset id' }),
  expiresAt: Type.String({ format: 'date-time' }),
  playback: Type.Object({
    hls: Type.String({ format: 'uri', description: 'signed URL: the token travels in the path, so relative playlist links keep it' }),
    dash: Type.String({ format: 'uri' }),
  }),
});

/** Signed playback: tokens the edge verifies itself (EDGE_REQUIRE_TOKEN), for media the caller owns. */
export const playbackTokensRoutes: FastifyPluginAsyncTypebox<RouteContext> = async (app, { services, config }) => {
  app.post(
    '/v1/playback-tokens',
    {
      schema: {
        tags: ['playback'],
        summary: 'Issue a playback token and signed playback URLs for one of your streams or assets',
        security: bearer,
        body: PlaybackTokenRequest,
        response: { 201: PlaybackTokenResponse, ...errorResponses },
      },
    },
    async (req, reply) => {
      const { accountId } = services.tokens.authenticate(req.headers.authorization);
      const { streamId, assetId, ttlSeconds = 3600 } = req.body;
      if (Boolean(streamId) === Boolean(assetId)) throw new AppError(400, 'VALIDATION_FAILED', 'give exactly one of streamId and assetId');
      const key = config.edge.playbackSigningKey;
      if (!key) throw new AppError(409, 'PLAYBACK_SIGNING_DISABLED', 'this server has no PLAYBACK_SIGNING_KEY: playback URLs need no token');
      // Ownership check first: another account's media is 404, as everywhere else.
      const playback = streamId ? (await services.liveStreams.get(accountId, streamId)).playback : (await services.assets.get(accountId, assetId!)).playback;
      const token = signPlaybackToken(key, { sub: (streamId ?? assetId)!, ttlSeconds });
      const signed = (url: string) => {
        const u = new URL(url);
        u.pathname = `/t/${token}${u.pathname}`;
        return u.toString();
      };
      reply.code(201);
      return { token, expiresAt: new Date(Date.now() + ttlSeconds * 1000).toISOString(), playback: { hls: signed(playback.hls), dash: signed(playback.dash) } };
    },
  );
};
