/** SQLSTATE codes the platform branches on (https://www.postgresql.org/docs/15/errcodes-appendix.html). */
export const SQLSTATE = {
  uniqueViolation: '23505',
  foreignKeyViolation: '23503',
  serializationFailure: '40001',
} as const;

/** The SQLSTATE of an error thrown by either Sql adapter (both put it in `code`), if it has one. */
export function sqlState(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

/** True for a unique/primary-key violation, e.g. an email already registered. */
export function isUniqueViolation(err: unknown): boolean {
  return sqlState(err) === SQLSTATE.uniqueViolation;
}
