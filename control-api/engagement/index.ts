/**
 * The engagement domain's face: what profiles do with titles (progress, views, history, continue
 * watching, My List, likes, ratings, comments). It reads titles only through the catalog's face.
 */
import type { LiveState, Logger, Sql } from '../../platform/index.js';
import type { Catalog } from '../catalog/index.js';
import { SocialService, type ProfileNames } from './social.js';
import { WatchingService } from './watching.js';
import { RecommendationService } from './recommendations.js';
import { trainInChild, type TrainingInput, type TrainingOutput } from './recs-training.js';

export { engagementMigrations } from './migrations.js';
export { engagementRoutes, type EngagementRouteDeps } from './routes.js';
export type { CommentView } from './social.js';
export type { ContinueItem, ProgressView } from './watching.js';
export type { RecommendationsView, RefreshReport } from './recommendations.js';

/** The engagement services. */
export interface EngagementDomain {
  watching: WatchingService;
  social: SocialService;
  recommendations: RecommendationService;
}

/** Builds engagement over its ports and the catalog's face; `onView` hears of each new play session. */
export function createEngagement(
  deps: {
    sql: Sql;
    liveState: LiveState;
    logger: Logger;
    catalog: Catalog;
    profiles: ProfileNames;
    onView?: () => Promise<void>;
    /** Trains the recommender (default: in a child process). */
    train?: (input: TrainingInput, signal?: AbortSignal) => Promise<TrainingOutput>;
  },
  config: { commentsPerWindow: number; commentWindowSeconds: number },
): EngagementDomain {
  return {
    watching: new WatchingService({ sql: deps.sql, catalog: deps.catalog, onView: deps.onView }),
    social: new SocialService({ sql: deps.sql, liveState: deps.liveState, catalog: deps.catalog, profiles: deps.profiles }, config),
    recommendations: new RecommendationService({ sql: deps.sql, liveState: deps.liveState, catalog: deps.catalog, logger: deps.logger, train: deps.train ?? trainInChild }),
  };
}
