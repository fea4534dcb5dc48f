import { badRequest, isUuid } from './http-errors.js';

/** Opaque keyset cursor of a page ordered by (created_at DESC, id DESC): the last row's position. */
export function encodeCursor(row: { created_at: Date; id: string }): string {
  return Buffer.from(JSON.stringify([new Date(row.created_at).toISOString(), row.id])).toString('base64url');
}

/** The position a cursor names; 400 INVALID_CURSOR for anything this API did not return. */
export function decodeCursor(cursor: string): { createdAt: string; id: string } {
  try {
    const [createdAt, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown[];
    if (typeof createdAt === 'string' && !Number.isNaN(Date.parse(createdAt)) && typeof id === 'string' && isUuid(id)) {
      return { createdAt, id };
    }
  } catch {
    // falls through to the 400 below
  }
  throw badRequest('INVALID_CURSOR', 'cursor is not one this API returned');
}
