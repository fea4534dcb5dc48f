import type { LiveState, Logger, Sql } from '../../platform/index.js';
import type { TitleView } from '../contract.js';
import { requireProfile, type Catalog, type Viewer } from '../catalog/index.js';
import type { TrainingInput, TrainingOutput } from './recs-training.js';

/** Recommendations stored per profile. */
const STORED_PER_PROFILE = 50;
/** A served list stays in LiveState this long (a refresh or a finished title changes it sooner). */
const SERVED_TTL_MS = 10 * 60_000;

/** Where a served list came from. */
export type RecommendationSource = 'personal' | 'popular-in-genres' | 'popular';

/** GET /v1/profiles/:id/recommendations. */
export interface RecommendationsView {
  items: TitleView[];
  source: RecommendationSource;
  computedAt: string | null;
}

/** What one refresh did. */
export interface RefreshReport {
  profiles: number;
  titles: number;
  interactions: number;
  trainingSeconds: number;
}

/**
 * Implicit feedback of one interaction: a finished title 1, one watched a while 0.5, a glance 0.2; a
 * like adds 1, a rating of 4-5 adds 1 (a rating of 1-2 excludes the title instead).
 */
function progressWeight(finished: boolean, positionSeconds: number): number {
  if (finished) return 1;
  return positionSeconds >= 60 ? 0.5 : 0.2;
}

/**
 * Per-profile recommendations: a scheduled job trains the hybrid recommender (recommender.ts) on
 * every profile's watch history, likes and ratings in a child process and stores each profile's
 * top 50; serving filters them again (maturity ceiling, published, finished since) and caches the
 * answer. Profiles with no history get the popular titles of the genres they touched, or the
 * popular titles overall.
 */
export class RecommendationService {
  constructor(
    private readonly deps: {
      sql: Sql;
      liveState: LiveState;
      catalog: Catalog;
      logger: Logger;
      train: (input: TrainingInput, signal?: AbortSignal) => Promise<TrainingOutput>;
    },
  ) {}

  /** Recomputes and stores every profile's recommendations. */
  async refresh(signal?: AbortSignal): Promise<RefreshReport> {
    const titles = await this.deps.catalog.recommendable();
    const itemIndex = new Map(titles.map((t, i) => [t.id, i]));
    const [progress, likes, ratings] = await Promise.all([
      this.deps.sql.query<{ profile_id: string; title_id: string; finished: boolean; position_seconds: number }>(`SELECT profile_id, title_id, finished, position_seconds FROM watch_progress`),
      this.deps.sql.query<{ profile_id: string; title_id: string }>(`SELECT profile_id, title_id FROM title_likes`),
      this.deps.sql.query<{ profile_id: string; title_id: string; value: number }>(`SELECT profile_id, title_id, value FROM title_ratings`),
    ]);
    const series = await this.deps.catalog.seriesOf([...new Set([...progress, ...likes, ...ratings].map((p) => p.title_id))]);
    const profileIndex = new Map<string, number>();
    const profiles: string[] = [];
    const user = (id: string) => {
      let u = profileIndex.get(id);
      if (u === undefined) {
        u = profiles.length;
        profileIndex.set(id, u);
        profiles.push(id);
      }
      return u;
    };
    const triples: number[] = [];
    const exclude: number[][] = [];
    const add = (profileId: string, titleId: string, weight: number) => {
      const i = itemIndex.get(series.get(titleId) ?? titleId);
      if (i === undefined) return;
      triples.push(user(profileId), i, weight);
    };
    for (const p of progress) add(p.profile_id, p.title_id, progressWeight(p.finished, p.position_seconds));
    for (const l of likes) add(l.profile_id, l.title_id, 1);
    for (const r of ratings) {
      if (r.value >= 4) add(r.profile_id, r.title_id, 1);
      else if (r.value <= 2) {
        const i = itemIndex.get(series.get(r.title_id) ?? r.title_id);
        if (i !== undefined) (exclude[user(r.profile_id)] ??= []).push(i);
      }
    }
    const now = new Date();
    let output: TrainingOutput = { recommendations: [], knnOptions: { neighbours: 0, shrink: 0 }, blend: { content: 0, popularity: 0 }, seconds: 0 };
    if (profiles.length && titles.length) {
      output = await this.deps.train(
        {
          nUsers: profiles.length,
          nItems: titles.length,
          triples,
          itemTokens: titles.map((t) => [...t.genres.map((g) => `g:${g}`), ...t.tags.map((x) => `t:${x.toLowerCase()}`), ...t.cast_names.map((c) => `c:${c.toLowerCase()}`)]),
          exclude,
          perUser: STORED_PER_PROFILE,
        },
        signal,
      );
    }
    for (let start = 0; start < profiles.length; start += 500) {
      const batch = profiles.slice(start, start + 500);
      await this.deps.sql.query(
        `INSERT INTO recommendations (profile_id, title_ids, computed_at)
         SELECT b.profile_id, ARRAY(SELECT e::uuid FROM jsonb_array_elements_text(b.ids) WITH ORDINALITY AS x(e, n) ORDER BY n), $3 FROM unnest($1::uuid[], $2::jsonb[]) AS b(profile_id, ids)
         ON CONFLICT (profile_id) DO UPDATE SET title_ids = EXCLUDED.title_ids, computed_at = EXCLUDED.computed_at`,
        [batch, batch.map((_, k) => JSON.stringify((output.recommendations[start + k] ?? []).map((i) => titles[i].id))), now],
      );
    }
    await this.deps.liveState.incr('recs:generation', 365 * 86_400_000);
    const report = { profiles: profiles.length, titles: titles.length, interactions: triples.length / 3, trainingSeconds: Math.round(output.seconds * 100) / 100 };
    this.deps.logger.info({ ...report, knn: output.knnOptions, blend: output.blend }, 'recommendations refreshed');
    return report;
  }

  /** The profile's recommendations, visible to it and never a title it finished. */
  async forProfile(viewer: Viewer, limit: number): Promise<RecommendationsView> {
    const profile = requireProfile(viewer);
    const generation = (await this.deps.liveState.get('recs:generation')) ?? '0';
    const key = `recs:served:${generation}:${profile.id}`;
    const cached = await this.deps.liveState.get(key);
    let answer: { ids: string[]; source: RecommendationSource; computedAt: string | null };
    if (cached) answer = JSON.parse(cached) as typeof answer;
    else {
      answer = await this.compute(profile);
      await this.deps.liveState.set(key, JSON.stringify(answer), SERVED_TTL_MS);
    }
    // Finished since the list was made (or cached) is still never recommended.
    const finished = new Set(
      (await this.deps.sql.query<{ title_id: string }>(`SELECT title_id FROM watch_progress WHERE profile_id = $1 AND finished AND title_id = ANY($2::uuid[])`, [profile.id, answer.ids])).map((r) => r.title_id),
    );
    const items = await this.deps.catalog.visibleByIds(profile.maturityCeiling, answer.ids.filter((id) => !finished.has(id)).slice(0, limit * 2));
    return { items: items.slice(0, limit), source: answer.source, computedAt: answer.computedAt };
  }

  private async compute(profile: NonNullable<Viewer['profile']>): Promise<{ ids: string[]; source: RecommendationSource; computedAt: string | null }> {
    const [stored] = await this.deps.sql.query<{ title_ids: string[]; computed_at: Date }>(`SELECT title_ids, computed_at FROM recommendations WHERE profile_id = $1`, [profile.id]);
    const seen = new Set(
      (await this.deps.sql.query<{ title_id: string }>(
        `SELECT title_id FROM watch_progress WHERE profile_id = $1 UNION SELECT title_id FROM title_likes WHERE profile_id = $1 UNION SELECT title_id FROM title_ratings WHERE profile_id = $1`,
        [profile.id],
      )).map((r) => r.title_id),
    );
    const visible = stored && (await this.deps.catalog.visibleByIds(profile.maturityCeiling, stored.title_ids.filter((id) => !seen.has(id))));
    if (stored && visible && visible.length) return { ids: visible.map((t) => t.id), source: 'personal', computedAt: new Date(stored.computed_at).toISOString() };
    // Cold start: the profile's favourite genres from what it touched, else what everyone watches.
    const touched = await this.deps.catalog.rowsByIds([...seen]);
    const counts = new Map<string, number>();
    for (const t of touched) for (const g of t.genres) counts.set(g, (counts.get(g) ?? 0) + 1);
    const favourites = [...counts.entries()].sort((a, b) => b[1] - a[1]).slice(0, 3).map(([g]) => g);
    const series = await this.deps.catalog.seriesOf([...seen]);
    const exclude = new Set([...seen, ...series.values()]);
    const popular = async (genres: string[]) => (await this.deps.catalog.popularIds(profile.maturityCeiling, genres, STORED_PER_PROFILE + exclude.size)).filter((id) => !exclude.has(id));
    if (favourites.length) {
      const ids = await popular(favourites);
      if (ids.length) return { ids, source: 'popular-in-genres', computedAt: null };
    }
    return { ids: await popular([]), source: 'popular', computedAt: null };
  }
}
