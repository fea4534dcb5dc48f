import crypto from 'node:crypto';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { BlobRangeError, InvalidKeyError, type BlobObject, type BlobStore } from './blob-store.js';

/** The adapter under test (empty) and how to dispose of what it stored. */
export interface BlobStoreSubject {
  store: BlobStore;
  cleanup?: () => Promise<void>;
}

const sha256 = (data: Uint8Array) => crypto.createHash('sha256').update(data).digest('hex');

/** Reads a body to the end, returning its bytes and their sha256. */
async function drain(obj: BlobObject | null): Promise<{ bytes: Buffer; sha: string }> {
  expect(obj).not.toBeNull();
  const chunks: Buffer[] = [];
  for await (const chunk of obj!.body) chunks.push(Buffer.from(chunk as Uint8Array));
  const bytes = Buffer.concat(chunks);
  return { bytes, sha: sha256(bytes) };
}

/** Streams data in uneven chunks, optionally pausing between them (a slow uploader). */
function streamOf(data: Buffer, pauseMs = 0): Readable {
  return Readable.from(
    (async function* () {
      let at = 0;
      for (let i = 0; at < data.length; i++) {
        const size = 40_000 + ((i * 7919) % 60_000);
        yield data.subarray(at, at + size);
        at += size;
        if (pauseMs) await sleep(pauseMs);
      }
    })(),
  );
}

/**
 * The BlobStore port's contract, run unchanged against every adapter (filesystem, S3): whole and
 * ranged reads byte-exact (sha256 after every round trip), metadata, sorted prefix listing, deletes,
 * overwrites, and keys that could escape the store rejected.
 */
export function blobStoreContract(name: string, open: () => Promise<BlobStoreSubject>): void {
  describe(`BlobStore contract: ${name}`, () => {
    let subject: BlobStoreSubject;
    let store: BlobStore;
    // 9 MiB + a few bytes: more than one 5 MiB multipart part, not a multiple of anything.
    const big = crypto.randomBytes(9 * 1024 * 1024 + 4321);

    beforeAll(async () => {
      subject = await open();
      store = subject.store;
    });

    afterAll(async () => {
      await store?.close();
      await subject?.cleanup?.();
    });

    it('stores a Buffer and a Uint8Array and reads them back byte for byte', async () => {
      const data = crypto.randomBytes(100_000);
      await store.put('buf/one.bin', data);
      const got = await store.get('buf/one.bin');
      expect(got!.info.size).toBe(data.length);
      expect(got!.range).toBeUndefined();
      expect((await drain(got)).sha).toBe(sha256(data));

      const u8 = new Uint8Array([0, 1, 2, 255]);
      await store.put('buf/u8.bin', u8);
      expect((await drain(await store.get('buf/u8.bin'))).bytes).toEqual(Buffer.from(u8));
    });

    it('stores an empty object', async () => {
      await store.put('buf/empty', Buffer.alloc(0));
      expect((await store.head('buf/empty'))!.size).toBe(0);
      expect((await drain(await store.get('buf/empty'))).bytes.length).toBe(0);
    });

    it('stores a multi-MB Readable stream intact', async () => {
      await store.put('stream/big.bin', streamOf(big), { contentType: 'application/octet-stream' });
      expect((await store.head('stream/big.bin'))!.size).toBe(big.length);
      const got = await store.get('stream/big.bin');
      expect(got!.info.size).toBe(big.length);
      expect((await drain(got)).sha).toBe(sha256(big));
    });

    it('serves byte ranges: start-end, start-only, the last byte, and an end past the object', async () => {
      const data = crypto.randomBytes(50_000);
      await store.put('range/obj', data);
      const cases: [{ start: number; end?: number }, number, number][] = [
        [{ start: 0, end: 0 }, 0, 0],
        [{ start: 1000, end: 1999 }, 1000, 1999],
        [{ start: 49_000 }, 49_000, 49_999],
        [{ start: 49_999, end: 49_999 }, 49_999, 49_999],
        [{ start: 40_000, end: 10_000_000 }, 40_000, 49_999], // clamped, as HTTP does
      ];
      for (const [range, start, end] of cases) {
        const got = await store.get('range/obj', range);
        expect(got!.range).toEqual({ start, end });
        expect(got!.info.size).toBe(data.length); // the whole object's size, not the range's
        const { bytes, sha } = await drain(got);
        expect(bytes.length).toBe(end - start + 1);
        expect(sha).toBe(sha256(data.subarray(start, end + 1)));
      }
    });

    it('rejects a range that starts at or past the end with BlobRangeError carrying the size', async () => {
      await store.put('range/small', Buffer.from('0123456789'));
      for (const start of [10, 11, 1_000_000]) {
        const err = await store.get('range/small', { start }).then(
          () => null,
          (e: unknown) => e,
        );
        expect(err).toBeInstanceOf(BlobRangeError);
        expect((err as BlobRangeError).size).toBe(10);
      }
      expect(await store.get('range/missing', { start: 5 })).toBeNull();
    });

    it('answers null for a missing key from get and head', async () => {
      expect(await store.get('nope/missing')).toBeNull();
      expect(await store.head('nope/missing')).toBeNull();
    });

    it('round-trips contentType and cacheControl through head and get', async () => {
      const meta = { contentType: 'video/iso.segment', cacheControl: 'public, max-age=31536000, immutable' };
      const data = Buffer.from('segment bytes');
      await store.put('meta/seg.m4s', data, meta);
      expect(await store.head('meta/seg.m4s')).toMatchObject({ key: 'meta/seg.m4s', size: data.length, ...meta });
      const got = await store.get('meta/seg.m4s');
      expect(got!.info).toMatchObject(meta);
      expect((await drain(got)).sha).toBe(sha256(data));
      const ranged = await store.get('meta/seg.m4s', { start: 2 });
      expect(ranged!.info).toMatchObject(meta);
      await drain(ranged);
    });

    it('replaces bytes and metadata on overwrite', async () => {
      await store.put('over/obj', Buffer.from('first version, longer'), { contentType: 'text/plain' });
      const before = await store.head('over/obj');
      const v2 = crypto.randomBytes(3000);
      await store.put('over/obj', v2, { contentType: 'application/json', cacheControl: 'no-cache' });
      const after = await store.head('over/obj');
      expect(after).toMatchObject({ size: v2.length, contentType: 'application/json', cacheControl: 'no-cache' });
      expect(after!.etag).not.toBe(before!.etag);
      expect((await drain(await store.get('over/obj'))).sha).toBe(sha256(v2));
    });

    it('lists by prefix, sorted by key, with sizes', async () => {
      const keys = ['list/b/2', 'list/c', 'list/a', 'list/b/10', 'listing', 'list/b/1/deep', 'list/ü nicode'];
      for (const [i, key] of keys.entries()) await store.put(key, Buffer.alloc(i + 1, i));
      const all = await store.list('list/');
      expect(all.map((o) => o.key)).toEqual(['list/a', 'list/b/1/deep', 'list/b/10', 'list/b/2', 'list/c', 'list/ü nicode']);
      expect(all.find((o) => o.key === 'list/c')!.size).toBe(2);
      expect((await store.list('list/b/1')).map((o) => o.key)).toEqual(['list/b/1/deep', 'list/b/10']);
      expect((await store.list('list')).map((o) => o.key)).toContain('listing');
      expect(await store.list('no-such-prefix/')).toEqual([]);
      const unicode = await store.get('list/ü nicode');
      expect((await drain(unicode)).bytes).toEqual(Buffer.alloc(7, 6));
    });

    it('deletes objects, and deleting a missing key is not an error', async () => {
      await store.put('del/a', Buffer.from('a'));
      await store.put('del/b', Buffer.from('b'));
      await store.delete('del/a');
      await store.delete('del/a');
      await store.delete('del/never/existed');
      expect(await store.get('del/a')).toBeNull();
      expect(await store.head('del/a')).toBeNull();
      expect((await store.list('del/')).map((o) => o.key)).toEqual(['del/b']);
      // The key can be written again after a delete (the fs adapter prunes emptied folders).
      await store.delete('del/b');
      await store.put('del/b', Buffer.from('again'));
      expect((await drain(await store.get('del/b'))).bytes.toString()).toBe('again');
    });

    it('never shows a half-written object: it is absent, then whole, during a slow upload', async () => {
      const data = crypto.randomBytes(600_000);
      let done = false;
      const upload = store.put('atomic/slow', streamOf(data, 25)).finally(() => {
        done = true;
      });
      const seen: (number | null)[] = [];
      while (!done) {
        const head = await store.head('atomic/slow');
        if (!done) seen.push(head?.size ?? null);
        await sleep(10);
      }
      await upload;
      // Absent while the body streams in; a poll racing the put's own reply may already see it whole.
      expect(seen[0]).toBeNull();
      expect(seen.every((s) => s === null || s === data.length)).toBe(true);
      expect((await drain(await store.get('atomic/slow'))).sha).toBe(sha256(data));
    });

    it('leaves nothing behind when the body stream fails mid-way', async () => {
      const failing = Readable.from(
        (async function* () {
          yield crypto.randomBytes(200_000);
          await sleep(5);
          throw new Error('uploader went away');
        })(),
      );
      await expect(store.put('failed/upload', failing)).rejects.toThrow();
      expect(await store.head('failed/upload')).toBeNull();
      expect(await store.list('failed/')).toEqual([]);
    });

    it('rejects keys that could escape the store', async () => {
      for (const key of ['../x', '/abs', 'a/../b', 'a\0b', '', 'a//b', './a', 'a\\b', 'a/']) {
        await expect(store.put(key, Buffer.from('x')), key).rejects.toBeInstanceOf(InvalidKeyError);
        await expect(store.get(key), key).rejects.toBeInstanceOf(InvalidKeyError);
        await expect(store.head(key), key).rejects.toBeInstanceOf(InvalidKeyError);
        await expect(store.delete(key), key).rejects.toBeInstanceOf(InvalidKeyError);
      }
    });
  });
}
