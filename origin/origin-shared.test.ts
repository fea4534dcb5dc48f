/**
 * Several origin processes sharing Redis and S3 serve one stream without sticky sessions: a part the
 * packager announces is visible on every origin, and a request held on one is released by it.
 */
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisLiveState, S3BlobStore, createLogger, createMetricsRegistry, loadConfig, type BlobStore } from '../platform/index.js';
import { testEnv, uniqueName } from '../platform/test-support/env.js';
import { LiveCatalog, RenditionTimeline } from '../packager/index.js';
import { OriginServer } from './origin-server.js';

const STREAM = 'shared1';

describe('two origins on one Redis and one S3 bucket', () => {
  const env = testEnv();
  const bucket = uniqueName('origins-');
  const logger = createLogger('silent');
  const closers: (() => Promise<void>)[] = [];
  const s3 = (): BlobStore => {
    const store = new S3BlobStore({ bucket, endpoint: env.s3Endpoint, region: 'us-east-1', accessKeyId: env.s3AccessKeyId, secretAccessKey: env.s3SecretAccessKey, forcePathStyle: true });
    closers.push(() => store.close());
    return store;
  };
  const redis = () => {
    const state = new RedisLiveState({ logger }, { url: env.redisUrl, keyPrefix: `${bucket}:` });
    closers.push(() => state.close());
    return state;
  };
  let origins: OriginServer[];
  let packagerBlobs: BlobStore;
  let packagerCatalog: LiveCatalog;
  const timeline = new RenditionTimeline({ streamId: STREAM, rendition: '360p', kind: 'video', timescale: 90000, initName: 'init-1.mp4', partTarget: 0.5, segmentTarget: 2, dvrWindowSeconds: 60, firstMsn: 1 });

  async function publishPart(): Promise<{ msn: number; part: number }> {
    const pos = timeline.addPart({ duration: 0.5, independent: timeline.nextPart === 0 }, 0, Date.now());
    await packagerBlobs.put(`live/${STREAM}/360p/part-${pos.msn}.${pos.part}.m4s`, Buffer.from(`part ${pos.msn}.${pos.part}`));
    if (pos.part === 3) timeline.closeSegment(2);
    await packagerCatalog.publish(timeline);
    return pos;
  }

  beforeAll(async () => {
    packagerBlobs = s3();
    await (packagerBlobs as S3BlobStore).s3.send(new CreateBucketCommand({ Bucket: bucket }));
    packagerCatalog = new LiveCatalog(redis());
    origins = [];
    for (let i = 0; i < 2; i++) {
      const config = loadConfig({ NODE_ENV: 'test', ORIGIN_PORT: '0', BIND_HOST: '127.0.0.1' });
      const origin = new OriginServer({ blobs: s3(), catalog: new LiveCatalog(redis()), logger, metrics: createMetricsRegistry(false) }, config);
      await origin.start();
      origins.push(origin);
    }
    await packagerCatalog.putStream({
      streamId: STREAM, sessionId: 's', startedAtMs: Date.now(), expectedRenditions: ['360p'], partTarget: 0.5, segmentTarget: 2, dvrWindowSeconds: 60, ended: false,
      renditions: [{ name: '360p', kind: 'video', codec: 'avc1.64001e', bandwidth: 900_000, width: 640, height: 360, frameRate: 30, timescale: 90000 }],
    });
    for (let i = 0; i < 5; i++) await publishPart(); // segment 1 complete, part 2.0 listed
  });

  afterAll(async () => {
    for (const o of origins ?? []) await o.close();
    for (const close of closers) await close();
  });

  it('serves the same playlist from both origins', async () => {
    const [a, b] = await Promise.all(origins.map(async (o) => (await fetch(`http://127.0.0.1:${o.port}/live/${STREAM}/360p/index.m3u8`)).text()));
    expect(a).toContain('part-2.0.m4s');
    expect(b).toContain('part-2.0.m4s');
  });

  it('releases a blocking reload held on either origin when the packager announces the part', async () => {
    const held = origins.map((o) => fetch(`http://127.0.0.1:${o.port}/live/${STREAM}/360p/index.m3u8?_HLS_msn=2&_HLS_part=1`));
    await new Promise((r) => setTimeout(r, 300));
    await publishPart();
    for (const res of await Promise.all(held)) {
      expect(res.status).toBe(200);
      expect(await res.text()).toContain('part-2.1.m4s');
    }
  });

  it('serves parts written by the packager from either origin, including a held preload-hint request', async () => {
    const hinted = fetch(`http://127.0.0.1:${origins[1].port}/live/${STREAM}/360p/part-2.2.m4s`);
    await new Promise((r) => setTimeout(r, 200));
    await publishPart();
    const res = await hinted;
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('part 2.2');
    const other = await fetch(`http://127.0.0.1:${origins[0].port}/live/${STREAM}/360p/part-2.2.m4s`);
    expect(await other.text()).toBe('part 2.2');
  });
});
