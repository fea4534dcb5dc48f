/**
 * The scaled-out shape of a deployment, on one machine: every service in its own process
 * (`node dist/main.js <service>`), two origins behind one edge, sharing Postgres, Redis (bus and live
 * state) and S3. A broadcaster publishes, a viewer plays, an origin dies, the stream is recorded.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tus from 'tus-js-client';
import { promisify } from 'node:util';
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import m3u8 from 'm3u8-parser';
import { S3BlobStore } from '../platform/index.js';
import { dropPostgresDatabase, freshPostgresDatabase, testEnv, uniqueName } from '../platform/test-support/env.js';
import { api, decodeFrames, freePort, getText, publishTestPattern, signUp, stop, waitUntil } from './support.js';

const execFileP = promisify(execFile);
const ROOT = path.resolve(import.meta.dirname, '..');

function lastMsn(text: string): number {
  const p = new m3u8.Parser();
  p.push(text);
  p.end();
  return p.manifest.mediaSequence + p.manifest.segments.length - 1;
}

describe('split deployment: one process per service on Postgres, Redis and S3', () => {
  const procs = new Map<string, ChildProcess>();
  const logs = new Map<string, string>();
  let databaseUrl: string;
  let env: Record<string, string>;
  let ports: Record<'api' | 'api2' | 'rtmp' | 'ingestHttp' | 'origin1' | 'origin2' | 'edge' | 'metrics' | 'vod1' | 'vod2' | 'analytics', number>;
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'split-data-'));
  let publisher: ChildProcess | undefined;

  function run(name: string, service: string, extra: Record<string, string> = {}): void {
    const child = spawn(process.execPath, [path.join(ROOT, 'dist/main.js'), service], { cwd: ROOT, env: { ...process.env, ...env, ...extra }, stdio: ['ignore', 'pipe', 'pipe'] });
    const keep = (d: Buffer) => logs.set(name, ((logs.get(name) ?? '') + d.toString()).slice(-8000));
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    procs.set(name, child);
  }

  async function healthy(url: string): Promise<boolean> {
    try {
      return (await fetch(url)).ok;
    } catch {
      return false;
    }
  }

  beforeAll(async () => {
    // The services run from the build, exactly as `node dist/main.js <service>` does in production.
    await execFileP('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: ROOT, timeout: 180_000 });
    const t = testEnv();
    databaseUrl = await freshPostgresDatabase();
    const bucket = uniqueName('split-');
    const s3 = new S3BlobStore({ bucket, endpoint: t.s3Endpoint, region: 'us-east-1', accessKeyId: t.s3AccessKeyId, secretAccessKey: t.s3SecretAccessKey, forcePathStyle: true });
    await s3.s3.send(new CreateBucketCommand({ Bucket: bucket }));
    await s3.close();
    const [api_, api2, rtmp, ingestHttp, origin1, origin2, edge, metrics, vod1, vod2, analytics] = await Promise.all(Array.from({ length: 11 }, () => freePort()));
    ports = { api: api_, api2, rtmp, ingestHttp, origin1, origin2, edge, metrics, vod1, vod2, analytics };
    env = {
      NODE_ENV: 'production',
      LOG_LEVEL: 'warn',
      BIND_HOST: '127.0.0.1',
      PUBLIC_HOST: '127.0.0.1',
      JWT_SECRET: 'split-deployment-test-secret-0123456789abcdef',
      INTERNAL_TOKEN: 'split-internal-token-0123456789abcdefghij',
      PLAYBACK_SIGNING_KEY: 'split-playback-signing-key-0123456789abcdef',
      DATABASE_URL: databaseUrl,
      REDIS_URL: `${t.redisUrl.replace(/\/\d*$/, '')}/${3 + Math.floor(Math.random() * 10)}`,
      BUS_DRIVER: 'redis',
      S3_BUCKET: bucket,
      S3_ENDPOINT: t.s3Endpoint,
      S3_ACCESS_KEY_ID: t.s3AccessKeyId,
      S3_SECRET_ACCESS_KEY: t.s3SecretAccessKey,
      API_PORT: String(api_),
      RTMP_PORT: String(rtmp),
      INGEST_HTTP_PORT: String(ingestHttp),
      EDGE_PORT: String(edge),
      METRICS_PORT: String(metrics),
      CONTROL_API_URL: `http://127.0.0.1:${api_}`,
      ORIGIN_URLS: `http://127.0.0.1:${origin1},http://127.0.0.1:${origin2}`,
      EDGE_HEALTH_INTERVAL_MS: '500',
      LIVE_LADDER: '360p:360:700,240p:240:350',
      LIVE_RECONNECT_GRACE: '2',
      // One DATA_DIR for every process: control-api stores uploads there, the VOD workers read them.
      DATA_DIR: dataDir,
      VOD_SEGMENT_SECONDS: '2',
      VOD_LADDER: '360p:360:800,240p:240:400',
      VOD_X264_PRESET: 'medium',
      // A killed worker's job is retried once this timeout passes.
      VOD_JOB_TIMEOUT_SECONDS: '40',
      // A killed aggregator's unacknowledged beacons go to the next one after this.
      BUS_CLAIM_IDLE_SECONDS: '3',
    };
    run('control-api', 'control-api');
    await waitUntil('control-api', () => healthy(`http://127.0.0.1:${api_}/healthz`), 60_000);
    run('origin1', 'origin', { ORIGIN_PORT: String(origin1) });
    run('origin2', 'origin', { ORIGIN_PORT: String(origin2) });
    run('packager', 'packager');
    run('ingest', 'ingest');
    run('edge', 'edge-cache');
    run('vod1', 'vod-worker', { METRICS_PORT: String(vod1) });
    await waitUntil('every service', async () => {
      const urls = [origin1, origin2, edge, ingestHttp, metrics, vod1].map((p) => `http://127.0.0.1:${p}/healthz`);
      return (await Promise.all(urls.map(healthy))).every(Boolean);
    }, 60_000);
  }, 300_000);

  afterAll(async () => {
    await stop(publisher);
    const running = [...procs.values()].filter((c) => c.exitCode === null && c.signalCode === null);
    const exited = Promise.all(running.map((c) => new Promise((r) => c.once('exit', r))));
    for (const child of running) child.kill('SIGTERM');
    // Graceful shutdown is the services' job; a stuck one is killed so the suite never hangs.
    const timer = setTimeout(() => running.forEach((c) => c.kill('SIGKILL')), 15_000);
    await exited;
    clearTimeout(timer);
    if (databaseUrl) await dropPostgresDatabase(databaseUrl);
    fs.rmSync(dataDir, { recursive: true, force: true });
  }, 60_000);

  it('publishes, plays through the edge, survives an origin dying, and records to S3', async () => {
    const token = await signUp(`http://127.0.0.1:${ports.api}`);
    const created = await api(`http://127.0.0.1:${ports.api}`, 'POST', '/v1/live-streams', { title: 'split' }, token);
    expect(created.status).toBe(201);
    const stream = created.body;
    publisher = publishTestPattern(`${stream.rtmpUrl}/${stream.streamKey}`, { seconds: 120 });
    const media = stream.playback.hls.replace('master.m3u8', '360p/index.m3u8');
    await waitUntil('two segments at the edge', async () => ((await fetch(media).then((r) => (r.ok ? r.text() : ''))).match(/#EXTINF/g)?.length ?? 0) >= 2, 60_000);
    expect((await api(`http://127.0.0.1:${ports.api}`, 'GET', `/v1/live-streams/${stream.id}`, undefined, token)).body.status).toBe('live');
    expect(await decodeFrames(stream.playback.hls, 2)).toBeGreaterThan(30);

    // One origin dies: the edge fails over, playlists keep advancing.
    procs.get('origin1')!.kill('SIGKILL');
    const before = lastMsn(await getText(media));
    await waitUntil('the playlist to advance after the origin died', async () => lastMsn(await getText(media)) >= before + 2, 30_000);
    const packagerMetrics = await getText(`http://127.0.0.1:${ports.metrics}/metrics`);
    expect(packagerMetrics).toMatch(/packager_parts_written_total\{rendition_kind="video"\} [1-9]/);

    await stop(publisher);
    publisher = undefined;
    const ended = await waitUntil('the recording', async () => {
      const s = (await api(`http://127.0.0.1:${ports.api}`, 'GET', `/v1/live-streams/${stream.id}`, undefined, token)).body;
      return s.status === 'ended' && s.recentAssetIds.length ? s : undefined;
    }, 60_000);
    const asset = (await api(`http://127.0.0.1:${ports.api}`, 'GET', `/v1/assets/${ended.recentAssetIds[0]}`, undefined, token)).body;
    expect(asset.status).toBe('ready');
    expect(await decodeFrames(asset.playback.hls, 2)).toBeGreaterThan(30);
  }, 240_000);

  it('a VOD worker killed mid-transcode: the job is retried on another worker and completes; players never saw a partial rendition', async () => {
    const base = `http://127.0.0.1:${ports.api}`;
    const token = await signUp(base);
    const file = path.join(dataDir, 'source.mp4');
    await execFileP('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=30', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000', '-t', '40', '-c:v', 'libx264', '-preset', 'ultrafast', '-c:a', 'aac', file]);
    const created = await api(base, 'POST', '/v1/uploads', { asset: { title: 'killed mid-transcode' } }, token);
    expect(created.status).toBe(201);
    await new Promise<void>((resolve, reject) => new tus.Upload(fs.readFileSync(file), { endpoint: created.body.url, onSuccess: () => resolve(), onError: reject }).start());
    const assetId = await waitUntil('asset', async () => (await api(base, 'GET', `/v1/uploads/${created.body.id}`, undefined, token)).body.assetId as string | null, 10_000, 100);
    const asset = (await api(base, 'GET', `/v1/assets/${assetId}`, undefined, token)).body;
    const playlist = asset.playback.hls.replace('master.m3u8', '360p/index.m3u8');

    // What a player polling the playlist sees: the segment count never goes down, and ENDLIST only once complete.
    const counts: number[] = [];
    let polling = true;
    const poll = (async () => {
      while (polling) {
        const res = await fetch(playlist).catch(() => undefined);
        if (res?.ok) {
          const text = await res.text();
          // s3rver (not S3) can serve an object it is overwriting empty or cut short: only whole playlists count.
          if (text.startsWith('#EXTM3U') && /(\.m4s|#EXT-X-ENDLIST)\n$/.test(text)) counts.push((text.match(/#EXTINF/g) ?? []).length);
          if (text.includes('#EXT-X-ENDLIST')) expect((text.match(/#EXTINF/g) ?? []).length).toBe(20);
        }
        await new Promise((r) => setTimeout(r, 200));
      }
    })();
    await waitUntil('the first worker to be transcoding', async () => counts.some((n) => n > 0), 60_000, 100);
    procs.get('vod1')!.kill('SIGKILL');
    const killedAt = counts.at(-1) ?? 0;
    expect((await api(base, 'GET', `/v1/assets/${assetId}`, undefined, token)).body.status).toBe('preparing');
    run('vod2', 'vod-worker', { METRICS_PORT: String(ports.vod2) });
    const ready = await waitUntil('the retried job to finish', async () => {
      const a = (await api(base, 'GET', `/v1/assets/${assetId}`, undefined, token)).body;
      if (a.status === 'errored') throw new Error(JSON.stringify(a.errors));
      return a.status === 'ready' ? a : undefined;
    }, 150_000, 500);
    // Final playlists are kept 10 s by the edge, and s3rver can hand the origin one cut short while it is
    // being written: allow two lifetimes for a whole one to arrive.
    await waitUntil('the VOD playlist at the edge', async () => (await getText(playlist)).includes('#EXT-X-ENDLIST'), 25_000, 200);
    polling = false;
    await poll;
    expect(killedAt).toBeLessThan(20);
    for (let i = 1; i < counts.length; i++) expect(counts[i]).toBeGreaterThanOrEqual(counts[i - 1]);
    expect(ready.duration).toBeCloseTo(40, 0);
    // Every rendition decodes whole.
    expect(await decodeFrames(ready.playback.hls, 38)).toBeGreaterThan(1100);
    const workerMetrics = await getText(`http://127.0.0.1:${ports.vod2}/metrics`);
    expect(workerMetrics).toMatch(/vod_jobs_total\{outcome="ready"\} 1/);
  }, 240_000);

  it('a killed analytics aggregator: the next one resumes from the consumer group, every beacon counted once', async () => {
    const base = `http://127.0.0.1:${ports.api}`;
    const token = await signUp(base);
    const stream = (await api(base, 'POST', '/v1/live-streams', { title: 'watched' }, token)).body;
    const views = async () => (await api(base, 'GET', `/v1/live-streams/${stream.id}/analytics`, undefined, token)).body;
    const beacon = (i: number) => api(base, 'POST', '/v1/qos', {
      sessionId: `view-${i}-${stream.id}`, mediaId: stream.id, mediaKind: 'live', viewerId: `viewer-${i % 7}`,
      events: [
        { id: `start-${i}-${stream.id}`, type: 'start', at: Date.now(), startupSeconds: 1 },
        { id: `stall-${i}-${stream.id}`, type: 'rebuffer', at: Date.now(), durationSeconds: 0.5 },
        { id: `play-${i}-${stream.id}`, type: 'playing', at: Date.now(), watchedSeconds: 10 },
      ],
    });
    const send = async (from: number, to: number) => {
      for (let i = from; i < to; i += 20) {
        const statuses = await Promise.all(Array.from({ length: Math.min(20, to - i) }, (_, k) => beacon(i + k).then((r) => r.status)));
        expect(statuses.every((st) => st === 202)).toBe(true);
      }
    };
    run('analytics', 'analytics', { METRICS_PORT: String(ports.analytics) });
    await waitUntil('the aggregator', () => healthy(`http://127.0.0.1:${ports.analytics}/healthz`), 60_000);
    // Killed while it works through a backlog: what it read but had not acknowledged stays pending.
    const sending = send(0, 300);
    await waitUntil('the aggregator to be part-way through', async () => (await views()).views > 0, 30_000, 20);
    const exited = new Promise((r) => procs.get('analytics')!.once('exit', r));
    procs.get('analytics')!.kill('SIGKILL');
    await exited;
    await sending;
    const atKill = (await views()).views;
    // While no aggregator runs, beacons still arrive: the stream keeps them.
    await send(300, 400);
    expect((await views()).views).toBe(atKill);
    run('analytics', 'analytics', { METRICS_PORT: String(ports.analytics) });
    const done = await waitUntil('every view counted', async () => {
      const a = await views();
      return a.views >= 400 ? a : undefined;
    }, 60_000, 250);
    // Pending entries are claimed after BUS_CLAIM_IDLE_SECONDS; let any double delivery show itself.
    await new Promise((r) => setTimeout(r, 4000));
    const after = await views();
    expect({ ...after, from: 0, to: 0 }).toEqual({ ...done, from: 0, to: 0 });
    expect(after).toMatchObject({ views: 400, uniqueViewers: 7, watchTimeSeconds: 4000, rebufferCount: 400, rebufferRatio: 0.05, startupSeconds: { p50: 1, p95: 1 } });
    // The resumed aggregator applied exactly the views the killed one had not (redeliveries of applied ones change nothing).
    const metricsText = await getText(`http://127.0.0.1:${ports.analytics}/metrics`);
    expect(metricsText).toMatch(new RegExp(`qos_events_total\\{type="start"\\} ${400 - atKill}\\n`));
  }, 180_000);

  it('holds a plan’s concurrent-stream limit across two control-api processes on one Redis', async () => {
    run('control-api2', 'control-api', { API_PORT: String(ports.api2) });
    await waitUntil('the second control-api', () => healthy(`http://127.0.0.1:${ports.api2}/healthz`), 60_000);
    if (!['vod1', 'vod2'].some((n) => procs.get(n)?.exitCode === null && procs.get(n)?.signalCode === null)) run('vod2', 'vod-worker', { METRICS_PORT: String(ports.vod2) });
    const [a, b] = [`http://127.0.0.1:${ports.api}`, `http://127.0.0.1:${ports.api2}`];
    const creator = await signUp(a);
    const file = path.join(dataDir, 'short.mp4');
    await execFileP('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=25', '-t', '4', '-c:v', 'libx264', '-preset', 'ultrafast', file]);
    const upload = await api(a, 'POST', '/v1/uploads', { asset: { title: 'limited' } }, creator);
    await new Promise<void>((resolve, reject) => new tus.Upload(fs.readFileSync(file), { endpoint: upload.body.url, onSuccess: () => resolve(), onError: reject }).start());
    const assetId = await waitUntil('asset', async () => (await api(a, 'GET', `/v1/uploads/${upload.body.id}`, undefined, creator)).body.assetId as string | null, 10_000, 100);
    await waitUntil('asset ready', async () => (await api(a, 'GET', `/v1/assets/${assetId}`, undefined, creator)).body.status === 'ready', 120_000, 500);
    const title = (await api(a, 'POST', '/v1/titles', { type: 'movie', name: 'Limited', maturityRating: 'PG', assetId, requiredPlan: 'basic' }, creator)).body;
    expect((await api(a, 'POST', `/v1/titles/${title.id}/publish`, undefined, creator)).status).toBe(200);

    // A viewer on standard (two streams) pays on the built-in checkout of the second process.
    const viewer = await signUp(b);
    const profileId = (await api(b, 'GET', '/v1/profiles', undefined, viewer)).body.items[0].id;
    const checkout = await api(b, 'POST', '/v1/subscriptions/checkout', { planId: 'standard' }, viewer);
    const paid = await fetch(checkout.body.url, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'method=card' });
    expect(paid.status).toBe(303);
    const start = (base: string, deviceId: string) => api(base, 'POST', '/v1/playback-tokens', { titleId: title.id, profileId, deviceId }, viewer);
    const first = await start(a, 'tv');
    const second = await start(b, 'phone');
    expect([first.status, second.status]).toEqual([201, 201]);
    for (const base of [a, b]) {
      const third = await start(base, 'laptop');
      expect(third.status).toBe(403);
      expect(third.body.code).toBe('STREAM_LIMIT_REACHED');
      expect(third.body.sessions.map((x: { deviceId: string }) => x.deviceId).sort()).toEqual(['phone', 'tv']);
    }
    // Stopped on one process, the slot is free on the other; the token plays at the edge.
    expect((await api(a, 'DELETE', `/v1/playback-sessions/${second.body.sessionId}`, undefined, viewer)).status).toBe(204);
    const laptop = await start(b, 'laptop');
    expect(laptop.status).toBe(201);
    expect(await decodeFrames(laptop.body.playback.hls, 2)).toBeGreaterThan(30);
  }, 200_000);
});
