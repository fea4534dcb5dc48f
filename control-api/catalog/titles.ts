import crypto from 'node:crypto';
import { AppError, isUniqueViolation, sqlState, type Sql } from '../../platform/index.js';
import type { Viewer } from '../accounts/viewer.js';
import { MATURITY_RATINGS, type AssetView, type MaturityRating, type TitleType, type TitleView } from '../contract.js';
import { decodeCursor, encodeCursor } from '../http/cursor.js';
import { badRequest, conflict, forbidden, isUuid, notFound } from '../http/http-errors.js';

export type { Viewer };

/** The part of the media domain the catalog needs: an asset of the account, with its status. */
export interface AssetLookup {
  get(accountId: string, id: string): Promise<AssetView>;
}

/** A title's row. */
export interface TitleRow {
  id: string;
  account_id: string;
  type: TitleType;
  name: string;
  description: string;
  genres: string[];
  release_date: string | Date | null;
  release_year: number | null;
  maturity_rating: MaturityRating;
  maturity_rank: number;
  languages: string[];
  subtitle_languages: string[];
  cast_names: string[];
  tags: string[];
  asset_id: string | null;
  series_id: string | null;
  season: number | null;
  episode: number | null;
  downloadable: boolean;
  required_plan: string | null;
  status: 'draft' | 'published';
  published_at: Date | null;
  duration_seconds: number | null;
  poster_url: string | null;
  popularity: string | number;
  like_count: number;
  rating_sum: number;
  rating_count: number;
  created_at: Date;
  updated_at: Date;
}

/** Fields of a title a creator sets. */
export interface TitleInput {
  type?: TitleType;
  name?: string;
  description?: string;
  genres?: string[];
  releaseDate?: string | null;
  maturityRating?: MaturityRating;
  languages?: string[];
  subtitleLanguages?: string[];
  cast?: string[];
  tags?: string[];
  assetId?: string | null;
  seriesId?: string | null;
  season?: number | null;
  episode?: number | null;
  downloadable?: boolean;
  requiredPlan?: string | null;
}

/** Filters of GET /v1/titles. */
export interface TitleFilters {
  owner?: 'me';
  type?: TitleType;
  genre?: string;
  year?: number;
  yearFrom?: number;
  yearTo?: number;
  rating?: MaturityRating;
  language?: string;
  limit: number;
  cursor?: string;
}

/** Position of a rating on the MATURITY_RATINGS scale. */
export function maturityRank(rating: MaturityRating): number {
  return MATURITY_RATINGS.indexOf(rating);
}

/**
 * SQL condition (over alias `t`) for "a viewer whose ceiling has rank $n may see this title":
 * published, rated at or below the ceiling, and for an episode, its series too.
 */
export function visibleTo(rankParam: string): string {
  // A scalar subquery, not EXISTS: the planner would hash EXISTS into one scan of every title; this
  // stays one primary-key lookup per episode row.
  return `t.status = 'published' AND t.maturity_rank <= ${rankParam}
    AND (t.series_id IS NULL OR (SELECT s.status = 'published' AND s.maturity_rank <= ${rankParam} FROM titles s WHERE s.id = t.series_id))`;
}

function day(d: string | Date | null): string | null {
  if (d === null) return null;
  if (typeof d === 'string') return d.slice(0, 10);
  // A DATE arrives as local midnight from both drivers; read it back in local time.
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
}

/** The API view of a title row. */
export function toTitleView(row: TitleRow): TitleView {
  const iso = (d: Date | null) => (d ? new Date(d).toISOString() : null);
  return {
    id: row.id,
    type: row.type,
    name: row.name,
    description: row.description,
    genres: row.genres,
    releaseDate: day(row.release_date),
    year: row.release_year,
    maturityRating: row.maturity_rating,
    languages: row.languages,
    subtitleLanguages: row.subtitle_languages,
    cast: row.cast_names,
    tags: row.tags,
    assetId: row.asset_id,
    seriesId: row.series_id,
    season: row.season,
    episode: row.episode,
    downloadable: row.downloadable,
    requiredPlan: row.required_plan,
    status: row.status,
    publishedAt: iso(row.published_at),
    durationSeconds: row.duration_seconds,
    poster: row.poster_url,
    likes: row.like_count,
    rating: { average: row.rating_count ? Math.round((row.rating_sum / row.rating_count) * 100) / 100 : null, count: row.rating_count },
    createdAt: new Date(row.created_at).toISOString(),
    updatedAt: new Date(row.updated_at).toISOString(),
  };
}

/** Columns a title list selects (everything but the search document). */
export const TITLE_COLUMNS = `t.id, t.account_id, t.type, t.name, t.description, t.genres, t.release_date, t.release_year,
  t.maturity_rating, t.maturity_rank, t.languages, t.subtitle_languages, t.cast_names, t.tags, t.asset_id, t.series_id,
  t.season, t.episode, t.downloadable, t.required_plan, t.status, t.published_at, t.duration_seconds, t.poster_url,
  t.popularity, t.like_count, t.rating_sum, t.rating_count, t.created_at, t.updated_at`;

/** A page of titles. */
export interface TitlePageView {
  items: TitleView[];
  nextCursor: string | null;
}

/**
 * Titles: movies, series and their episodes. Creators manage their own (admins any); viewers read the
 * published ones their profile's maturity ceiling allows, and a title they may not see is a 404.
 */
export class TitleService {
  constructor(
    private readonly deps: {
      sql: Sql;
      assets: AssetLookup;
      onChange?: () => Promise<void>;
      /** A title was published for the first time (new-episode notifications). */
      onFirstPublish?: (title: TitleView) => Promise<void>;
    },
  ) {}

  /** Creates a draft title; an episode names its series, season and episode number. */
  async create(viewer: Viewer, input: TitleInput & { type: TitleType; name: string; maturityRating: MaturityRating }): Promise<TitleView> {
    this.mayCreate(viewer);
    await this.checkGenres(input.genres);
    if (input.type === 'episode') {
      if (!input.seriesId || input.season == null || input.episode == null) {
        throw badRequest('EPISODE_NEEDS_SERIES', 'an episode needs seriesId, season and episode');
      }
      const series = await this.owned(viewer, input.seriesId);
      if (series.type !== 'series') throw badRequest('NOT_A_SERIES', 'seriesId must name a title of type series');
    } else if (input.seriesId || input.season != null || input.episode != null) {
      throw badRequest('NOT_AN_EPISODE', 'seriesId, season and episode are for episodes');
    }
    if (input.type === 'series' && input.assetId) throw badRequest('SERIES_HAS_NO_ASSET', 'a series plays through its episodes: no assetId');
    if (input.assetId) await this.deps.assets.get(viewer.accountId, input.assetId);
    const now = new Date();
    const release = input.releaseDate ?? null;
    try {
      const [row] = await this.deps.sql.query<TitleRow>(
        `INSERT INTO titles (id, account_id, type, name, description, genres, release_date, release_year, maturity_rating, maturity_rank,
                             languages, subtitle_languages, cast_names, tags, asset_id, series_id, season, episode, downloadable,
                             required_plan, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $21)
         RETURNING *`,
        [
          crypto.randomUUID(), viewer.accountId, input.type, input.name, input.description ?? '', input.genres ?? [], release,
          release ? Number(release.slice(0, 4)) : null, input.maturityRating, maturityRank(input.maturityRating),
          input.languages ?? [], input.subtitleLanguages ?? [], input.cast ?? [], input.tags ?? [], input.assetId ?? null,
          input.seriesId ?? null, input.season ?? null, input.episode ?? null, input.downloadable ?? false, input.requiredPlan ?? null, now,
        ],
      );
      return toTitleView(row);
    } catch (err) {
      throw episodeTaken(err);
    }
  }

  /**
   * One title. With a profile: only if that profile may see it (else 404), a series with the episodes
   * it may see. Without one: the owner's (or an admin's) own view, drafts included; anyone else is
   * asked for a profile (400 PROFILE_REQUIRED).
   */
  async get(viewer: Viewer, id: string): Promise<TitleView> {
    const row = viewer.profile ? await this.visibleRow(viewer.profile.maturityCeiling, id) : await this.owned(viewer, id, true);
    const view = toTitleView(row);
    if (row.type === 'series') view.seasons = await this.seasons(row.id, viewer.profile?.maturityCeiling);
    return view;
  }

  /** A published title the ceiling allows, or 404. */
  async visibleRow(ceiling: MaturityRating, id: string): Promise<TitleRow> {
    if (!isUuid(id)) throw notFound('title');
    const [row] = await this.deps.sql.query<TitleRow>(`SELECT ${TITLE_COLUMNS} FROM titles t WHERE t.id = $1 AND ${visibleTo('$2')}`, [id, maturityRank(ceiling)]);
    if (!row) throw notFound('title');
    return row;
  }

  /**
   * A published movie or episode the ceiling allows, with its asset: 404 unpublished (or unknown),
   * 403 MATURITY_RESTRICTED above the ceiling, 400 NOT_PLAYABLE for a series, 409 TITLE_NOT_PLAYABLE
   * when its asset is gone.
   */
  async playable(ceiling: MaturityRating, id: string): Promise<TitleView & { assetId: string }> {
    const row = await this.visibleRow('NC-17', id);
    if (row.maturity_rank > maturityRank(ceiling)) throw new AppError(403, 'MATURITY_RESTRICTED', `this title is rated ${row.maturity_rating}, above the profile's ceiling of ${ceiling}`);
    await this.visibleRow(ceiling, id); // an episode of a series above the ceiling
    if (row.type === 'series') throw badRequest('NOT_PLAYABLE', 'a series plays through its episodes');
    if (!row.asset_id) throw conflict('TITLE_NOT_PLAYABLE', 'the title has no media (its asset was deleted)');
    return { ...toTitleView(row), assetId: row.asset_id };
  }

  /** A published title for its public share page (any rating: the page shows what a poster would), else 404. */
  async publicRow(id: string): Promise<TitleView> {
    return toTitleView(await this.visibleRow('NC-17', id));
  }

  /** The titles among `ids` the ceiling allows, in the order of `ids`. */
  async visibleByIds(ceiling: MaturityRating, ids: readonly string[]): Promise<TitleView[]> {
    const valid = ids.filter(isUuid);
    if (valid.length === 0) return [];
    const rows = await this.deps.sql.query<TitleRow>(`SELECT ${TITLE_COLUMNS} FROM titles t WHERE t.id = ANY($1::uuid[]) AND ${visibleTo('$2')}`, [valid, maturityRank(ceiling)]);
    const byId = new Map(rows.map((r) => [r.id, r]));
    return valid.flatMap((id) => {
      const row = byId.get(id);
      return row ? [toTitleView(row)] : [];
    });
  }

  /** Every published movie and series with what the content model reads (the recommender's catalog). */
  async recommendable(): Promise<{ id: string; genres: string[]; tags: string[]; cast_names: string[]; description: string }[]> {
    return this.deps.sql.query(`SELECT id, genres, tags, cast_names, description FROM titles WHERE status = 'published' AND type <> 'episode' ORDER BY id`);
  }

  /** Episode → series for every episode among `ids` (the recommender counts episodes as their series). */
  async seriesOf(ids: readonly string[]): Promise<Map<string, string>> {
    const valid = ids.filter(isUuid);
    if (valid.length === 0) return new Map();
    const rows = await this.deps.sql.query<{ id: string; series_id: string }>(`SELECT id, series_id FROM titles WHERE id = ANY($1::uuid[]) AND series_id IS NOT NULL`, [valid]);
    return new Map(rows.map((r) => [r.id, r.series_id]));
  }

  /** The most viewed movies and series the ceiling allows, in any of `genres` (all when empty). */
  async popularIds(ceiling: MaturityRating, genres: readonly string[], limit: number): Promise<string[]> {
    const rows = await this.deps.sql.query<{ id: string }>(
      `SELECT t.id FROM titles t WHERE ${visibleTo('$1')} AND t.type <> 'episode' AND (cardinality($2::text[]) = 0 OR t.genres && $2::text[])
        ORDER BY t.popularity DESC, t.published_at DESC, t.id LIMIT $3`,
      [maturityRank(ceiling), genres, limit],
    );
    return rows.map((r) => r.id);
  }

  /** Rows of any status by id (the engagement domain's read of what a title is: type, series, order, duration). */
  async rowsByIds(ids: readonly string[]): Promise<TitleRow[]> {
    const valid = ids.filter(isUuid);
    if (valid.length === 0) return [];
    return this.deps.sql.query<TitleRow>(`SELECT ${TITLE_COLUMNS} FROM titles t WHERE t.id = ANY($1::uuid[])`, [valid]);
  }

  /** The episode after this one in its series (next number, then the next season's first), visible to the ceiling. */
  async nextEpisode(ceiling: MaturityRating, episode: Pick<TitleRow, 'series_id' | 'season' | 'episode'>): Promise<TitleView | undefined> {
    if (!episode.series_id) return undefined;
    const [row] = await this.deps.sql.query<TitleRow>(
      `SELECT ${TITLE_COLUMNS} FROM titles t
        WHERE t.series_id = $1 AND (t.season, t.episode) > ($2, $3) AND ${visibleTo('$4')}
        ORDER BY t.season, t.episode LIMIT 1`,
      [episode.series_id, episode.season, episode.episode, maturityRank(ceiling)],
    );
    return row && toTitleView(row);
  }

  /** Changes a title the viewer owns (or any, for an admin). */
  async update(viewer: Viewer, id: string, patch: TitleInput): Promise<TitleView> {
    const row = await this.owned(viewer, id);
    await this.checkGenres(patch.genres);
    if (row.type === 'series' && patch.assetId) throw badRequest('SERIES_HAS_NO_ASSET', 'a series plays through its episodes: no assetId');
    if (row.type !== 'episode' && (patch.season != null || patch.episode != null)) throw badRequest('NOT_AN_EPISODE', 'season and episode are for episodes');
    if (row.type === 'episode' && (patch.season === null || patch.episode === null)) throw badRequest('EPISODE_NEEDS_SERIES', 'an episode keeps its season and episode');
    if (patch.assetId) await this.deps.assets.get(row.account_id, patch.assetId);
    const pick = <K extends keyof TitleInput>(k: K, current: unknown) => (patch[k] === undefined ? current : patch[k]);
    const release = pick('releaseDate', day(row.release_date)) as string | null;
    const rating = pick('maturityRating', row.maturity_rating) as MaturityRating;
    try {
      const [updated] = await this.deps.sql.query<TitleRow>(
        `UPDATE titles SET name = $2, description = $3, genres = $4, release_date = $5, release_year = $6, maturity_rating = $7,
                maturity_rank = $8, languages = $9, subtitle_languages = $10, cast_names = $11, tags = $12, asset_id = $13,
                season = $14, episode = $15, downloadable = $16, required_plan = $17, updated_at = $18
          WHERE id = $1 RETURNING *`,
        [
          id, pick('name', row.name), pick('description', row.description), pick('genres', row.genres), release,
          release ? Number(release.slice(0, 4)) : null, rating, maturityRank(rating), pick('languages', row.languages),
          pick('subtitleLanguages', row.subtitle_languages), pick('cast', row.cast_names), pick('tags', row.tags),
          pick('assetId', row.asset_id), pick('season', row.season), pick('episode', row.episode),
          pick('downloadable', row.downloadable), pick('requiredPlan', row.required_plan), new Date(),
        ],
      );
      if (row.status === 'published') await this.changed();
      return toTitleView(updated);
    } catch (err) {
      throw episodeTaken(err);
    }
  }

  /** Deletes a title (a series with its episodes). */
  async delete(viewer: Viewer, id: string): Promise<void> {
    const row = await this.owned(viewer, id);
    await this.deps.sql.query(`DELETE FROM titles WHERE id = $1`, [id]);
    if (row.status === 'published') await this.changed();
  }

  /**
   * Publishes a title: a movie or episode only once its asset is ready (409 ASSET_REQUIRED,
   * ASSET_NOT_READY), taking the asset's duration and poster. Publishing again is a no-op.
   */
  async publish(viewer: Viewer, id: string): Promise<TitleView> {
    const row = await this.owned(viewer, id);
    let duration: number | null = null;
    let poster: string | null = null;
    if (row.type !== 'series') {
      if (!row.asset_id) throw conflict('ASSET_REQUIRED', `a ${row.type} is published with its asset: set assetId first`);
      const asset = await this.deps.assets.get(row.account_id, row.asset_id);
      if (asset.status !== 'ready') throw conflict('ASSET_NOT_READY', `the asset is ${asset.status}; a title is published once its asset is ready`);
      duration = asset.duration;
      poster = asset.thumbnails?.poster ?? null;
    }
    const [updated] = await this.deps.sql.query<TitleRow>(
      `UPDATE titles SET status = 'published', published_at = COALESCE(published_at, $2), duration_seconds = COALESCE($3, duration_seconds),
              poster_url = COALESCE($4, poster_url), updated_at = $2
        WHERE id = $1 RETURNING *`,
      [id, new Date(), duration, poster],
    );
    await this.changed();
    const view = toTitleView(updated);
    if (row.published_at === null) await this.deps.onFirstPublish?.(view);
    return view;
  }

  /** Takes a title out of the catalog (a draft again; published_at is kept for "new releases" order). */
  async unpublish(viewer: Viewer, id: string): Promise<TitleView> {
    await this.owned(viewer, id);
    const [updated] = await this.deps.sql.query<TitleRow>(`UPDATE titles SET status = 'draft', updated_at = $2 WHERE id = $1 RETURNING *`, [id, new Date()]);
    await this.changed();
    return toTitleView(updated);
  }

  /**
   * GET /v1/titles. `owner=me`: the viewer's own titles, newest created first, drafts included.
   * Otherwise the published titles the profile may see, newest published first, with filters.
   */
  async list(viewer: Viewer, f: TitleFilters): Promise<TitlePageView> {
    const where: string[] = [];
    const params: unknown[] = [];
    const p = (v: unknown) => {
      params.push(v);
      return `$${params.length}`;
    };
    const own = f.owner === 'me';
    const order = own ? 't.created_at' : 't.published_at';
    if (own) {
      where.push(`t.account_id = ${p(viewer.accountId)}`);
      if (viewer.profile) where.push(`t.maturity_rank <= ${p(maturityRank(viewer.profile.maturityCeiling))}`);
    } else {
      const ceiling = requireProfile(viewer).maturityCeiling;
      where.push(visibleTo(p(maturityRank(ceiling))));
      // Lists show movies and series; episodes are reached through their series (or type=episode).
      if (!f.type) where.push(`t.type <> 'episode'`);
    }
    if (f.type) where.push(`t.type = ${p(f.type)}`);
    if (f.genre) where.push(`t.genres @> ARRAY[${p(f.genre)}]::text[]`);
    if (f.language) where.push(`t.languages @> ARRAY[${p(f.language)}]::text[]`);
    if (f.year !== undefined) where.push(`t.release_year = ${p(f.year)}`);
    if (f.yearFrom !== undefined) where.push(`t.release_year >= ${p(f.yearFrom)}`);
    if (f.yearTo !== undefined) where.push(`t.release_year <= ${p(f.yearTo)}`);
    if (f.rating) where.push(`t.maturity_rating = ${p(f.rating)}`);
    if (f.cursor !== undefined) {
      const after = decodeCursor(f.cursor);
      where.push(`(${order}, t.id) < (${p(after.createdAt)}::timestamptz, ${p(after.id)}::uuid)`);
    }
    const rows = await this.deps.sql.query<TitleRow>(
      `SELECT ${TITLE_COLUMNS} FROM titles t WHERE ${where.join(' AND ')} ORDER BY ${order} DESC, t.id DESC LIMIT ${p(f.limit + 1)}`,
      params,
    );
    return pageOf(rows, f.limit, (r) => ({ created_at: (own ? r.created_at : r.published_at) as Date, id: r.id }));
  }

  /** One more view (a play session started) of a title, and of its series. */
  async addView(titleId: string): Promise<void> {
    await this.deps.sql.query(
      `UPDATE titles SET popularity = popularity + 1 WHERE id = $1 OR id = (SELECT series_id FROM titles WHERE id = $1)`,
      [titleId],
    );
  }

  /**
   * Moves a title's like and rating counters inside the caller's transaction, after locking the
   * title row, so concurrent likes and ratings of one title are counted exactly.
   */
  async lockForCounters(q: Sql, titleId: string): Promise<void> {
    const rows = await q.query(`SELECT id FROM titles WHERE id = $1 FOR UPDATE`, [titleId]);
    if (rows.length === 0) throw notFound('title');
  }

  /** Adds to the counters of a title locked by lockForCounters. */
  async addToCounters(q: Sql, titleId: string, delta: { likes?: number; ratingSum?: number; ratingCount?: number }): Promise<void> {
    await q.query(
      `UPDATE titles SET like_count = like_count + $2, rating_sum = rating_sum + $3, rating_count = rating_count + $4 WHERE id = $1`,
      [titleId, delta.likes ?? 0, delta.ratingSum ?? 0, delta.ratingCount ?? 0],
    );
  }

  /** The managed genre list, by name. */
  async genres(): Promise<{ slug: string; name: string }[]> {
    return this.deps.sql.query(`SELECT slug, name FROM genres ORDER BY name`);
  }

  /** Adds a genre (admin); 409 GENRE_EXISTS. */
  async addGenre(viewer: Viewer, genre: { slug: string; name: string }): Promise<{ slug: string; name: string }> {
    if (viewer.role !== 'admin') throw forbidden('genres are managed by admins');
    const rows = await this.deps.sql.query<{ slug: string; name: string }>(
      `INSERT INTO genres (slug, name) VALUES ($1, $2) ON CONFLICT (slug) DO NOTHING RETURNING slug, name`,
      [genre.slug, genre.name],
    );
    if (rows.length === 0) throw conflict('GENRE_EXISTS', `genre ${genre.slug} exists`);
    return rows[0];
  }

  /** A title the viewer may manage (its own; any for an admin), else 404; `read` also admits a missing profile. */
  private async owned(viewer: Viewer, id: string, read = false): Promise<TitleRow> {
    if (!isUuid(id)) throw notFound('title');
    const [row] = await this.deps.sql.query<TitleRow>(`SELECT ${TITLE_COLUMNS} FROM titles t WHERE t.id = $1`, [id]);
    if (!row || (row.account_id !== viewer.accountId && viewer.role !== 'admin')) {
      if (read) requireProfile(viewer);
      throw notFound('title');
    }
    return row;
  }

  private mayCreate(viewer: Viewer): void {
    if (viewer.role === 'viewer') throw forbidden('titles are created by creators and admins');
  }

  private async checkGenres(genres: string[] | undefined): Promise<void> {
    if (!genres?.length) return;
    const known = await this.deps.sql.query<{ slug: string }>(`SELECT slug FROM genres WHERE slug = ANY($1::text[])`, [genres]);
    const missing = genres.filter((g) => !known.some((k) => k.slug === g));
    if (missing.length) throw badRequest('UNKNOWN_GENRE', `unknown genre(s): ${missing.join(', ')} (GET /v1/genres lists them)`);
  }

  private async seasons(seriesId: string, ceiling?: MaturityRating): Promise<{ season: number; episodes: TitleView[] }[]> {
    const rows = await this.deps.sql.query<TitleRow>(
      `SELECT ${TITLE_COLUMNS} FROM titles t WHERE t.series_id = $1 ${ceiling ? `AND ${visibleTo('$2')}` : ''} ORDER BY t.season, t.episode`,
      ceiling ? [seriesId, maturityRank(ceiling)] : [seriesId],
    );
    const seasons: { season: number; episodes: TitleView[] }[] = [];
    for (const r of rows) {
      if (seasons.at(-1)?.season !== r.season) seasons.push({ season: r.season ?? 0, episodes: [] });
      seasons[seasons.length - 1].episodes.push(toTitleView(r));
    }
    return seasons;
  }

  private async changed(): Promise<void> {
    await this.deps.onChange?.();
  }
}

/** The viewer's profile; 400 PROFILE_REQUIRED on a viewer read without one. */
export function requireProfile(viewer: Viewer): NonNullable<Viewer['profile']> {
  if (!viewer.profile) throw badRequest('PROFILE_REQUIRED', 'send the active profile as the X-Profile-Id header or the profileId query parameter');
  return viewer.profile;
}

/** A keyset page: `limit` rows and the cursor after the last one when more exist. */
export function pageOf(rows: TitleRow[], limit: number, position: (r: TitleRow) => { created_at: Date; id: string }): TitlePageView {
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  return { items: page.map(toTitleView), nextCursor: rows.length > limit && last ? encodeCursor(position(last)) : null };
}

function episodeTaken(err: unknown): unknown {
  if (isUniqueViolation(err)) return conflict('EPISODE_EXISTS', 'the series already has an episode with this season and number');
  if (sqlState(err) === '23514') return new AppError(400, 'TITLE_INVALID', 'the title breaks a catalog rule (episodes need series, season and number)');
  return err;
}
