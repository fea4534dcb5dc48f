import type { Sql } from '../../platform/index.js';
import type { TitleView } from '../contract.js';
import { badRequest } from '../http/http-errors.js';
import { maturityRank, TITLE_COLUMNS, toTitleView, visibleTo, type TitleRow, type Viewer, requireProfile } from './titles.js';

/** One search hit. */
export interface SearchHit {
  title: TitleView;
  score: number;
  highlights: { name: string; description: string };
}

/** The words of a query as Unicode letters and digits, lower-cased (nothing else reaches tsquery syntax). */
export function queryWords(q: string): string[] {
  return (q.normalize('NFKC').toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? []).slice(0, 12);
}

/**
 * `to_tsquery('simple', …)` text matching every word as a prefix of a word of the name or the cast
 * ("inters" → `inters:*AB`), for search-as-you-type: the search document holds the name unstemmed as
 * well, so prefixes of whole words match. Weights A and B only: three letters that begin a common
 * word of every description would otherwise match (and rank) the whole catalog.
 */
export function prefixQuery(words: readonly string[]): string {
  return words.map((w) => `${w}:*AB`).join(' & ');
}

/** Offset cursor of a ranked result list (relevance order has no stable key to resume from). */
function decodeOffset(cursor: string | undefined): number {
  if (cursor === undefined) return 0;
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  if (!/^o:\d{1,5}$/.test(text)) throw badRequest('INVALID_CURSOR', 'cursor is not one this API returned');
  return Number(text.slice(2));
}

/**
 * Most matches ranked by relevance: a query as broad as two letters of search-as-you-type can match
 * a tenth of a catalog, so the most viewed MAX_CANDIDATES matches are ranked (for any narrower
 * query, that is all of them).
 */
const MAX_CANDIDATES = 2000;

const HEADLINE = `'StartSel=<mark>, StopSel=</mark>, HighlightAll=true'`;
const SNIPPET = `'StartSel=<mark>, StopSel=</mark>, MaxWords=35, MinWords=15, MaxFragments=2'`;

/**
 * Full-text search over the catalog with Postgres itself (same SQL on PGlite and Postgres): a
 * weighted tsvector (name A, cast B, tags and genres C, description D) queried with
 * `websearch_to_tsquery` for whole words and quoted phrases, a prefix tsquery for the word being
 * typed, and pg_trgm word similarity on the name for typos ("intersteller"). Relevance (rounded,
 * so near-ties fall to popularity) then popularity orders the hits.
 */
export class CatalogSearch {
  constructor(private readonly deps: { sql: Sql }) {}

  /** GET /v1/search for the viewer's profile. */
  async search(viewer: Viewer, q: string, limit: number, cursor?: string): Promise<{ items: SearchHit[]; nextCursor: string | null }> {
    const ceiling = requireProfile(viewer).maturityCeiling;
    const offset = decodeOffset(cursor);
    const words = queryWords(q);
    if (words.length === 0) return { items: [], nextCursor: null };
    const text = words.join(' ');
    const rows = await this.deps.sql.query<TitleRow & { score: number; hl_name: string; hl_description: string }>(
      `WITH candidates AS (
         SELECT t.id FROM titles t
          WHERE ${visibleTo('$4')} AND t.type <> 'episode'
            AND (t.search_vector @@ websearch_to_tsquery('english', $1)
                 OR t.search_vector @@ to_tsquery('simple', $2)
                 OR $3 <% t.name)
          ORDER BY t.popularity DESC LIMIT ${MAX_CANDIDATES}
       )
       SELECT h.*, ts_headline('english', h.name, h.hq, ${HEADLINE}) AS hl_name,
              ts_headline('english', h.description, h.hq, ${SNIPPET}) AS hl_description
         FROM (
           SELECT ${TITLE_COLUMNS}, websearch_to_tsquery('english', $1) || to_tsquery('simple', $2) AS hq,
                  ts_rank(t.search_vector, websearch_to_tsquery('english', $1)) * 2
                    + ts_rank(t.search_vector, to_tsquery('simple', $2))
                    + word_similarity($3, t.name) AS score
             FROM titles t JOIN candidates c ON c.id = t.id
            ORDER BY round((ts_rank(t.search_vector, websearch_to_tsquery('english', $1)) * 2
                    + ts_rank(t.search_vector, to_tsquery('simple', $2))
                    + word_similarity($3, t.name))::numeric, 2) DESC, t.popularity DESC, t.id
            LIMIT $5 OFFSET $6
         ) h`,
      [q, prefixQuery(words), text, maturityRank(ceiling), limit + 1, offset],
    );
    const page = rows.slice(0, limit);
    return {
      items: page.map((r) => ({
        title: toTitleView(r),
        score: Math.round(Number(r.score) * 1000) / 1000,
        highlights: { name: r.hl_name, description: r.hl_description },
      })),
      nextCursor: rows.length > limit ? Buffer.from(`o:${offset + limit}`).toString('base64url') : null,
    };
  }
}
