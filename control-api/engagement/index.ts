/**
 * The engagement domain's face: what profiles do with titles (progress, views, history, continue
 * watching, My List, likes, ratings, comments). It reads titles only through the catalog's face.
 */
import type { LiveState, Logger, Sql } from '../../platform/index.js';
import type { Catalog } from '../catalog/index.js';
import { SocialService, type CommentView, type ProfileNames } from './social.js';
import { WatchingService } from './watching.js';
import { RecommendationService } from './recommendations.js';
import { NotificationService } from './notifications.js';
import type { ControlApiBus } from '../app.js';
import type { AccountView, MaturityRating } from '../contract.js';
import { trainInChild, type TrainingInput, type TrainingOutput } from './recs-training.js';

export { engagementMigrations } from './migrations.js';
export { engagementRoutes, type EngagementRouteDeps } from './routes.js';
export { notificationsRoutes } from './notifications-routes.js';
export type { NotificationKind, NotificationView } from './notifications.js';
export type { CommentView } from './social.js';
export type { ContinueItem, ProgressView } from './watching.js';
export type { RecommendationsView, RefreshReport } from './recommendations.js';

/** The engagement services. */
export interface EngagementDomain {
  watching: WatchingService;
  social: SocialService;
  recommendations: RecommendationService;
  notifications: NotificationService;
}

/** Builds engagement over its ports and the catalog's face; `onView` hears of each new play session. */
export function createEngagement(
  deps: {
    sql: Sql;
    liveState: LiveState;
    logger: Logger;
    catalog: Catalog;
    profiles: ProfileNames & { owners(ids: readonly string[]): Promise<{ id: string; accountId: string; maturityCeiling: MaturityRating }[]> };
    accounts: { get(id: string): Promise<AccountView | undefined> };
    bus?: Pick<ControlApiBus, 'publish' | 'subscribe'>;
    onView?: () => Promise<void>;
    /** Trains the recommender (default: in a child process). */
    train?: (input: TrainingInput, signal?: AbortSignal) => Promise<TrainingOutput>;
  },
  config: { commentsPerWindow: number; commentWindowSeconds: number },
): EngagementDomain {
  const notifications = new NotificationService({ sql: deps.sql, logger: deps.logger, bus: deps.bus, accounts: deps.accounts, profiles: deps.profiles });
  const onReply = async (parentAuthor: string, reply: CommentView) => {
    await notifications.notify(parentAuthor, 'comment.reply', {
      titleId: reply.titleId, parentId: reply.parentId, commentId: reply.id, author: reply.author.name, body: reply.body.slice(0, 200),
    });
  };
  return {
    notifications,
    watching: new WatchingService({ sql: deps.sql, catalog: deps.catalog, onView: deps.onView }),
    social: new SocialService({ sql: deps.sql, liveState: deps.liveState, catalog: deps.catalog, profiles: deps.profiles, onReply }, config),
    recommendations: new RecommendationService({ sql: deps.sql, liveState: deps.liveState, catalog: deps.catalog, logger: deps.logger, train: deps.train ?? trainInChild }),
  };
}
