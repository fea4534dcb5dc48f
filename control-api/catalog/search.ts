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
 * `to_tsquery('simple', …)` text matching every word as a prefix ("inters" → `inters:*`), for
 * search-as-you-type. It runs against `name_vector` (name and cast as typed) alone: three letters
 * that begin a common word of descriptions would otherwise match, and rank, the whole catalog.
 */
export function prefixQuery(words: readonly string[]): string {
  return words.map((w) => `${w}:*`).join(' & ');
}

/** Shorter words are left to prefix matching: trigram similarity of two or three letters says nothing. */
const TYPO_MIN_LETTERS = 4;

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
const MAX_CANDIDATES = 500;

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
         SELECT ${TITLE_COLUMNS}, t.search_vector, t.name_vector FROM titles t
          WHERE ${visibleTo('$4')} AND t.type <> 'episode'
            AND (t.search_vector @@ websearch_to_tsquery('english', $1)
                 OR t.name_vector @@ to_tsquery('simple', $2)
                 OR ($7 AND $3 <% t.name))
          -- "+ 0": not the popularity index, whose walk would test every title against the query;
          -- the text indexes find the matches, then the most viewed are kept.
          ORDER BY t.popularity + 0 DESC LIMIT ${MAX_CANDIDATES}
       ),
       ranked AS (
         SELECT c.*, ts_rank(c.search_vector, websearch_to_tsquery('english', $1)) * 2
                   + ts_rank(c.name_vector, to_tsquery('simple', $2))
                   + word_similarity($3, c.name) AS score
           FROM candidates c
       )
       SELECT r.*, ts_headline('english', r.name, q.hq, ${HEADLINE}) AS hl_name,
              ts_headline('english', r.description, q.hq, ${SNIPPET}) AS hl_description
         FROM (SELECT * FROM ranked ORDER BY round(score::numeric, 2) DESC, popularity DESC, id LIMIT $5 OFFSET $6) r,
              (SELECT websearch_to_tsquery('english', $1) || to_tsquery('simple', $2) AS hq) q
        ORDER BY round(r.score::numeric, 2) DESC, r.popularity DESC, r.id`,
      [q, prefixQuery(words), text, maturityRank(ceiling), limit + 1, offset, words.some((w) => [...w].length >= TYPO_MIN_LETTERS)],
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
