import type { LiveState, Sql } from '../../platform/index.js';
import type { MaturityRating, TitleView } from '../contract.js';
import { badRequest } from '../http/http-errors.js';
import type { CollectionService, CollectionView } from './collections.js';
import { maturityRank, requireProfile, TITLE_COLUMNS, type TitleRow, type TitleService, type Viewer, visibleTo } from './titles.js';

/** Most items a row holds (its pages go through GET /v1/browse/rows/{id}). */
export const ROW_MAX_ITEMS = 100;
/** Shared rows are cached this long at most. */
const ROW_TTL_MS = 5 * 60_000;
/** Titles sharing each of tags, cast and genres that "because you watched" ranks. */
const SIMILAR_CANDIDATES = 300;
/** "Because you watched" rows per page, from the most recently watched titles. */
const BECAUSE_ROWS = 2;

/** What browse needs from the engagement domain. */
export interface BrowseSignals {
  continueWatching(viewer: Viewer, limit: number): Promise<{ title: TitleView }[]>;
  /** Title ids by recent views. */
  trending(limit: number): Promise<string[]>;
  /** Titles the profile watched lately, most recent first. */
  recentlyWatched(profileId: string, limit: number): Promise<string[]>;
  /** The profile's recommendations (title ids, best first). */
  recommended(viewer: Viewer, limit: number): Promise<string[]>;
}

/** A browse row. */
export interface BrowseRow {
  id: string;
  title: string;
  items: TitleView[];
  nextCursor: string | null;
}

interface RowSpec {
  id: string;
  title: string;
  /** Personal rows are computed per request; shared ones are cached per maturity ceiling. */
  personal: boolean;
  ids(ceiling: MaturityRating): Promise<string[]>;
}

/** Offset cursors for browse pages and row pages. */
function offsetOf(cursor: string | undefined): number {
  if (cursor === undefined) return 0;
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  if (!/^o:\d{1,4}$/.test(text)) throw badRequest('INVALID_CURSOR', 'cursor is not one this API returned');
  return Number(text.slice(2));
}
const offsetCursor = (n: number) => Buffer.from(`o:${n}`).toString('base64url');

/**
 * The home screen's rows for a profile: continue watching, trending now, recommended for you, new
 * releases, editors' collections, "because you watched X", then a row per genre. Shared rows are cached in LiveState
 * per maturity ceiling, keyed by a catalog version that publishing bumps and a views version that
 * new play sessions bump (at most every few seconds), so a cached row is never older than the
 * catalog it shows.
 */
export class BrowseService {
  constructor(
    private readonly deps: {
      sql: Sql;
      liveState: LiveState;
      titles: TitleService;
      collections: CollectionService;
      signals: BrowseSignals;
    },
  ) {}

  /** GET /v1/browse. */
  async browse(viewer: Viewer, opts: { rows: number; items: number; cursor?: string }): Promise<{ rows: BrowseRow[]; nextCursor: string | null }> {
    const profile = requireProfile(viewer);
    const specs = await this.specs(viewer);
    const start = offsetOf(opts.cursor);
    const pageSpecs = specs.slice(start, start + opts.rows);
    const rows = await Promise.all(pageSpecs.map((s) => this.row(s, profile.maturityCeiling, opts.items, 0)));
    return { rows: rows.filter((r) => r.items.length > 0), nextCursor: start + opts.rows < specs.length ? offsetCursor(start + opts.rows) : null };
  }

  private async row(s: RowSpec, ceiling: MaturityRating, limit: number, offset: number): Promise<BrowseRow> {
    const ids = await this.rowIds(s, ceiling);
    const slice = ids.slice(offset, offset + limit);
    const items = await this.deps.titles.visibleByIds(ceiling, slice);
    return { id: s.id, title: s.title, items, nextCursor: offset + limit < ids.length ? offsetCursor(offset + limit) : null };
  }

  /** GET /v1/browse/rows/:rowId: one row, paged. */
  async rowPage(viewer: Viewer, rowId: string, limit: number, cursor?: string): Promise<BrowseRow> {
    const profile = requireProfile(viewer);
    return this.row(await this.spec(viewer, rowId), profile.maturityCeiling, limit, offsetOf(cursor));
  }

  /** Bumps the catalog version: every cached row is recomputed on its next read. */
  async catalogChanged(): Promise<void> {
    await this.deps.liveState.incr('catalog:version', 365 * 86_400_000);
  }

  private lastViewBump = 0;

  /** New views: trending is recomputed, at most every 10 s. */
  async viewsChanged(now = Date.now()): Promise<void> {
    if (now - this.lastViewBump < 10_000) return;
    this.lastViewBump = now;
    await this.deps.liveState.incr('catalog:views-version', 365 * 86_400_000);
  }

  private async rowIds(s: RowSpec, ceiling: MaturityRating): Promise<string[]> {
    if (s.personal) return s.ids(ceiling);
    const [version, views] = await Promise.all([this.deps.liveState.get('catalog:version'), this.deps.liveState.get('catalog:views-version')]);
    const key = `catalog:row:${version ?? 0}:${s.id === 'trending' ? (views ?? 0) : 0}:${maturityRank(ceiling)}:${s.id}`;
    const cached = await this.deps.liveState.get(key);
    if (cached !== null) return JSON.parse(cached) as string[];
    const ids = await s.ids(ceiling);
    await this.deps.liveState.set(key, JSON.stringify(ids), ROW_TTL_MS);
    return ids;
  }

  /** One row by its id, without building the whole home screen. */
  private async spec(viewer: Viewer, rowId: string): Promise<RowSpec> {
    const fixed = this.fixedSpecs(viewer).find((s) => s.id === rowId);
    if (fixed) return fixed;
    const [, kind, key] = /^(collection|genre|because):(.+)$/.exec(rowId) ?? [];
    if (kind === 'collection') {
      const col = await this.deps.collections.get(key).catch(() => undefined);
      if (col) return this.collectionSpec(col);
    } else if (kind === 'genre') {
      const genre = (await this.deps.titles.genres()).find((g) => g.slug === key);
      if (genre) return this.genreSpec(genre);
    } else if (kind === 'because') {
      const [t] = await this.deps.titles.visibleByIds(requireProfile(viewer).maturityCeiling, [key]);
      if (t) return this.becauseSpec(t.id, t.name);
    }
    throw badRequest('UNKNOWN_ROW', `no browse row ${rowId}`);
  }

  /** The rows every home screen has, whatever the catalog holds. */
  private fixedSpecs(viewer: Viewer): RowSpec[] {
    return [
      {
        id: 'continue-watching', title: 'Continue watching', personal: true,
        ids: async () => (await this.deps.signals.continueWatching(viewer, ROW_MAX_ITEMS)).map((c) => c.title.id),
      },
      { id: 'trending', title: 'Trending now', personal: false, ids: (c) => this.trendingIds(c) },
      { id: 'recommended', title: 'Recommended for you', personal: true, ids: () => this.deps.signals.recommended(viewer, ROW_MAX_ITEMS / 2) },
      { id: 'new', title: 'New releases', personal: false, ids: (c) => this.newIds(c) },
    ];
  }

  private collectionSpec(col: CollectionView): RowSpec {
    return { id: `collection:${col.id}`, title: col.name, personal: false, ids: async (c) => (await this.deps.titles.visibleByIds(c, col.titleIds)).map((t) => t.id) };
  }

  private genreSpec(g: { slug: string; name: string }): RowSpec {
    return { id: `genre:${g.slug}`, title: g.name, personal: false, ids: (c) => this.genreIds(g.slug, c) };
  }

  /** Every row of the profile's home screen, in order. */
  private async specs(viewer: Viewer): Promise<RowSpec[]> {
    const profile = requireProfile(viewer);
    const [collections, genres, recent] = await Promise.all([
      this.deps.collections.list(),
      this.deps.titles.genres(),
      this.deps.signals.recentlyWatched(profile.id, 10),
    ]);
    // An episode watched stands for its series.
    const recentTitles = await this.deps.titles.visibleByIds(profile.maturityCeiling, recent);
    const sources = [...new Set(recentTitles.map((t) => t.seriesId ?? t.id))].slice(0, BECAUSE_ROWS);
    const because = await this.deps.titles.visibleByIds(profile.maturityCeiling, sources);
    return [
      ...this.fixedSpecs(viewer),
      ...collections.map((col) => this.collectionSpec(col)),
      ...because.map((t) => this.becauseSpec(t.id, t.name)),
      ...genres.map((g) => this.genreSpec(g)),
    ];
  }

  private becauseSpec(titleId: string, name: string): RowSpec {
    return { id: `because:${titleId}`, title: `Because you watched ${name}`, personal: false, ids: (c) => this.similarIds(titleId, c) };
  }

  private async trendingIds(ceiling: MaturityRating): Promise<string[]> {
    const ids = await this.deps.signals.trending(ROW_MAX_ITEMS * 3);
    // Episodes trend as their series.
    const rows = await this.deps.titles.rowsByIds(ids);
    const byId = new Map(rows.map((r) => [r.id, r]));
    const lifted = [...new Set(ids.flatMap((id) => (byId.get(id) ? [byId.get(id)!.series_id ?? id] : [])))];
    return (await this.deps.titles.visibleByIds(ceiling, lifted)).slice(0, ROW_MAX_ITEMS).map((t) => t.id);
  }

  private async newIds(ceiling: MaturityRating): Promise<string[]> {
    const rows = await this.deps.sql.query<{ id: string }>(
      `SELECT t.id FROM titles t WHERE ${visibleTo('$1')} AND t.type <> 'episode' ORDER BY t.published_at DESC, t.id DESC LIMIT $2`,
      [maturityRank(ceiling), ROW_MAX_ITEMS],
    );
    return rows.map((r) => r.id);
  }

  private async genreIds(genre: string, ceiling: MaturityRating): Promise<string[]> {
    const rows = await this.deps.sql.query<{ id: string }>(
      `SELECT t.id FROM titles t WHERE ${visibleTo('$1')} AND t.type <> 'episode' AND t.genres @> ARRAY[$2]::text[]
        ORDER BY t.popularity DESC, t.published_at DESC, t.id LIMIT $3`,
      [maturityRank(ceiling), genre, ROW_MAX_ITEMS],
    );
    return rows.map((r) => r.id);
  }

  /**
   * Content-based neighbours of a title: shared genres, tags and cast, then popularity. Candidates
   * are the most viewed titles sharing a tag, a cast member or a genre (SIMILAR_CANDIDATES of each,
   * found through the popularity index), so the ranking never reads the whole catalog.
   */
  private async similarIds(titleId: string, ceiling: MaturityRating): Promise<string[]> {
    const [src] = await this.deps.titles.rowsByIds([titleId]);
    if (!src) return [];
    // The arrays go in as parameters (not a subquery), so the planner sees them and picks the GIN
    // index for rare tags and cast and the popularity index for broad genres.
    const branch = (column: string, param: string) =>
      `(SELECT t.id FROM titles t WHERE t.${column} && ${param}::text[] AND t.status = 'published' AND t.type <> 'episode'
         ORDER BY t.popularity DESC LIMIT ${SIMILAR_CANDIDATES})`;
    const rows = await this.deps.sql.query<TitleRow>(
      `WITH candidates AS (${branch('tags', '$4')} UNION ${branch('cast_names', '$5')} UNION ${branch('genres', '$6')})
       SELECT ${TITLE_COLUMNS} FROM titles t JOIN candidates c ON c.id = t.id
        WHERE ${visibleTo('$2')} AND t.id <> $1
        ORDER BY 2 * cardinality(ARRAY(SELECT unnest(t.genres) INTERSECT SELECT unnest($6::text[])))
               + cardinality(ARRAY(SELECT unnest(t.tags) INTERSECT SELECT unnest($4::text[])))
               + cardinality(ARRAY(SELECT unnest(t.cast_names) INTERSECT SELECT unnest($5::text[]))) DESC,
                 t.popularity DESC, t.id
        LIMIT $3`,
      [titleId, maturityRank(ceiling), ROW_MAX_ITEMS, src.tags, src.cast_names, src.genres],
    );
    return rows.map((r) => r.id);
  }
}
