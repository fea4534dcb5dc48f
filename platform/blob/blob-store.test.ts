import fs from 'node:fs/promises';
import path from 'node:path';
import crypto from 'node:crypto';
import { Readable } from 'node:stream';
import { CreateBucketCommand, DeleteBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { describe, it, expect } from 'vitest';
import { testEnv, tempDir, uniqueName } from '../test-support/env.js';
import { blobStoreContract } from './blob-store.contract.js';
import { FsBlobStore } from './fs-blob-store.js';
import { S3BlobStore } from './s3-blob-store.js';

blobStoreContract('FsBlobStore (temp dir)', async () => {
  const dir = await tempDir('streamforge-blob-');
  return { store: new FsBlobStore(dir), cleanup: () => fs.rm(dir, { recursive: true, force: true }) };
});

blobStoreContract('S3BlobStore (s3rver, fresh bucket)', async () => {
  const env = testEnv();
  const bucket = uniqueName('sf-test-');
  const store = new S3BlobStore({ ...storeOptions(env), bucket });
  await store.s3.send(new CreateBucketCommand({ Bucket: bucket }));
  // Empties and removes the bucket through a second client (the store is closed by then).
  const cleanup = async () => {
    const admin = new S3BlobStore({ ...storeOptions(env), bucket });
    for (const o of await admin.list('')) await admin.delete(o.key);
    await admin.s3.send(new DeleteBucketCommand({ Bucket: bucket }));
    await admin.close();
  };
  return { store, cleanup };
});

/** Connection options for the test S3 endpoint (s3rver wants path-style addressing). */
function storeOptions(env: ReturnType<typeof testEnv>) {
  return {
    endpoint: env.s3Endpoint,
    region: 'us-east-1',
    accessKeyId: env.s3AccessKeyId,
    secretAccessKey: env.s3SecretAccessKey,
    forcePathStyle: true,
  };
}

describe('FsBlobStore layout', () => {
  it('keeps bytes as plain files under objects/, leaves no temp files and prunes emptied folders', async () => {
    const dir = await tempDir('streamforge-blob-');
    try {
      const store = new FsBlobStore(dir);
      await store.put('live/s1/720p/seg1.m4s', Buffer.from('abc'), { contentType: 'video/mp4' });
      expect(await fs.readFile(path.join(dir, 'objects/live/s1/720p/seg1.m4s'), 'utf8')).toBe('abc');
      expect(await fs.readdir(path.join(dir, 'tmp'))).toEqual([]);
      await store.delete('live/s1/720p/seg1.m4s');
      expect(await fs.readdir(path.join(dir, 'objects'))).toEqual([]);
      expect(await fs.readdir(path.join(dir, 'meta'))).toEqual([]);
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});

describe('S3BlobStore client configuration', () => {
  it('sends streamed bodies without aws-chunked framing (checksums only WHEN_REQUIRED)', async () => {
    // With the SDK's default (WHEN_SUPPORTED) a streamed PutObject is sent aws-chunked with a CRC32
    // trailer, and s3rver stores the framing as object bytes (1000 bytes come back as 1043).
    const env = testEnv();
    const bucket = uniqueName('sf-test-');
    const store = new S3BlobStore({ ...storeOptions(env), bucket });
    await store.s3.send(new CreateBucketCommand({ Bucket: bucket }));
    const data = crypto.randomBytes(1000);
    await store.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'streamed', Body: Readable.from([data]), ContentLength: data.length }));
    const got = await store.get('streamed');
    const chunks: Buffer[] = [];
    for await (const c of got!.body) chunks.push(c as Buffer);
    expect(Buffer.concat(chunks).equals(data)).toBe(true);
    await store.delete('streamed');
    await store.s3.send(new DeleteBucketCommand({ Bucket: bucket }));
    await store.close();
  });
});
