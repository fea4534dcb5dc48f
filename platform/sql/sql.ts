/** A SQL connection: PGlite embedded or Postgres over the wire. Placeholders are $1, $2, ... */
export interface Sql {
  /** Runs one statement and returns its rows. */
  query<R = Record<string, unknown>>(text: string, params?: readonly unknown[]): Promise<R[]>;
  /** Runs fn inside one transaction; it commits when fn resolves and rolls back when it throws. */
  tx<T>(fn: (q: Sql) => Promise<T>): Promise<T>;
  /** Releases connections (no-op inside a transaction). */
  close(): Promise<void>;
}
