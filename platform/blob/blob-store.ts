import type { Readable } from 'node:stream';

/** Metadata stored with an object. */
export interface BlobMeta {
  contentType?: string;
  cacheControl?: string;
}

/** What head/list/get say about an object. */
export interface BlobInfo {
  key: string;
  size: number;
  contentType?: string;
  cacheControl?: string;
  etag?: string;
  lastModified?: Date;
}

/** An inclusive byte range, as in HTTP Range (end omitted = to the end). */
export interface ByteRange {
  start: number;
  end?: number;
}

/** A streamed object: body yields only the requested range. */
export interface BlobObject {
  info: BlobInfo;
  body: Readable;
  /** The range actually served, when one was asked for. */
  range?: { start: number; end: number };
}

/** Media and upload storage: filesystem (default) or S3. Keys are slash-separated, no leading slash. */
export interface BlobStore {
  put(key: string, body: Buffer | Uint8Array | Readable, meta?: BlobMeta): Promise<void>;
  /** null when the key does not exist; throws BlobRangeError when the range starts past the end. */
  get(key: string, range?: ByteRange): Promise<BlobObject | null>;
  head(key: string): Promise<BlobInfo | null>;
  /** Every object whose key starts with prefix, sorted by key. */
  list(prefix: string): Promise<BlobInfo[]>;
  /** Deleting a missing key is not an error. */
  delete(key: string): Promise<void>;
  close(): Promise<void>;
}

/** A range request that cannot be satisfied (HTTP 416). */
export class BlobRangeError extends Error {
  readonly code = 'BLOB_RANGE_NOT_SATISFIABLE';
  constructor(readonly size: number) {
    super(`range not satisfiable for object of ${size} bytes`);
  }
}

/** Rejects keys that could escape the store's root (.., absolute, NUL, backslash, empty segments). */
export function assertSafeKey(key: string): void {
  if (
    key.length === 0 ||
    key.length > 1024 ||
    key.startsWith('/') ||
    key.includes('\0') ||
    key.includes('\\') ||
    key.split('/').some((seg) => seg === '' || seg === '.' || seg === '..')
  ) {
    throw new InvalidKeyError(key);
  }
}

/** A key that is not a plain relative path. */
export class InvalidKeyError extends Error {
  readonly code = 'BLOB_INVALID_KEY';
  constructor(key: string) {
    super(`invalid storage key ${JSON.stringify(key.slice(0, 80))}`);
  }
}

/** Orders keys by their UTF-8 bytes, the order S3's ListObjectsV2 uses; every adapter's list() sorts so. */
export function compareKeys(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}
