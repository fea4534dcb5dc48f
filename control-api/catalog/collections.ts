import crypto from 'node:crypto';
import type { Sql } from '../../platform/index.js';
import { badRequest, forbidden, isUuid, notFound } from '../http/http-errors.js';
import type { Viewer } from './titles.js';

/** An editors' collection: a named, ordered list of titles that browse shows as a row. */
export interface CollectionView {
  id: string;
  name: string;
  description: string;
  position: number;
  titleIds: string[];
  createdAt: string;
  updatedAt: string;
}

interface CollectionRow {
  id: string;
  name: string;
  description: string;
  position: number;
  title_ids: string[] | null;
  created_at: Date;
  updated_at: Date;
}

const SELECT = `SELECT c.*, (SELECT array_agg(i.title_id ORDER BY i.position) FROM collection_items i WHERE i.collection_id = c.id) AS title_ids FROM collections c`;

function toView(r: CollectionRow): CollectionView {
  return {
    id: r.id, name: r.name, description: r.description, position: r.position, titleIds: r.title_ids ?? [],
    createdAt: new Date(r.created_at).toISOString(), updatedAt: new Date(r.updated_at).toISOString(),
  };
}

/** Admin-curated collections ("editor's picks"); browse lists each as a row, lowest position first. */
export class CollectionService {
  constructor(private readonly deps: { sql: Sql; onChange?: () => Promise<void> }) {}

  /** Every collection, in row order. */
  async list(): Promise<CollectionView[]> {
    return (await this.deps.sql.query<CollectionRow>(`${SELECT} ORDER BY c.position, c.created_at, c.id`)).map(toView);
  }

  /** One collection, or 404. */
  async get(id: string): Promise<CollectionView> {
    if (!isUuid(id)) throw notFound('collection');
    const [row] = await this.deps.sql.query<CollectionRow>(`${SELECT} WHERE c.id = $1`, [id]);
    if (!row) throw notFound('collection');
    return toView(row);
  }

  /** Creates a collection (admin). */
  async create(viewer: Viewer, input: { name: string; description?: string; position?: number; titleIds: string[] }): Promise<CollectionView> {
    this.admin(viewer);
    const id = crypto.randomUUID();
    await this.deps.sql.tx(async (q) => {
      const now = new Date();
      await q.query(`INSERT INTO collections (id, name, description, position, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5)`, [
        id, input.name, input.description ?? '', input.position ?? 0, now,
      ]);
      await this.setItems(q, id, input.titleIds);
    });
    await this.deps.onChange?.();
    return this.get(id);
  }

  /** Changes a collection (admin); `titleIds` replaces the list. */
  async update(viewer: Viewer, id: string, patch: { name?: string; description?: string; position?: number; titleIds?: string[] }): Promise<CollectionView> {
    this.admin(viewer);
    const current = await this.get(id);
    await this.deps.sql.tx(async (q) => {
      await q.query(`UPDATE collections SET name = $2, description = $3, position = $4, updated_at = $5 WHERE id = $1`, [
        id, patch.name ?? current.name, patch.description ?? current.description, patch.position ?? current.position, new Date(),
      ]);
      if (patch.titleIds) await this.setItems(q, id, patch.titleIds);
    });
    await this.deps.onChange?.();
    return this.get(id);
  }

  /** Deletes a collection (admin). */
  async delete(viewer: Viewer, id: string): Promise<void> {
    this.admin(viewer);
    await this.get(id);
    await this.deps.sql.query(`DELETE FROM collections WHERE id = $1`, [id]);
    await this.deps.onChange?.();
  }

  private async setItems(q: Sql, id: string, titleIds: string[]): Promise<void> {
    const known = titleIds.length ? await q.query<{ id: string }>(`SELECT id FROM titles WHERE id = ANY($1::uuid[])`, [titleIds]) : [];
    const missing = titleIds.filter((t) => !known.some((k) => k.id === t));
    if (missing.length) throw badRequest('UNKNOWN_TITLE', `no such title(s): ${missing.join(', ')}`);
    await q.query(`DELETE FROM collection_items WHERE collection_id = $1`, [id]);
    if (titleIds.length) {
      await q.query(
        `INSERT INTO collection_items (collection_id, title_id, position) SELECT $1, t.id, t.n FROM unnest($2::uuid[]) WITH ORDINALITY AS t(id, n)`,
        [id, titleIds],
      );
    }
  }

  private admin(viewer: Viewer): void {
    if (viewer.role !== 'admin') throw forbidden('collections are curated by admins');
  }
}
