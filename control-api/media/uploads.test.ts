import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tus from 'tus-js-client';
import { createTestApp, type TestApp } from '../test-support/test-app.js';

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'uploads-test-'));
let t: TestApp;
let base: string;
let auth: { authorization: string };

beforeAll(async () => {
  t = await createTestApp({ env: { DATA_DIR: dataDir, UPLOAD_MAX_BYTES: String(64 * 1024 * 1024) } });
  await t.app.listen({ port: 0, host: '127.0.0.1' });
  const addr = t.app.server.address() as { port: number };
  base = `http://127.0.0.1:${addr.port}`;
  ({ auth } = await t.signup());
});
afterAll(async () => {
  await t.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

/** Reserves an upload; its URL rewritten to this test server (the API advertises PUBLIC_HOST). */
async function reserve(title = 'Clip'): Promise<{ id: string; url: string }> {
  const res = await fetch(`${base}/v1/uploads`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ asset: { title } }) });
  expect(res.status).toBe(201);
  const body = (await res.json()) as { id: string; url: string; status: string; assetId: null; expiresAt: string };
  expect(body.status).toBe('waiting');
  expect(body.assetId).toBeNull();
  expect(Date.parse(body.expiresAt)).toBeGreaterThan(Date.now());
  return { id: body.id, url: body.url.replace(/^http:\/\/[^/]+/, base) };
}

const TUS = { 'tus-resumable': '1.0.0' };

async function uploadStatus(id: string): Promise<{ status: string; offset: number; size: number | null; assetId: string | null }> {
  const res = await fetch(`${base}/v1/uploads/${id}`, { headers: auth });
  expect(res.status).toBe(200);
  return (await res.json()) as { status: string; offset: number; size: number | null; assetId: string | null };
}

describe('direct uploads (tus 1.0)', () => {
  it('only creators reserve uploads, and the tus URL needs its signature', async () => {
    const res = await fetch(`${base}/v1/uploads`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ asset: { title: 'x' } }) });
    expect(res.status).toBe(401);
    const { url } = await reserve();
    const forged = url.replace(/sig=[^&]+/, 'sig=AAAA');
    const r = await fetch(forged, { method: 'POST', headers: { ...TUS, 'upload-length': '10' } });
    expect(r.status).toBe(403);
    const unsigned = url.replace(/\?.*$/, '');
    expect((await fetch(unsigned, { method: 'POST', headers: { ...TUS, 'upload-length': '10' } })).status).toBe(403);
  });

  it('an upload cut at a random offset resumes with tus-js-client and the stored bytes match', async () => {
    const file = crypto.randomBytes(6 * 1024 * 1024 + 12345);
    const { id, url } = await reserve();
    const cutAt = Math.floor(file.length * (0.2 + Math.random() * 0.6));
    let location = '';
    // First attempt: aborted once past the cut (a dropped connection).
    await new Promise<void>((resolve, reject) => {
      const up = new tus.Upload(file, {
        endpoint: url,
        chunkSize: 256 * 1024,
        retryDelays: [],
        onProgress: (sent) => {
          if (sent >= cutAt) void up.abort().then(resolve);
        },
        onSuccess: () => reject(new Error('should have been cut')),
        onError: reject,
      });
      up.start();
      const timer = setInterval(() => {
        if (up.url) {
          location = up.url;
          clearInterval(timer);
        }
      }, 5);
    });
    expect(location).toContain(`/v1/uploads/${id}/tus?sig=`);
    const mid = await uploadStatus(id);
    expect(mid.status).toBe('uploading');
    expect(mid.offset).toBeGreaterThan(0);
    expect(mid.offset).toBeLessThan(file.length);
    // Second attempt resumes from the server's offset (HEAD), not from zero.
    let resumedFrom = -1;
    await new Promise<void>((resolve, reject) => {
      const up = new tus.Upload(file, {
        uploadUrl: location,
        chunkSize: 1024 * 1024,
        retryDelays: [100, 300, 1000],
        onProgress: (sent) => {
          if (resumedFrom < 0) resumedFrom = sent;
        },
        onSuccess: () => resolve(),
        onError: reject,
      });
      up.start();
    });
    expect(resumedFrom).toBeGreaterThan(0);
    const stored = fs.readFileSync(path.join(t.config.vod.uploadDir, id));
    expect(crypto.createHash('sha256').update(stored).digest('hex')).toBe(crypto.createHash('sha256').update(file).digest('hex'));
    const done = await uploadStatus(id);
    expect(done).toMatchObject({ status: 'asset_created', offset: file.length, size: file.length });
    expect(done.assetId).toMatch(/^[0-9a-f-]{36}$/);
    const asset = await fetch(`${base}/v1/assets/${done.assetId}`, { headers: auth });
    expect(await asset.json()).toMatchObject({ id: done.assetId, title: 'Clip', status: 'preparing', uploadId: id, progress: { percent: 0 } });
    // The same URL cannot take a second upload, nor more bytes.
    expect((await fetch(location, { method: 'POST', headers: { ...TUS, 'upload-length': '10' } })).status).toBe(409);
    expect((await fetch(location, { method: 'PATCH', headers: { ...TUS, 'upload-offset': String(file.length), 'content-type': 'application/offset+octet-stream' }, body: 'x' })).status).toBe(409);
  }, 60_000);

  it('checksums: a wrong Upload-Checksum is 460 and the offset does not move; a right one is stored', async () => {
    const { id, url } = await reserve();
    const chunk = crypto.randomBytes(100_000);
    const created = await fetch(url, { method: 'POST', headers: { ...TUS, 'upload-length': String(chunk.length * 2) } });
    expect(created.status).toBe(201);
    const options = await fetch(url, { method: 'OPTIONS' });
    expect(options.headers.get('tus-extension')).toContain('checksum');
    expect(options.headers.get('tus-checksum-algorithm')).toContain('sha256');
    const patch = (body: Buffer, offset: number, checksum?: string) =>
      fetch(url, { method: 'PATCH', headers: { ...TUS, 'upload-offset': String(offset), 'content-type': 'application/offset+octet-stream', ...(checksum ? { 'upload-checksum': checksum } : {}) }, body: new Uint8Array(body) });
    const wrong = `sha256 ${crypto.createHash('sha256').update('something else').digest('base64')}`;
    expect((await patch(chunk, 0, wrong)).status).toBe(460);
    expect((await uploadStatus(id)).offset).toBe(0);
    expect((await patch(chunk, 0, 'crc32 AAAA')).status).toBe(400);
    const ok = await patch(chunk, 0, `sha1 ${crypto.createHash('sha1').update(chunk).digest('base64')}`);
    expect(ok.status).toBe(204);
    expect(ok.headers.get('upload-offset')).toBe(String(chunk.length));
    // A wrong offset is the tus 409.
    expect((await patch(chunk, 5)).status).toBe(409);
    const second = crypto.randomBytes(chunk.length);
    expect((await patch(second, chunk.length, `sha256 ${crypto.createHash('sha256').update(second).digest('base64')}`)).status).toBe(204);
    expect(fs.readFileSync(path.join(t.config.vod.uploadDir, id)).equals(Buffer.concat([chunk, second]))).toBe(true);
  });

  it('a second PATCH while one is writing gets 423 Locked', async () => {
    const { url } = await reserve();
    const size = 4 * 1024 * 1024;
    expect((await fetch(url, { method: 'POST', headers: { ...TUS, 'upload-length': String(size) } })).status).toBe(201);
    // A slow PATCH: the body trickles in while a second one arrives.
    let push!: (b: Buffer | null) => void;
    const slowBody = new ReadableStream<Uint8Array>({
      start(controller) {
        push = (b) => (b ? controller.enqueue(b) : controller.close());
      },
    });
    const first = fetch(url, { method: 'PATCH', headers: { ...TUS, 'upload-offset': '0', 'content-type': 'application/offset+octet-stream' }, body: slowBody, duplex: 'half' } as RequestInit);
    push(Buffer.alloc(64 * 1024));
    await new Promise((r) => setTimeout(r, 200));
    const second = await fetch(url, { method: 'PATCH', headers: { ...TUS, 'upload-offset': '0', 'content-type': 'application/offset+octet-stream' }, body: new Uint8Array(10) });
    expect(second.status).toBe(423);
    push(null);
    expect((await first).status).toBe(204);
  });

  it('an Upload-Length over UPLOAD_MAX_BYTES is 413', async () => {
    const { url } = await reserve();
    const res = await fetch(url, { method: 'POST', headers: { ...TUS, 'upload-length': String(65 * 1024 * 1024) } });
    expect(res.status).toBe(413);
  });

  it('termination cancels the upload and removes its bytes; the URL is then gone (410)', async () => {
    const { id, url } = await reserve();
    await fetch(url, { method: 'POST', headers: { ...TUS, 'upload-length': '1000', 'upload-offset': '0', 'content-type': 'application/offset+octet-stream' }, body: new Uint8Array(500) });
    expect((await uploadStatus(id)).offset).toBe(500);
    expect((await fetch(url, { method: 'DELETE', headers: TUS })).status).toBe(204);
    await new Promise((r) => setTimeout(r, 100));
    expect((await uploadStatus(id)).status).toBe('cancelled');
    expect(fs.existsSync(path.join(t.config.vod.uploadDir, id))).toBe(false);
    expect((await fetch(url, { method: 'HEAD', headers: TUS })).status).toBe(410);
  });

  it('an abandoned upload expires: timed_out, bytes removed, URL gone', async () => {
    const { id, url } = await reserve();
    await fetch(url, { method: 'POST', headers: { ...TUS, 'upload-length': '1000' } });
    await t.sql.query(`UPDATE uploads SET expires_at = now() - interval '1 second' WHERE id = $1`, [id]);
    expect(await t.services.uploads.expire()).toBeGreaterThanOrEqual(1);
    expect((await uploadStatus(id)).status).toBe('timed_out');
    expect(fs.existsSync(path.join(t.config.vod.uploadDir, id))).toBe(false);
    expect((await fetch(url, { method: 'HEAD', headers: TUS })).status).toBe(410);
  });

  it('per-account quotas: unfinished uploads (403 QUOTA_PENDING_UPLOADS) and stored bytes (403 at creation)', async () => {
    const q = await createTestApp({ env: { DATA_DIR: fs.mkdtempSync(path.join(os.tmpdir(), 'uploads-quota-')), QUOTA_PENDING_UPLOADS: '2', QUOTA_STORAGE_BYTES: '1000' } });
    try {
      await q.app.listen({ port: 0, host: '127.0.0.1' });
      const qb = `http://127.0.0.1:${(q.app.server.address() as { port: number }).port}`;
      const { auth: a } = await q.signup();
      const reserveQ = () => fetch(`${qb}/v1/uploads`, { method: 'POST', headers: { ...a, 'content-type': 'application/json' }, body: JSON.stringify({ asset: { title: 'q' } }) });
      const first = (await (await reserveQ()).json()) as { url: string };
      const second = (await (await reserveQ()).json()) as { url: string };
      const third = await reserveQ();
      expect(third.status).toBe(403);
      expect(((await third.json()) as { code: string }).code).toBe('QUOTA_PENDING_UPLOADS');
      const url = (u: string) => u.replace(/^http:\/\/[^/]+/, qb);
      expect((await fetch(url(first.url), { method: 'POST', headers: { ...TUS, 'upload-length': '600' } })).status).toBe(201);
      const over = await fetch(url(second.url), { method: 'POST', headers: { ...TUS, 'upload-length': '600' } });
      expect(over.status).toBe(403);
      expect(await over.text()).toContain('QUOTA_STORAGE_BYTES');
      expect((await fetch(url(second.url), { method: 'POST', headers: { ...TUS, 'upload-length': '400' } })).status).toBe(201);
    } finally {
      await q.close();
    }
  });
});
