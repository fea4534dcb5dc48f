/** TypeBox schemas of engagement: progress, history, continue watching, My List, likes, ratings, comments. */
import { Type } from 'typebox';
import { closed, IsoDate, Nullable } from '../http/common-schemas.js';
import { TitleSummarySchema, profileQuery } from '../catalog/schemas.js';
import { COMMENT_MAX_CHARS } from './social.js';

const Id = Type.String({ maxLength: 100 });

/** /v1/profiles/:id/progress/:titleId and /v1/profiles/:id/watchlist/:titleId. */
export const ProfileTitleParams = Type.Object({ id: Id, titleId: Id }, closed);

/** /v1/titles/:id/comments/:commentId. */
export const CommentParams = Type.Object({ id: Id, commentId: Id }, closed);

/** PUT progress. */
export const ProgressBody = Type.Object(
  {
    positionSeconds: Type.Number({ minimum: 0, maximum: 1_000_000 }),
    sessionId: Type.Optional(Type.String({ minLength: 1, maxLength: 100, description: 'the play session: within one, the position only moves forward' })),
    finished: Type.Optional(Type.Boolean({ description: 'the player reached the end (otherwise: 95% watched)' })),
  },
  closed,
);

/** A profile's position in a title. */
export const ProgressSchema = Type.Object({ titleId: Type.String(), positionSeconds: Type.Number(), finished: Type.Boolean(), updatedAt: IsoDate });

/** GET history. */
export const HistoryPage = Type.Object({
  items: Type.Array(Type.Object({ title: TitleSummarySchema, progress: ProgressSchema })),
  nextCursor: Nullable(Type.String()),
});

/** GET continue-watching. */
export const ContinueWatching = Type.Object({
  items: Type.Array(
    Type.Object({
      title: TitleSummarySchema,
      positionSeconds: Type.Number({ description: 'where to resume (0 for a next episode not started)' }),
      reason: Type.Union([Type.Literal('resume'), Type.Literal('next-episode')]),
      updatedAt: IsoDate,
    }),
  ),
});

/** Pages of one's own lists. */
export const ListQuery = Type.Object(
  { limit: Type.Integer({ minimum: 1, maximum: 100, default: 20 }), cursor: Type.Optional(Type.String({ maxLength: 500 })) },
  closed,
);

/** GET watchlist. */
export const WatchlistPage = Type.Object({ items: Type.Array(TitleSummarySchema), nextCursor: Nullable(Type.String()) });

/** Title-scoped engagement reads and writes carry the active profile. */
export const ProfileOnlyQuery = Type.Object(profileQuery, closed);

/** Answer to like/unlike. */
export const LikeSchema = Type.Object({ liked: Type.Boolean(), likes: Type.Integer() });

/** PUT rating. */
export const RatingBody = Type.Object({ value: Type.Integer({ minimum: 1, maximum: 5 }) }, closed);

/** Answer to rating changes. */
export const RatingSchema = Type.Object({ value: Nullable(Type.Integer()), average: Nullable(Type.Number()), count: Type.Integer() });

/** POST comment. */
export const CommentBody = Type.Object(
  {
    body: Type.String({ minLength: 1, maxLength: COMMENT_MAX_CHARS * 2 }),
    parentId: Type.Optional(Type.String({ maxLength: 100, description: 'reply to this top-level comment' })),
  },
  closed,
);

const commentFields = {
  id: Type.String(),
  titleId: Type.String(),
  parentId: Nullable(Type.String()),
  body: Type.String(),
  author: Type.Object({ profileId: Nullable(Type.String()), name: Type.String() }),
  status: Type.Union([Type.Literal('visible'), Type.Literal('hidden'), Type.Literal('deleted')]),
  mine: Type.Boolean(),
  replyCount: Type.Integer(),
  createdAt: IsoDate,
};

/** A comment, top-level ones with their first replies. */
export const CommentSchema = Type.Object({ ...commentFields, replies: Type.Optional(Type.Array(Type.Object(commentFields))) });

/** GET comments. */
export const CommentListQuery = Type.Object(
  {
    ...profileQuery,
    parentId: Type.Optional(Type.String({ maxLength: 100, description: 'list the replies of this comment instead' })),
    limit: Type.Integer({ minimum: 1, maximum: 100, default: 20 }),
    cursor: Type.Optional(Type.String({ maxLength: 500 })),
  },
  closed,
);

/** GET comments. */
export const CommentPage = Type.Object({ items: Type.Array(CommentSchema), nextCursor: Nullable(Type.String()) });

/** PATCH comment (admin moderation). */
export const ModerateCommentBody = Type.Object({ hidden: Type.Boolean() }, closed);

/** GET recommendations. */
export const RecommendationsSchema = Type.Object({
  items: Type.Array(TitleSummarySchema),
  source: Type.Union([Type.Literal('personal'), Type.Literal('popular-in-genres'), Type.Literal('popular')]),
  computedAt: Nullable(IsoDate),
});
