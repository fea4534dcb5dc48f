import { randomUUID } from 'node:crypto';
import { createWriteStream, type Stats } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  BlobRangeError,
  assertSafeKey,
  compareKeys,
  type BlobInfo,
  type BlobMeta,
  type BlobObject,
  type BlobStore,
  type ByteRange,
} from './blob-store.js';

/**
 * Resolves a requested range against an object size, with HTTP semantics (RFC 9110 §14.1.2): an end
 * past the last byte is clamped; a start at or past the end (or after the end) cannot be satisfied.
 */
export function resolveRange(range: ByteRange, size: number): { start: number; end: number } {
  const end = Math.min(range.end ?? size - 1, size - 1);
  if (!Number.isInteger(range.start) || range.start < 0 || range.start >= size || end < range.start) {
    throw new BlobRangeError(size);
  }
  return { start: range.start, end };
}

const isErrno = (err: unknown, ...codes: string[]) => codes.includes((err as NodeJS.ErrnoException)?.code ?? '');

/** Removes a file; a missing one (or a directory standing where a key would be) is not an error. */
async function unlinkIfFile(file: string): Promise<void> {
  try {
    await fs.unlink(file);
  } catch (err) {
    if (!isErrno(err, 'ENOENT', 'ENOTDIR', 'EISDIR', 'EPERM')) throw err;
  }
}

/**
 * BlobStore on a local directory: `objects/<key>` holds the bytes, `meta/<key>.json` the metadata,
 * `tmp/` the writes in progress. A put is written to tmp/ and renamed into place (rename(2) is atomic
 * on one filesystem), so readers see the old object or the new one, never half of either.
 * Limitation shared with any filesystem: a key cannot also be a "folder" of another key (`a` and `a/b`).
 */
export class FsBlobStore implements BlobStore {
  private readonly objectsDir: string;
  private readonly metaDir: string;
  private readonly tmpDir: string;

  constructor(readonly rootDir: string) {
    this.objectsDir = path.join(rootDir, 'objects');
    this.metaDir = path.join(rootDir, 'meta');
    this.tmpDir = path.join(rootDir, 'tmp');
  }

  private objectPath(key: string): string {
    assertSafeKey(key);
    return path.join(this.objectsDir, ...key.split('/'));
  }

  private metaPath(key: string): string {
    return `${path.join(this.metaDir, ...key.split('/'))}.json`;
  }

  async put(key: string, body: Buffer | Uint8Array | Readable, meta: BlobMeta = {}): Promise<void> {
    const target = this.objectPath(key);
    await fs.mkdir(this.tmpDir, { recursive: true });
    const tmp = path.join(this.tmpDir, randomUUID());
    try {
      if (body instanceof Readable) await pipeline(body, createWriteStream(tmp));
      else await fs.writeFile(tmp, body);
      // Metadata first: a reader finds the object only once its bytes are renamed in, with its metadata.
      const sidecar: BlobMeta = {};
      if (meta.contentType) sidecar.contentType = meta.contentType;
      if (meta.cacheControl) sidecar.cacheControl = meta.cacheControl;
      if (Object.keys(sidecar).length) {
        const metaTmp = `${tmp}.meta`;
        await fs.writeFile(metaTmp, JSON.stringify(sidecar));
        await this.renameInto(metaTmp, this.metaPath(key));
      } else {
        await unlinkIfFile(this.metaPath(key));
      }
      await this.renameInto(tmp, target);
    } catch (err) {
      await fs.rm(tmp, { force: true });
      await fs.rm(`${tmp}.meta`, { force: true });
      throw err;
    }
  }

  /** Renames into place, creating parent directories; retries when a concurrent delete pruned them. */
  private async renameInto(from: string, to: string): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      await fs.mkdir(path.dirname(to), { recursive: true });
      try {
        await fs.rename(from, to);
        return;
      } catch (err) {
        if (!isErrno(err, 'ENOENT') || attempt >= 3) throw err;
      }
    }
  }

  private async readMeta(key: string): Promise<BlobMeta> {
    try {
      return JSON.parse(await fs.readFile(this.metaPath(key), 'utf8')) as BlobMeta;
    } catch (err) {
      if (isErrno(err, 'ENOENT', 'ENOTDIR')) return {};
      throw err;
    }
  }

  private info(key: string, stat: Stats, meta: BlobMeta): BlobInfo {
    return {
      key,
      size: stat.size,
      ...meta,
      // Each put renames a new inode into place, so inode + size + mtime changes with every write.
      etag: `"${stat.ino.toString(16)}-${stat.size.toString(16)}-${Math.floor(stat.mtimeMs).toString(16)}"`,
      lastModified: stat.mtime,
    };
  }

  async get(key: string, range?: ByteRange): Promise<BlobObject | null> {
    let handle: fs.FileHandle;
    try {
      // Stat and read through one descriptor: a concurrent overwrite renames a new inode in, and
      // this reader keeps streaming the object it opened.
      handle = await fs.open(this.objectPath(key), 'r');
    } catch (err) {
      if (isErrno(err, 'ENOENT', 'ENOTDIR', 'EISDIR')) return null;
      throw err;
    }
    try {
      const stat = await handle.stat();
      if (!stat.isFile()) {
        await handle.close();
        return null;
      }
      const info = this.info(key, stat, await this.readMeta(key));
      if (!range) return { info, body: handle.createReadStream() };
      const served = resolveRange(range, stat.size);
      return { info, body: handle.createReadStream({ start: served.start, end: served.end }), range: served };
    } catch (err) {
      await handle.close();
      throw err;
    }
  }

  async head(key: string): Promise<BlobInfo | null> {
    try {
      const stat = await fs.stat(this.objectPath(key));
      return stat.isFile() ? this.info(key, stat, await this.readMeta(key)) : null;
    } catch (err) {
      if (isErrno(err, 'ENOENT', 'ENOTDIR')) return null;
      throw err;
    }
  }

  async list(prefix: string): Promise<BlobInfo[]> {
    // Walk only the deepest directory the prefix names in full ("live/abc/seg" → objects/live/abc).
    const cut = prefix.lastIndexOf('/');
    const dirPart = cut >= 0 ? prefix.slice(0, cut) : '';
    if (dirPart) assertSafeKey(dirPart);
    if (prefix.includes('\0') || prefix.includes('\\') || prefix.startsWith('/')) assertSafeKey(prefix);
    const out: BlobInfo[] = [];
    const walk = async (dir: string, keyPrefix: string): Promise<void> => {
      let entries;
      try {
        entries = await fs.readdir(dir, { withFileTypes: true });
      } catch (err) {
        if (isErrno(err, 'ENOENT', 'ENOTDIR')) return;
        throw err;
      }
      for (const entry of entries) {
        const key = keyPrefix + entry.name;
        if (entry.isDirectory()) {
          // Descend only where keys can still match the prefix.
          if (key.startsWith(prefix) || prefix.startsWith(`${key}/`)) await walk(path.join(dir, entry.name), `${key}/`);
        } else if (entry.isFile() && key.startsWith(prefix)) {
          try {
            out.push(this.info(key, await fs.stat(path.join(dir, entry.name)), {}));
          } catch (err) {
            if (!isErrno(err, 'ENOENT')) throw err; // deleted while listing
          }
        }
      }
    };
    await walk(dirPart ? path.join(this.objectsDir, ...dirPart.split('/')) : this.objectsDir, dirPart ? `${dirPart}/` : '');
    return out.sort((a, b) => compareKeys(a.key, b.key));
  }

  async delete(key: string): Promise<void> {
    const file = this.objectPath(key);
    await unlinkIfFile(file);
    await unlinkIfFile(this.metaPath(key));
    await this.pruneEmptyDirs(path.dirname(file), this.objectsDir);
    await this.pruneEmptyDirs(path.dirname(this.metaPath(key)), this.metaDir);
  }

  /** Removes directories emptied by a delete, so short-lived live segments do not leave a trail of them. */
  private async pruneEmptyDirs(dir: string, stopAt: string): Promise<void> {
    while (dir.startsWith(`${stopAt}${path.sep}`)) {
      try {
        await fs.rmdir(dir);
      } catch {
        return; // not empty, already gone, or raced by a put: stop here
      }
      dir = path.dirname(dir);
    }
  }

  async close(): Promise<void> {}
}
