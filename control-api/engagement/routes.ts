import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { resolveViewer } from '../accounts/viewer.js';
import type { ProfileService } from '../accounts/profiles.js';
import type { TokenService } from '../accounts/tokens.js';
import { IdParams, bearer, errorResponses } from '../http/common-schemas.js';
import {
  CommentBody, CommentListQuery, CommentPage, CommentParams, CommentSchema, ContinueWatching, HistoryPage, LikeSchema, ListQuery,
  ModerateCommentBody, ProfileOnlyQuery, RecommendationsSchema, ProfileTitleParams, ProgressBody, ProgressSchema, RatingBody, RatingSchema, WatchlistPage,
} from './schemas.js';
import type { SocialService } from './social.js';
import type { WatchingService } from './watching.js';
import type { RecommendationService } from './recommendations.js';
import { AppError } from '../../platform/index.js';
import { forbidden } from '../http/http-errors.js';

/** What the engagement routes are built from. */
export interface EngagementRouteDeps {
  tokens: Pick<TokenService, 'authenticate'>;
  profiles: Pick<ProfileService, 'get'>;
  watching: WatchingService;
  social: SocialService;
  recommendations: RecommendationService;
  /** Queues a recommendation refresh now (absent without a job queue). */
  requestRefresh?: () => Promise<string | null>;
}

const NoContent = { 204: Type.Null({ description: 'done' }), ...errorResponses };

/** Progress, history, continue watching, My List (per profile), likes, ratings and comments (per title). */
export const engagementRoutes: FastifyPluginAsyncTypebox<EngagementRouteDeps> = async (app, deps) => {
  const { watching, social } = deps;
  const profileTags = ['watching'];
  const socialTags = ['social'];
  /** The caller with the profile of the path as the active one (404 when it is not the account's). */
  const inProfile = (req: Parameters<typeof resolveViewer>[1] & { params: { id: string } }) => resolveViewer(deps, req, req.params.id);
  const viewerOf = (req: Parameters<typeof resolveViewer>[1]) => resolveViewer(deps, req);

  app.put(
    '/v1/profiles/:id/progress/:titleId',
    {
      schema: {
        tags: profileTags, summary: 'Report the playback position (players call it every ~10 s)', security: bearer,
        description: 'Idempotent; within one `sessionId` the position never moves backwards (late reports are ignored). A new session counts a view. 95% watched (or `finished: true`) marks the title finished.',
        params: ProfileTitleParams, body: ProgressBody, response: { 200: ProgressSchema, ...errorResponses },
      },
    },
    async (req) => watching.setProgress(await inProfile(req), req.params.titleId, req.body),
  );

  app.get(
    '/v1/profiles/:id/history',
    { schema: { tags: profileTags, summary: 'Watch history, most recent first', security: bearer, params: IdParams, querystring: ListQuery, response: { 200: HistoryPage, ...errorResponses } } },
    async (req) => watching.history(await inProfile(req), req.query.limit, req.query.cursor),
  );

  app.get(
    '/v1/profiles/:id/continue-watching',
    {
      schema: {
        tags: profileTags, summary: 'Started and not finished, most recent first; the next episode after a finished one', security: bearer,
        params: IdParams, querystring: Type.Object({ limit: Type.Integer({ minimum: 1, maximum: 100, default: 20 }) }, { additionalProperties: false }),
        response: { 200: ContinueWatching, ...errorResponses },
      },
    },
    async (req) => ({ items: await watching.continueWatching(await inProfile(req), req.query.limit) }),
  );

  app.get(
    '/v1/profiles/:id/watchlist',
    { schema: { tags: profileTags, summary: 'My List, most recently added first', security: bearer, params: IdParams, querystring: ListQuery, response: { 200: WatchlistPage, ...errorResponses } } },
    async (req) => watching.watchlist(await inProfile(req), req.query.limit, req.query.cursor),
  );

  app.put(
    '/v1/profiles/:id/watchlist/:titleId',
    { schema: { tags: profileTags, summary: 'Add a title to My List', security: bearer, params: ProfileTitleParams, response: NoContent } },
    async (req, reply) => {
      await watching.addToWatchlist(await inProfile(req), req.params.titleId);
      return reply.status(204).send(null);
    },
  );

  app.delete(
    '/v1/profiles/:id/watchlist/:titleId',
    { schema: { tags: profileTags, summary: 'Remove a title from My List', security: bearer, params: ProfileTitleParams, response: NoContent } },
    async (req, reply) => {
      await watching.removeFromWatchlist(await inProfile(req), req.params.titleId);
      return reply.status(204).send(null);
    },
  );

  app.get(
    '/v1/profiles/:id/recommendations',
    {
      schema: {
        tags: profileTags, summary: "The profile's recommendations (hybrid collaborative + content-based), refreshed on a schedule", security: bearer,
        description: '`source` is `personal` once the recommender has seen the profile, else `popular-in-genres` (its favourite genres) or `popular`. Never a title the profile finished or may not see.',
        params: IdParams, querystring: Type.Object({ limit: Type.Integer({ minimum: 1, maximum: 50, default: 20 }) }, { additionalProperties: false }),
        response: { 200: RecommendationsSchema, ...errorResponses },
      },
    },
    async (req) => deps.recommendations.forProfile(await inProfile(req), req.query.limit),
  );

  app.post(
    '/v1/recommendations/refresh',
    {
      schema: {
        tags: profileTags, summary: 'Recompute every profile\'s recommendations now (admin)', security: bearer,
        response: { 202: Type.Object({ queued: Type.Boolean({ description: 'false when a refresh is already queued' }) }), ...errorResponses },
      },
    },
    async (req, reply) => {
      if (deps.tokens.authenticate(req.headers.authorization).role !== 'admin') throw forbidden('refreshing recommendations is for admins');
      if (!deps.requestRefresh) throw new AppError(503, 'JOBS_UNAVAILABLE', 'this control-api has no job queue');
      return reply.status(202).send({ queued: (await deps.requestRefresh()) !== null });
    },
  );

  for (const [method, liked] of [['PUT', true], ['DELETE', false]] as const) {
    app.route({
      method,
      url: '/v1/titles/:id/like',
      schema: {
        tags: socialTags, summary: liked ? 'Like a title (as the active profile)' : 'Take back a like', security: bearer,
        params: IdParams, querystring: ProfileOnlyQuery, response: { 200: LikeSchema, ...errorResponses },
      },
      handler: async (req) => social.setLike(await viewerOf(req), (req.params as { id: string }).id, liked),
    });
  }

  app.put(
    '/v1/titles/:id/rating',
    { schema: { tags: socialTags, summary: "Rate a title 1-5 (one rating per profile; the title's average follows)", security: bearer, params: IdParams, querystring: ProfileOnlyQuery, body: RatingBody, response: { 200: RatingSchema, ...errorResponses } } },
    async (req) => social.setRating(await viewerOf(req), req.params.id, req.body.value),
  );

  app.delete(
    '/v1/titles/:id/rating',
    { schema: { tags: socialTags, summary: 'Remove your rating', security: bearer, params: IdParams, querystring: ProfileOnlyQuery, response: { 200: RatingSchema, ...errorResponses } } },
    async (req) => social.setRating(await viewerOf(req), req.params.id, null),
  );

  app.post(
    '/v1/titles/:id/comments',
    {
      schema: {
        tags: socialTags, summary: 'Comment on a title, or reply to a top-level comment', security: bearer,
        description: 'Rate limited per account (429 with Retry-After); 400 COMMENT_EMPTY, COMMENT_TOO_LONG, THREAD_TOO_DEEP.',
        params: IdParams, querystring: ProfileOnlyQuery, body: CommentBody, response: { 201: CommentSchema, ...errorResponses },
      },
    },
    async (req, reply) => reply.status(201).send(await social.addComment(await viewerOf(req), req.params.id, req.body)),
  );

  app.get(
    '/v1/titles/:id/comments',
    { schema: { tags: socialTags, summary: "A title's comments, newest first, with their first replies", security: bearer, params: IdParams, querystring: CommentListQuery, response: { 200: CommentPage, ...errorResponses } } },
    async (req) => social.listComments(await viewerOf(req), req.params.id, req.query),
  );

  app.delete(
    '/v1/titles/:id/comments/:commentId',
    { schema: { tags: socialTags, summary: 'Delete a comment (its author or an admin)', security: bearer, params: CommentParams, response: NoContent } },
    async (req, reply) => {
      await social.deleteComment(await viewerOf(req), req.params.id, req.params.commentId);
      return reply.status(204).send(null);
    },
  );

  app.patch(
    '/v1/titles/:id/comments/:commentId',
    { schema: { tags: socialTags, summary: 'Hide or show a comment (admin)', security: bearer, params: CommentParams, body: ModerateCommentBody, response: { 200: CommentSchema, ...errorResponses } } },
    async (req) => social.moderateComment(await viewerOf(req), req.params.id, req.params.commentId, req.body.hidden),
  );
};
