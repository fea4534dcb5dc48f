import crypto from 'node:crypto';
import { AppError, type LiveState, type Sql } from '../../platform/index.js';
import { FixedWindowLimiter } from '../accounts/rate-limit.js';
import { decodeCursor, encodeCursor } from '../http/cursor.js';
import { badRequest, forbidden, isUuid, notFound } from '../http/http-errors.js';
import { requireProfile, type Catalog, type Viewer } from '../catalog/index.js';

/** Longest comment, in characters. */
export const COMMENT_MAX_CHARS = 2000;
/** Replies listed inline under a top-level comment (the rest through `parentId`). */
const INLINE_REPLIES = 3;

interface CommentRow {
  id: string;
  title_id: string;
  account_id: string;
  profile_id: string | null;
  author_name: string;
  parent_id: string | null;
  body: string;
  status: 'visible' | 'hidden' | 'deleted';
  reply_count: number;
  created_at: Date;
}

/** A comment as the API returns it. */
export interface CommentView {
  id: string;
  titleId: string;
  parentId: string | null;
  body: string;
  author: { profileId: string | null; name: string };
  status: 'visible' | 'hidden' | 'deleted';
  /** The caller wrote it (and may delete it). */
  mine: boolean;
  replyCount: number;
  createdAt: string;
  /** Top-level comments: the first replies, oldest first. */
  replies?: CommentView[];
}

/** The profile's name, for comment bylines. */
export interface ProfileNames {
  get(accountId: string, id: string): Promise<{ name: string }>;
}

/** Likes, ratings (1-5, one per profile) and one-level comment threads on titles. */
export class SocialService {
  private readonly commentLimiter: FixedWindowLimiter;

  constructor(
    private readonly deps: {
      sql: Sql;
      liveState: LiveState;
      catalog: Catalog;
      profiles: ProfileNames;
      /** Someone replied to a comment of another account. */
      onReply?: (parentAuthor: string, reply: CommentView) => Promise<void>;
    },
    config: { commentsPerWindow: number; commentWindowSeconds: number },
  ) {
    this.commentLimiter = new FixedWindowLimiter(
      { liveState: deps.liveState },
      { prefix: 'control-api:comments', max: config.commentsPerWindow, windowSeconds: config.commentWindowSeconds },
    );
  }

  /**
   * Likes (`liked: true`) or unlikes a title for the active profile; idempotent. The title row is
   * locked while the like and its counter change, so concurrent likes are counted exactly.
   */
  async setLike(viewer: Viewer, titleId: string, liked: boolean): Promise<{ liked: boolean; likes: number }> {
    const profile = requireProfile(viewer);
    const title = await this.deps.catalog.visibleRow(profile.maturityCeiling, titleId);
    const likes = await this.deps.sql.tx(async (q) => {
      await this.deps.catalog.lockForCounters(q, title.id);
      const changed = liked
        ? await q.query(`INSERT INTO title_likes (profile_id, title_id, created_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING RETURNING title_id`, [profile.id, title.id, new Date()])
        : await q.query(`DELETE FROM title_likes WHERE profile_id = $1 AND title_id = $2 RETURNING title_id`, [profile.id, title.id]);
      if (changed.length) await this.deps.catalog.addToCounters(q, title.id, { likes: liked ? 1 : -1 });
      const [{ n }] = await q.query<{ n: number }>(`SELECT like_count AS n FROM titles WHERE id = $1`, [title.id]);
      return n;
    });
    return { liked, likes };
  }

  /** Sets (value 1-5) or removes (null) the active profile's rating; returns the title's average and count. */
  async setRating(viewer: Viewer, titleId: string, value: number | null): Promise<{ value: number | null; average: number | null; count: number }> {
    const profile = requireProfile(viewer);
    const title = await this.deps.catalog.visibleRow(profile.maturityCeiling, titleId);
    return this.deps.sql.tx(async (q) => {
      await this.deps.catalog.lockForCounters(q, title.id);
      const [old] = await q.query<{ value: number }>(`SELECT value FROM title_ratings WHERE profile_id = $1 AND title_id = $2`, [profile.id, title.id]);
      if (value === null) {
        if (old) {
          await q.query(`DELETE FROM title_ratings WHERE profile_id = $1 AND title_id = $2`, [profile.id, title.id]);
          await this.deps.catalog.addToCounters(q, title.id, { ratingSum: -old.value, ratingCount: -1 });
        }
      } else {
        await q.query(
          `INSERT INTO title_ratings (profile_id, title_id, value, updated_at) VALUES ($1, $2, $3, $4)
           ON CONFLICT (profile_id, title_id) DO UPDATE SET value = EXCLUDED.value, updated_at = EXCLUDED.updated_at`,
          [profile.id, title.id, value, new Date()],
        );
        await this.deps.catalog.addToCounters(q, title.id, old ? { ratingSum: value - old.value } : { ratingSum: value, ratingCount: 1 });
      }
      const [t] = await q.query<{ rating_sum: number; rating_count: number }>(`SELECT rating_sum, rating_count FROM titles WHERE id = $1`, [title.id]);
      return { value, average: t.rating_count ? Math.round((t.rating_sum / t.rating_count) * 100) / 100 : null, count: t.rating_count };
    });
  }

  /**
   * Posts a comment, or a reply to a top-level one (threads are one level deep). Rate limited per
   * account (429 with Retry-After); 1 to COMMENT_MAX_CHARS characters after trimming.
   */
  async addComment(viewer: Viewer, titleId: string, input: { body: string; parentId?: string }): Promise<CommentView> {
    const profile = requireProfile(viewer);
    const title = await this.deps.catalog.visibleRow(profile.maturityCeiling, titleId);
    const body = input.body.trim();
    if (body.length === 0) throw badRequest('COMMENT_EMPTY', 'a comment needs some text');
    if ([...body].length > COMMENT_MAX_CHARS) throw badRequest('COMMENT_TOO_LONG', `a comment is at most ${COMMENT_MAX_CHARS} characters`);
    await this.commentLimiter.hit([viewer.accountId], 'comment');
    const { name } = await this.deps.profiles.get(viewer.accountId, profile.id);
    let parentAuthor: string | undefined;
    const row = await this.deps.sql.tx(async (q) => {
      if (input.parentId !== undefined) {
        const [parent] = isUuid(input.parentId)
          ? await q.query<CommentRow>(`SELECT * FROM comments WHERE id = $1 AND title_id = $2 FOR UPDATE`, [input.parentId, title.id])
          : [];
        if (!parent || parent.status === 'hidden') throw notFound('parent comment');
        if (parent.parent_id) throw badRequest('THREAD_TOO_DEEP', 'replies go to a top-level comment (threads are one level deep)');
        await q.query(`UPDATE comments SET reply_count = reply_count + 1 WHERE id = $1`, [parent.id]);
        parentAuthor = parent.account_id;
      }
      const [inserted] = await q.query<CommentRow>(
        `INSERT INTO comments (id, title_id, account_id, profile_id, author_name, parent_id, body, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING *`,
        [crypto.randomUUID(), title.id, viewer.accountId, profile.id, name, input.parentId ?? null, body, new Date()],
      );
      return inserted;
    });
    const view = this.toView(row, viewer);
    if (parentAuthor && parentAuthor !== viewer.accountId) await this.deps.onReply?.(parentAuthor, view);
    return view;
  }

  /**
   * A title's comments, newest first, each top-level one with its first replies; with `parentId`,
   * that comment's replies, oldest first. Hidden comments are listed to admins only.
   */
  async listComments(viewer: Viewer, titleId: string, opts: { limit: number; cursor?: string; parentId?: string }): Promise<{ items: CommentView[]; nextCursor: string | null }> {
    const profile = requireProfile(viewer);
    const title = await this.deps.catalog.visibleRow(profile.maturityCeiling, titleId);
    const after = opts.cursor === undefined ? undefined : decodeCursor(opts.cursor);
    const admin = viewer.role === 'admin';
    let rows: CommentRow[];
    if (opts.parentId !== undefined) {
      if (!isUuid(opts.parentId)) throw notFound('parent comment');
      rows = await this.deps.sql.query<CommentRow>(
        `SELECT * FROM comments WHERE parent_id = $1 AND title_id = $2 AND ($3 OR status <> 'hidden')
           AND ($4::timestamptz IS NULL OR (created_at, id) > ($4::timestamptz, $5::uuid))
         ORDER BY created_at, id LIMIT $6`,
        [opts.parentId, title.id, admin, after?.createdAt ?? null, after?.id ?? null, opts.limit + 1],
      );
    } else {
      rows = await this.deps.sql.query<CommentRow>(
        `SELECT * FROM comments WHERE title_id = $1 AND parent_id IS NULL AND ($2 OR status <> 'hidden')
           AND ($3::timestamptz IS NULL OR (created_at, id) < ($3::timestamptz, $4::uuid))
         ORDER BY created_at DESC, id DESC LIMIT $5`,
        [title.id, admin, after?.createdAt ?? null, after?.id ?? null, opts.limit + 1],
      );
    }
    const page = rows.slice(0, opts.limit);
    const items = page.map((r) => this.toView(r, viewer));
    if (opts.parentId === undefined && page.length) {
      const replies = await this.deps.sql.query<CommentRow & { n: number }>(
        `SELECT * FROM (
           SELECT c.*, row_number() OVER (PARTITION BY parent_id ORDER BY created_at, id) AS n
             FROM comments c WHERE parent_id = ANY($1::uuid[]) AND ($2 OR status <> 'hidden')
         ) r WHERE n <= $3 ORDER BY created_at, id`,
        [page.map((r) => r.id), admin, INLINE_REPLIES],
      );
      for (const item of items) item.replies = replies.filter((r) => r.parent_id === item.id).map((r) => this.toView(r, viewer));
    }
    const last = page.at(-1);
    return { items, nextCursor: rows.length > opts.limit && last ? encodeCursor(last) : null };
  }

  /**
   * Deletes a comment (its author or an admin). A top-level comment that has replies stays as a
   * tombstone (`status: deleted`, no text) so the thread still reads; anything else goes.
   */
  async deleteComment(viewer: Viewer, titleId: string, commentId: string): Promise<void> {
    await this.deps.sql.tx(async (q) => {
      const row = await this.comment(q, titleId, commentId);
      if (row.account_id !== viewer.accountId && viewer.role !== 'admin') throw forbidden('only the author or an admin may delete a comment');
      if (!row.parent_id && row.reply_count > 0) {
        await q.query(`UPDATE comments SET status = 'deleted', body = '' WHERE id = $1`, [row.id]);
        return;
      }
      await q.query(`DELETE FROM comments WHERE id = $1`, [row.id]);
      if (row.parent_id) await q.query(`UPDATE comments SET reply_count = reply_count - 1 WHERE id = $1`, [row.parent_id]);
    });
  }

  /** Hides or shows a comment (admin moderation). */
  async moderateComment(viewer: Viewer, titleId: string, commentId: string, hidden: boolean): Promise<CommentView> {
    if (viewer.role !== 'admin') throw forbidden('comments are moderated by admins');
    return this.deps.sql.tx(async (q) => {
      const row = await this.comment(q, titleId, commentId);
      if (row.status === 'deleted') throw new AppError(409, 'COMMENT_DELETED', 'the comment was deleted by its author');
      const [updated] = await q.query<CommentRow>(`UPDATE comments SET status = $2 WHERE id = $1 RETURNING *`, [row.id, hidden ? 'hidden' : 'visible']);
      return this.toView(updated, viewer);
    });
  }

  private async comment(q: Sql, titleId: string, commentId: string): Promise<CommentRow> {
    if (!isUuid(commentId) || !isUuid(titleId)) throw notFound('comment');
    const [row] = await q.query<CommentRow>(`SELECT * FROM comments WHERE id = $1 AND title_id = $2 FOR UPDATE`, [commentId, titleId]);
    if (!row) throw notFound('comment');
    return row;
  }

  private toView(r: CommentRow, viewer: Viewer): CommentView {
    return {
      id: r.id,
      titleId: r.title_id,
      parentId: r.parent_id,
      body: r.body,
      author: { profileId: r.status === 'deleted' ? null : r.profile_id, name: r.status === 'deleted' ? '' : r.author_name },
      status: r.status,
      mine: r.account_id === viewer.accountId,
      replyCount: r.reply_count,
      createdAt: new Date(r.created_at).toISOString(),
    };
  }
}
