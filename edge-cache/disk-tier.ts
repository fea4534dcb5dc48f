import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { LRUCache } from 'lru-cache';
import type { Logger } from '../platform/index.js';
import type { EntryInit } from './cache-entry.js';

/** File layout: magic, u32 BE metadata length, metadata JSON, body. */
const MAGIC = Buffer.from('SFE1');

type Meta = Omit<EntryInit, 'body'>;

/**
 * Optional second cache tier on local disk for long-lived objects (immutable init/segments/parts,
 * VOD): bounded in bytes with its own LRU index, written through asynchronously, read on memory
 * misses. One file per key, named by the SHA-256 of the key, written atomically (tmp + rename), so
 * a crash leaves either the old file or none, and the tier survives restarts.
 */
export class DiskTier {
  private readonly index: LRUCache<string, number>;
  private readonly writing = new Map<string, Promise<void>>();
  private readonly log: Logger;
  private readonly maxBytes: number;

  constructor(
    deps: { logger: Logger },
    private readonly dir: string,
    maxBytes: number,
  ) {
    this.log = deps.logger.child({ tier: 'disk' });
    this.maxBytes = maxBytes;
    this.index = new LRUCache<string, number>({
      maxSize: maxBytes,
      sizeCalculation: (size) => Math.max(1, size),
      dispose: (_size, hash, reason) => {
        if (reason === 'evict' || reason === 'delete') void fs.rm(this.fileOf(hash), { force: true });
      },
    });
  }

  /** Creates the folder and indexes what a previous run left (oldest first, so LRU order is kept). */
  async start(): Promise<void> {
    await fs.mkdir(this.dir, { recursive: true });
    const files: { hash: string; size: number; mtime: number }[] = [];
    for (const name of await fs.readdir(this.dir)) {
      const full = path.join(this.dir, name);
      if (name.endsWith('.tmp')) {
        await fs.rm(full, { force: true });
        continue;
      }
      if (!/^[0-9a-f]{64}$/.test(name)) continue;
      const st = await fs.stat(full).catch(() => undefined);
      if (st?.isFile()) files.push({ hash: name, size: st.size, mtime: st.mtimeMs });
    }
    files.sort((a, b) => a.mtime - b.mtime);
    for (const f of files) this.index.set(f.hash, f.size);
  }

  /** Waits for writes under way. */
  async close(): Promise<void> {
    await Promise.allSettled([...this.writing.values()]);
  }

  /** Bytes indexed on disk. */
  get bytes(): number {
    return this.index.calculatedSize;
  }

  /** Persists an entry unless it is already there or being written; failures are logged, never thrown. */
  write(entry: EntryInit): void {
    const hash = hashOf(entry.key);
    if (this.index.has(hash) || this.writing.has(hash)) return;
    const { body, ...meta } = entry;
    const metaBuf = Buffer.from(JSON.stringify(meta));
    const len = Buffer.alloc(4);
    len.writeUInt32BE(metaBuf.length);
    const size = MAGIC.length + 4 + metaBuf.length + body.length;
    if (size > this.maxBytes) return;
    const file = this.fileOf(hash);
    const tmp = `${file}.${process.pid}.${crypto.randomBytes(4).toString('hex')}.tmp`;
    const p = (async () => {
      try {
        await fs.writeFile(tmp, Buffer.concat([MAGIC, len, metaBuf, body]));
        await fs.rename(tmp, file);
        this.index.set(hash, size);
      } catch (err) {
        this.log.warn({ err }, 'disk cache write failed');
        await fs.rm(tmp, { force: true });
      } finally {
        this.writing.delete(hash);
      }
    })();
    this.writing.set(hash, p);
  }

  /** Reads an entry back; undefined when absent, corrupt, for another key (hash collision) or no longer usable. */
  async read(key: string, now: number): Promise<EntryInit | undefined> {
    const hash = hashOf(key);
    if (!this.index.get(hash)) return undefined;
    let buf: Buffer;
    try {
      buf = await fs.readFile(this.fileOf(hash));
    } catch {
      this.index.delete(hash);
      return undefined;
    }
    const meta = parse(buf);
    if (!meta || meta.meta.key !== key || meta.meta.usableUntil <= now) {
      this.index.delete(hash);
      return undefined;
    }
    return { ...meta.meta, body: meta.body };
  }

  private fileOf(hash: string): string {
    return path.join(this.dir, hash);
  }
}

function hashOf(key: string): string {
  return crypto.createHash('sha256').update(key).digest('hex');
}

function parse(buf: Buffer): { meta: Meta; body: Buffer } | undefined {
  if (buf.length < 8 || !buf.subarray(0, 4).equals(MAGIC)) return undefined;
  const len = buf.readUInt32BE(4);
  if (8 + len > buf.length) return undefined;
  try {
    const meta = JSON.parse(buf.subarray(8, 8 + len).toString('utf8')) as Meta;
    if (typeof meta.key !== 'string' || typeof meta.etag !== 'string' || !Array.isArray(meta.headers)) return undefined;
    return { meta, body: buf.subarray(8 + len) };
  } catch {
    return undefined;
  }
}
