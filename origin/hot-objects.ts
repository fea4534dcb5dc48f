import crypto from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { BlobStore, ByteRange } from '../platform/index.js';
import { BlobRangeError } from '../platform/index.js';

/** A whole object held in memory. */
interface HotObject {
  body: Buffer;
  contentType?: string;
  cacheControl?: string;
  etag: string;
}

/** What the origin sends: the body (or the requested slice of it) and its headers' inputs. */
export interface ServedObject {
  body: Buffer;
  size: number;
  contentType?: string;
  /** Cache-Control stored with the object (a growing VOD playlist says how briefly it may be kept). */
  cacheControl?: string;
  etag: string;
  range?: { start: number; end: number };
}

/**
 * Recently written and requested media kept in memory (bounded in bytes, LRU), read through from the
 * BlobStore. Media is immutable once written, so those entries never go stale; an object stored as
 * mutable (a VOD playlist that grows while its asset transcodes) is read from storage every time.
 */
export class HotObjects {
  private readonly cache: LRUCache<string, HotObject>;
  private readonly loading = new Map<string, Promise<HotObject | null>>();

  constructor(
    private readonly blobs: BlobStore,
    maxBytes: number,
  ) {
    this.cache = new LRUCache<string, HotObject>({ maxSize: maxBytes, sizeCalculation: (o) => o.body.length + 256 });
  }

  /** The object (sliced to range), or null when it does not exist. */
  async get(key: string, range?: ByteRange): Promise<ServedObject | null> {
    const obj = this.cache.get(key) ?? (await this.load(key));
    if (!obj) return null;
    const size = obj.body.length;
    if (!range) return { body: obj.body, size, contentType: obj.contentType, cacheControl: obj.cacheControl, etag: obj.etag };
    if (range.start >= size) throw new BlobRangeError(size);
    const end = Math.min(range.end ?? size - 1, size - 1);
    return { body: obj.body.subarray(range.start, end + 1), size, contentType: obj.contentType, cacheControl: obj.cacheControl, etag: obj.etag, range: { start: range.start, end } };
  }

  /** One storage read per key however many requests arrive together. */
  private load(key: string): Promise<HotObject | null> {
    let p = this.loading.get(key);
    if (!p) {
      p = (async () => {
        const got = await this.blobs.get(key);
        if (!got) return null;
        const chunks: Buffer[] = [];
        for await (const c of got.body) chunks.push(c as Buffer);
        const body = Buffer.concat(chunks);
        const obj = { body, contentType: got.info.contentType, cacheControl: got.info.cacheControl, etag: etagOf(body) };
        if (!isMutable(got.info.cacheControl)) this.cache.set(key, obj);
        return obj;
      })().finally(() => this.loading.delete(key));
      this.loading.set(key, p);
    }
    return p;
  }
}

function etagOf(body: Buffer): string {
  return `"${crypto.createHash('sha1').update(body).digest('base64url').slice(0, 22)}"`;
}

/** Stored with a short max-age rather than immutable: it may be replaced at the same key. */
export function isMutable(cacheControl: string | undefined): boolean {
  return cacheControl !== undefined && !/immutable/.test(cacheControl) && /max-age=\d{1,3}\b/.test(cacheControl);
}
