import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  type GetObjectCommandOutput,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { Readable } from 'node:stream';
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

/** Where the bucket is and how to reach it (the shape of Config['s3']). */
export interface S3BlobStoreOptions {
  bucket: string;
  /** Custom endpoint (MinIO, s3rver, R2, ...); omitted = AWS. */
  endpoint?: string;
  region: string;
  /** Omitted = the SDK's default credential chain (env, profile, instance role). */
  accessKeyId?: string;
  secretAccessKey?: string;
  /** http://host/bucket/key instead of http://bucket.host/key; needed by most S3 emulators. */
  forcePathStyle: boolean;
  /** Multipart part size for streamed bodies (S3 minimum 5 MiB). */
  partSize?: number;
}

/** Parts of a streamed upload kept in flight at once. */
const UPLOAD_QUEUE = 4;
const MIN_PART_SIZE = 5 * 1024 * 1024;

/** The HTTP status of an SDK error, if it came from the service. */
function statusOf(err: unknown): number | undefined {
  return (err as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
}

function isNotFound(err: unknown): boolean {
  const name = (err as Error)?.name;
  return name === 'NoSuchKey' || name === 'NotFound' || statusOf(err) === 404;
}

/** Parses `bytes 0-9/100` (RFC 9110 §14.4). */
function parseContentRange(value: string | undefined): { start: number; end: number; size: number } | undefined {
  const m = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(value ?? '');
  return m ? { start: Number(m[1]), end: Number(m[2]), size: Number(m[3]) } : undefined;
}

/**
 * Cuts a body served for a wider range down to the one asked for. s3rver answers `bytes=0-0` with
 * the whole object (it reads end 0 as "no end"); real S3 never does, and then this is a pass-through.
 */
function narrow(body: Readable, skip: number, length: number): Readable {
  let toSkip = skip;
  let left = length;
  return Readable.from(
    (async function* () {
      try {
        for await (const raw of body) {
          let chunk = raw as Buffer;
          if (toSkip > 0) {
            const n = Math.min(toSkip, chunk.length);
            chunk = chunk.subarray(n);
            toSkip -= n;
          }
          if (chunk.length > left) chunk = chunk.subarray(0, left);
          left -= chunk.length;
          if (chunk.length) yield chunk;
          if (left === 0) return;
        }
      } finally {
        body.destroy();
      }
    })(),
  );
}

/** BlobStore on an S3 bucket (AWS, MinIO, R2, s3rver). Objects appear whole: S3 PUTs are atomic. */
export class S3BlobStore implements BlobStore {
  private readonly client: S3Client;
  private readonly bucket: string;
  private readonly partSize: number;

  constructor(opts: S3BlobStoreOptions) {
    this.bucket = opts.bucket;
    this.partSize = Math.max(opts.partSize ?? MIN_PART_SIZE, MIN_PART_SIZE);
    this.client = new S3Client({
      region: opts.region,
      endpoint: opts.endpoint,
      forcePathStyle: opts.forcePathStyle,
      credentials:
        opts.accessKeyId && opts.secretAccessKey
          ? { accessKeyId: opts.accessKeyId, secretAccessKey: opts.secretAccessKey }
          : undefined,
      // Since SDK 3.729 the client adds CRC32 checksums by default, sending streamed bodies with
      // aws-chunked framing; S3 emulators (s3rver) and some S3-compatible stores then keep the
      // framing inside the object. Checksums only where an operation requires them.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
  }

  /** The underlying client, for bucket administration in tests and tools. */
  get s3(): S3Client {
    return this.client;
  }

  async put(key: string, body: Buffer | Uint8Array | Readable, meta: BlobMeta = {}): Promise<void> {
    assertSafeKey(key);
    const params = {
      Bucket: this.bucket,
      Key: key,
      ContentType: meta.contentType,
      CacheControl: meta.cacheControl,
    };
    if (body instanceof Readable) {
      // Unknown length: lib-storage buffers parts and switches to multipart above one part.
      const upload = new Upload({
        client: this.client,
        params: { ...params, Body: body },
        partSize: this.partSize,
        queueSize: UPLOAD_QUEUE,
        leavePartsOnError: false,
      });
      await upload.done();
      return;
    }
    await this.client.send(new PutObjectCommand({ ...params, Body: body, ContentLength: body.byteLength }));
  }

  async get(key: string, range?: ByteRange): Promise<BlobObject | null> {
    assertSafeKey(key);
    if (range && (!Number.isInteger(range.start) || range.start < 0 || (range.end !== undefined && range.end < range.start))) {
      const info = await this.head(key);
      if (!info) return null;
      throw new BlobRangeError(info.size);
    }
    let res: GetObjectCommandOutput;
    try {
      res = await this.client.send(
        new GetObjectCommand({
          Bucket: this.bucket,
          Key: key,
          Range: range ? `bytes=${range.start}-${range.end ?? ''}` : undefined,
        }),
      );
    } catch (err) {
      if (isNotFound(err)) return null;
      if (statusOf(err) === 416 || (err as Error)?.name === 'InvalidRange') {
        const info = await this.head(key);
        if (!info) return null;
        throw new BlobRangeError(info.size);
      }
      throw err;
    }
    const served = range ? parseContentRange(res.ContentRange) : undefined;
    if (range && !served) {
      // A server that ignored Range (200 with the whole body) would break the port's promise.
      (res.Body as Readable | undefined)?.destroy();
      throw new Error(`S3 endpoint ignored the Range header for ${key}`);
    }
    const info: BlobInfo = {
      key,
      size: served?.size ?? res.ContentLength ?? 0,
      contentType: res.ContentType,
      cacheControl: res.CacheControl,
      etag: res.ETag,
      lastModified: res.LastModified,
    };
    let body = (res.Body as Readable | undefined) ?? Readable.from([]);
    if (!range || !served) return { info, body };
    const wanted = { start: range.start, end: Math.min(range.end ?? served.size - 1, served.size - 1) };
    if (served.start > wanted.start || served.end < wanted.end) {
      body.destroy();
      throw new Error(`S3 endpoint served bytes ${served.start}-${served.end} for ${wanted.start}-${wanted.end} of ${key}`);
    }
    if (served.start !== wanted.start || served.end !== wanted.end) {
      body = narrow(body, wanted.start - served.start, wanted.end - wanted.start + 1);
    }
    return { info, body, range: wanted };
  }

  async head(key: string): Promise<BlobInfo | null> {
    assertSafeKey(key);
    try {
      const res = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      return {
        key,
        size: res.ContentLength ?? 0,
        contentType: res.ContentType,
        cacheControl: res.CacheControl,
        etag: res.ETag,
        lastModified: res.LastModified,
      };
    } catch (err) {
      if (isNotFound(err)) return null;
      throw err;
    }
  }

  async list(prefix: string): Promise<BlobInfo[]> {
    const out: BlobInfo[] = [];
    let token: string | undefined;
    do {
      const res = await this.client.send(
        new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix || undefined, ContinuationToken: token }),
      );
      for (const o of res.Contents ?? []) {
        if (o.Key === undefined) continue;
        out.push({ key: o.Key, size: o.Size ?? 0, etag: o.ETag, lastModified: o.LastModified });
      }
      token = res.IsTruncated ? res.NextContinuationToken : undefined;
    } while (token);
    return out.sort((a, b) => compareKeys(a.key, b.key));
  }

  async delete(key: string): Promise<void> {
    assertSafeKey(key);
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }

  async close(): Promise<void> {
    this.client.destroy();
  }
}
