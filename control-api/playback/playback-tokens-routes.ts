import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { AppError, signPlaybackToken } from '../../platform/index.js';
import { bearer, errorResponses } from '../http/common-schemas.js';
import type { RouteContext } from '../http/route-context.js';
import { resolveViewer } from '../accounts/viewer.js';
import { requireProfile } from '../catalog/index.js';
import { toAssetPlaybackUrls } from './urls.js';

const PlaybackTokenRequest = Type.Object(
  {
    streamId: Type.Optional(Type.String({ format: 'uuid', description: 'a live stream of yours' })),
    assetId: Type.Optional(Type.String({ format: 'uuid', description: 'an asset (recording) of yours' })),
    titleId: Type.Optional(Type.String({ format: 'uuid', description: 'a published catalog title (needs the active profile)' })),
    profileId: Type.Optional(Type.String({ format: 'uuid', description: 'the active profile (or X-Profile-Id), for titleId' })),
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
  titleId: Type.Optional(Type.String({ format: 'uuid' })),
  resumeFromSeconds: Type.Optional(Type.Number({ description: "titleId: where the profile stopped (0 when new or finished)" })),
});

/** Signed playback: tokens the edge verifies itself (EDGE_REQUIRE_TOKEN), for media the caller owns. */
export const playbackTokensRoutes: FastifyPluginAsyncTypebox<RouteContext> = async (app, { services, config }) => {
  app.post(
    '/v1/playback-tokens',
    {
      schema: {
        tags: ['playback'],
        summary: 'Issue a playback token and signed playback URLs: one of your streams or assets, or a catalog title',
        description: 'For `titleId` the active profile must be allowed to watch it (403 MATURITY_RESTRICTED above its ceiling, 404 unpublished); the answer says where the profile stopped (`resumeFromSeconds`).',
        security: bearer,
        body: PlaybackTokenRequest,
        response: { 201: PlaybackTokenResponse, ...errorResponses },
      },
    },
    async (req, reply) => {
      const { accountId } = services.tokens.authenticate(req.headers.authorization);
      const { streamId, assetId, titleId, ttlSeconds = 3600 } = req.body;
      if ([streamId, assetId, titleId].filter(Boolean).length !== 1) throw new AppError(400, 'VALIDATION_FAILED', 'give exactly one of streamId, assetId and titleId');
      const key = config.edge.playbackSigningKey;
      if (!key) throw new AppError(409, 'PLAYBACK_SIGNING_DISABLED', 'this server has no PLAYBACK_SIGNING_KEY: playback URLs need no token');
      let playback: { hls: string; dash: string };
      let sub: string;
      let resume: { titleId: string; resumeFromSeconds: number } | undefined;
      if (titleId) {
        // A catalog title: any viewer whose active profile may watch it.
        const viewer = await resolveViewer(services, { headers: req.headers, query: { profileId: req.body.profileId } });
        const profile = requireProfile(viewer);
        const title = await services.catalog.titles.playable(profile.maturityCeiling, titleId);
        sub = title.assetId;
        playback = toAssetPlaybackUrls(config, title.assetId);
        resume = { titleId, resumeFromSeconds: await services.engagement.watching.resumePosition(profile.id, titleId) };
      } else {
        // Ownership check first: another account's media is 404, as everywhere else.
        playback = streamId ? (await services.liveStreams.get(accountId, streamId)).playback : (await services.assets.get(accountId, assetId!)).playback;
        sub = (streamId ?? assetId)!;
      }
      const token = signPlaybackToken(key, { sub, ttlSeconds });
      const signed = (url: string) => {
        const u = new URL(url);
        u.pathname = `/t/${token}${u.pathname}`;
        return u.toString();
      };
      reply.code(201);
      return { token, expiresAt: new Date(Date.now() + ttlSeconds * 1000).toISOString(), playback: { hls: signed(playback.hls), dash: signed(playback.dash) }, ...resume };
    },
  );
};
