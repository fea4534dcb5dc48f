import crypto from 'node:crypto';
import type { Sql } from '../../platform/index.js';
import type { TitleView, TitleViewerState } from '../contract.js';
import { decodeCursor, encodeCursor } from '../http/cursor.js';
import { badRequest, isUuid } from '../http/http-errors.js';
import { requireProfile, type Catalog, type Viewer } from '../catalog/index.js';

/** A title counts as finished once this share of it is watched (end credits are rarely watched). */
export const FINISHED_SHARE = 0.95;
/** Below this many seconds a title is not "started" (an accidental click is not a resume point). */
const STARTED_SECONDS = 5;
/** Without a sessionId, a write this long after the previous one starts a new play session. */
const SESSION_GAP_MS = 30 * 60_000;
/** Trending counts views of the last 7 days (today included), each day weighing half as much as the next. */
const TRENDING_WINDOW_DAYS = 7;

interface ProgressRow {
  profile_id: string;
  title_id: string;
  position_seconds: number;
  finished: boolean;
  session_id: string;
  updated_at: Date;
}

/** A profile's position in a title. */
export interface ProgressView {
  titleId: string;
  positionSeconds: number;
  finished: boolean;
  updatedAt: string;
}

/** One entry of continue watching: where to resume, or the next episode of a series just finished. */
export interface ContinueItem {
  title: TitleView;
  positionSeconds: number;
  reason: 'resume' | 'next-episode';
  updatedAt: string;
}

function toProgress(r: ProgressRow): ProgressView {
  return { titleId: r.title_id, positionSeconds: r.position_seconds, finished: r.finished, updatedAt: new Date(r.updated_at).toISOString() };
}

/**
 * What a profile watches: progress (players report every ~10 s), views (one per play session, which
 * feed trending and popularity), history, continue watching and My List.
 */
export class WatchingService {
  constructor(private readonly deps: { sql: Sql; catalog: Catalog; onView?: () => Promise<void> }) {}

  /**
   * Records a position. Idempotent; within one play session (`sessionId`) the position only moves
   * forward, so a late or replayed report never rewinds it. A new session counts one view.
   */
  async setProgress(viewer: Viewer, titleId: string, body: { positionSeconds: number; sessionId?: string; finished?: boolean }): Promise<ProgressView> {
    const profile = requireProfile(viewer);
    const title = await this.deps.catalog.visibleRow(profile.maturityCeiling, titleId);
    if (title.type === 'series') throw badRequest('NOT_PLAYABLE', 'progress is kept per episode, not per series');
    const duration = title.duration_seconds;
    const position = duration ? Math.min(body.positionSeconds, duration) : body.positionSeconds;
    const finished = body.finished === true || (duration !== null && duration > 0 && position >= duration * FINISHED_SHARE);
    const now = new Date();
    const { row, newSession, sessionId } = await this.deps.sql.tx(async (q) => {
      const [existing] = await q.query<ProgressRow>(`SELECT * FROM watch_progress WHERE profile_id = $1 AND title_id = $2 FOR UPDATE`, [profile.id, title.id]);
      const sameSession = existing && (body.sessionId ? existing.session_id === body.sessionId : now.getTime() - new Date(existing.updated_at).getTime() < SESSION_GAP_MS);
      if (existing && sameSession && body.sessionId && position < existing.position_seconds && !finished) {
        return { row: existing, newSession: false, sessionId: existing.session_id };
      }
      const session = body.sessionId ?? (sameSession ? existing.session_id : crypto.randomUUID());
      const [saved] = await q.query<ProgressRow>(
        `INSERT INTO watch_progress (profile_id, title_id, position_seconds, finished, session_id, updated_at) VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (profile_id, title_id) DO UPDATE SET position_seconds = EXCLUDED.position_seconds,
           finished = EXCLUDED.finished OR (watch_progress.finished AND watch_progress.session_id = EXCLUDED.session_id),
           session_id = EXCLUDED.session_id, updated_at = EXCLUDED.updated_at
         RETURNING *`,
        [profile.id, title.id, position, finished, session, now],
      );
      return { row: saved, newSession: !sameSession, sessionId: session };
    });
    if (newSession) {
      const inserted = await this.deps.sql.query(
        `INSERT INTO title_views (profile_id, session_id, title_id, viewed_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING RETURNING title_id`,
        [profile.id, sessionId, title.id, now],
      );
      if (inserted.length) {
        await this.deps.sql.query(
          `INSERT INTO title_view_days (title_id, day, views) VALUES ($1, ($2::timestamptz AT TIME ZONE 'UTC')::date, 1)
           ON CONFLICT (title_id, day) DO UPDATE SET views = title_view_days.views + 1`,
          [title.id, now],
        );
        await this.deps.catalog.addView(title.id);
        await this.deps.onView?.();
      }
    }
    return toProgress(row);
  }

  /** Where the profile stopped in a title (0 when never started or finished). */
  async resumePosition(profileId: string, titleId: string): Promise<number> {
    const [row] = await this.deps.sql.query<ProgressRow>(`SELECT * FROM watch_progress WHERE profile_id = $1 AND title_id = $2`, [profileId, titleId]);
    return row && !row.finished ? row.position_seconds : 0;
  }

  /** Everything the profile watched, most recent first (titles it may no longer see are left out). */
  async history(viewer: Viewer, limit: number, cursor?: string): Promise<{ items: { title: TitleView; progress: ProgressView }[]; nextCursor: string | null }> {
    const profile = requireProfile(viewer);
    const after = cursor === undefined ? undefined : decodeCursor(cursor);
    const rows = await this.deps.sql.query<ProgressRow>(
      `SELECT * FROM watch_progress WHERE profile_id = $1 AND ($2::timestamptz IS NULL OR (updated_at, title_id) < ($2::timestamptz, $3::uuid))
        ORDER BY updated_at DESC, title_id DESC LIMIT $4`,
      [profile.id, after?.createdAt ?? null, after?.id ?? null, limit + 1],
    );
    const page = rows.slice(0, limit);
    const titles = new Map((await this.deps.catalog.visibleByIds(profile.maturityCeiling, page.map((r) => r.title_id))).map((t) => [t.id, t]));
    const last = page.at(-1);
    return {
      items: page.flatMap((r) => {
        const title = titles.get(r.title_id);
        return title ? [{ title, progress: toProgress(r) }] : [];
      }),
      nextCursor: rows.length > limit && last ? encodeCursor({ created_at: last.updated_at, id: last.title_id }) : null,
    };
  }

  /**
   * Continue watching: per movie or series, the most recent thing watched; started and not finished
   * resumes, a finished episode offers the next one (if published and allowed), most recent first.
   */
  async continueWatching(viewer: Viewer, limit: number): Promise<ContinueItem[]> {
    const profile = requireProfile(viewer);
    const rows = await this.deps.sql.query<ProgressRow>(`SELECT * FROM watch_progress WHERE profile_id = $1 ORDER BY updated_at DESC LIMIT 300`, [profile.id]);
    const byId = new Map((await this.deps.catalog.rowsByIds(rows.map((r) => r.title_id))).map((t) => [t.id, t]));
    const progress = new Map(rows.map((r) => [r.title_id, r]));
    const seen = new Set<string>();
    const picks: { titleId: string; positionSeconds: number; reason: ContinueItem['reason']; updatedAt: Date }[] = [];
    for (const r of rows) {
      if (picks.length >= limit) break;
      const t = byId.get(r.title_id);
      if (!t) continue;
      const group = t.series_id ?? t.id;
      if (seen.has(group)) continue;
      seen.add(group);
      if (!r.finished && r.position_seconds >= STARTED_SECONDS) {
        picks.push({ titleId: t.id, positionSeconds: r.position_seconds, reason: 'resume', updatedAt: r.updated_at });
      } else if (r.finished && t.type === 'episode') {
        const next = await this.deps.catalog.nextEpisode(profile.maturityCeiling, t);
        const nextProgress = next && progress.get(next.id);
        if (next && !nextProgress?.finished) {
          picks.push({ titleId: next.id, positionSeconds: nextProgress?.position_seconds ?? 0, reason: 'next-episode', updatedAt: r.updated_at });
        }
      }
    }
    const visible = new Map((await this.deps.catalog.visibleByIds(profile.maturityCeiling, picks.map((p) => p.titleId))).map((t) => [t.id, t]));
    return picks.flatMap((p) => {
      const title = visible.get(p.titleId);
      return title ? [{ title, positionSeconds: p.positionSeconds, reason: p.reason, updatedAt: p.updatedAt.toISOString() }] : [];
    });
  }

  /** Adds a title to My List (idempotent). */
  async addToWatchlist(viewer: Viewer, titleId: string): Promise<void> {
    const profile = requireProfile(viewer);
    const title = await this.deps.catalog.visibleRow(profile.maturityCeiling, titleId);
    await this.deps.sql.query(`INSERT INTO watchlist (profile_id, title_id, added_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`, [profile.id, title.id, new Date()]);
  }

  /** Removes a title from My List (idempotent). */
  async removeFromWatchlist(viewer: Viewer, titleId: string): Promise<void> {
    const profile = requireProfile(viewer);
    if (!isUuid(titleId)) return;
    await this.deps.sql.query(`DELETE FROM watchlist WHERE profile_id = $1 AND title_id = $2`, [profile.id, titleId]);
  }

  /** My List, most recently added first. */
  async watchlist(viewer: Viewer, limit: number, cursor?: string): Promise<{ items: TitleView[]; nextCursor: string | null }> {
    const profile = requireProfile(viewer);
    const after = cursor === undefined ? undefined : decodeCursor(cursor);
    const rows = await this.deps.sql.query<{ title_id: string; added_at: Date }>(
      `SELECT title_id, added_at FROM watchlist WHERE profile_id = $1 AND ($2::timestamptz IS NULL OR (added_at, title_id) < ($2::timestamptz, $3::uuid))
        ORDER BY added_at DESC, title_id DESC LIMIT $4`,
      [profile.id, after?.createdAt ?? null, after?.id ?? null, limit + 1],
    );
    const page = rows.slice(0, limit);
    const last = page.at(-1);
    return {
      items: await this.deps.catalog.visibleByIds(profile.maturityCeiling, page.map((r) => r.title_id)),
      nextCursor: rows.length > limit && last ? encodeCursor({ created_at: last.added_at, id: last.title_id }) : null,
    };
  }

  /** Titles by the views of the last TRENDING_WINDOW_DAYS UTC days, each day weighing half as much as the next. */
  async trending(limit: number, now = new Date()): Promise<string[]> {
    const rows = await this.deps.sql.query<{ title_id: string }>(
      `SELECT title_id FROM title_view_days
        WHERE day > ($1::timestamptz AT TIME ZONE 'UTC')::date - $2::int
        GROUP BY title_id ORDER BY sum(views * power(0.5, (($1::timestamptz AT TIME ZONE 'UTC')::date - day)::float8)) DESC, title_id LIMIT $3`,
      [now, TRENDING_WINDOW_DAYS, limit],
    );
    return rows.map((r) => r.title_id);
  }

  /** The title the profile most recently finished or watched furthest, for "because you watched". */
  async recentlyWatched(profileId: string, limit: number): Promise<string[]> {
    const rows = await this.deps.sql.query<{ title_id: string }>(
      `SELECT title_id FROM watch_progress WHERE profile_id = $1 AND (finished OR position_seconds >= 60) ORDER BY updated_at DESC LIMIT $2`,
      [profileId, limit],
    );
    return rows.map((r) => r.title_id);
  }

  /** What the profile did with each of these titles (liked, rated, listed, progress). */
  async viewerStates(profileId: string, titleIds: readonly string[]): Promise<Map<string, TitleViewerState>> {
    const ids = [...new Set(titleIds)];
    const out = new Map<string, TitleViewerState>(ids.map((id) => [id, { liked: false, rating: null, inWatchlist: false, progress: null }]));
    if (ids.length === 0) return out;
    const args = [profileId, ids];
    const [likes, ratings, listed, progress] = await Promise.all([
      this.deps.sql.query<{ title_id: string }>(`SELECT title_id FROM title_likes WHERE profile_id = $1 AND title_id = ANY($2::uuid[])`, args),
      this.deps.sql.query<{ title_id: string; value: number }>(`SELECT title_id, value FROM title_ratings WHERE profile_id = $1 AND title_id = ANY($2::uuid[])`, args),
      this.deps.sql.query<{ title_id: string }>(`SELECT title_id FROM watchlist WHERE profile_id = $1 AND title_id = ANY($2::uuid[])`, args),
      this.deps.sql.query<ProgressRow>(`SELECT * FROM watch_progress WHERE profile_id = $1 AND title_id = ANY($2::uuid[])`, args),
    ]);
    for (const r of likes) out.get(r.title_id)!.liked = true;
    for (const r of ratings) out.get(r.title_id)!.rating = r.value;
    for (const r of listed) out.get(r.title_id)!.inWatchlist = true;
    for (const r of progress) {
      const p = toProgress(r);
      out.get(r.title_id)!.progress = { positionSeconds: p.positionSeconds, finished: p.finished, updatedAt: p.updatedAt };
    }
    return out;
  }
}
