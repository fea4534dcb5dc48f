import crypto from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createLogger, createMetricsRegistry, loadConfig, MemoryBus, MemoryLiveState, openPglite, type Config, type Sql,
} from '../platform/index.js';
import type { ControlApiBusTopics } from './app.js';
import { ControlApiClient } from './control-api-client.js';
import { ControlApiServer } from './control-api-server.js';
import type { LiveStreamView } from './contract.js';
import { GOOD_PASSWORD, TEST_ENV } from './test-support/test-app.js';

let server: ControlApiServer;
let sql: Sql;
let bus: MemoryBus<ControlApiBusTopics>;
let liveState: MemoryLiveState;
let config: Config;
let base: string;
let stream: LiveStreamView;
let accountId: string;
let token: string;

beforeAll(async () => {
  config = loadConfig(TEST_ENV);
  sql = await openPglite();
  const logger = createLogger('silent');
  bus = new MemoryBus<ControlApiBusTopics>({ logger });
  liveState = new MemoryLiveState();
  server = new ControlApiServer({ sql, liveState, logger, metrics: createMetricsRegistry(false), bus, ready: () => true }, config);
  await server.start();
  base = server.url!;
  const json = async (path: string, body: object, headers: Record<string, string> = {}) => {
    const res = await fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
    return res.json();
  };
  const email = `server-${crypto.randomUUID()}@example.test`;
  accountId = (await json('/v1/accounts', { email, password: GOOD_PASSWORD })).id;
  token = (await json('/v1/auth/login', { email, password: GOOD_PASSWORD })).accessToken;
  stream = await json('/v1/live-streams', { title: 'Over HTTP' }, { authorization: `Bearer ${token}` });
});

afterAll(async () => {
  await server?.close();
  await bus?.close();
  await liveState?.close();
  await sql?.close();
});

const getStream = async () =>
  (await fetch(`${base}/v1/live-streams/${stream.id}`, { headers: { authorization: `Bearer ${token}` } })).json() as Promise<LiveStreamView>;

describe('ControlApiServer', () => {
  it('migrates, listens and reports healthy over real HTTP', async () => {
    expect(base).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const res = await fetch(`${base}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ok' });
    expect(stream.streamKey).toMatch(/^sk_/);
  });

  it('answers ingest in process (authorize) and tracks status from ingest and packager events', async () => {
    expect(await server.authorize(stream.streamKey!, { remoteAddress: '192.0.2.7' })).toMatchObject({ ok: true, streamId: stream.id, accountId });
    await bus.publish('ingest.stream.started', { streamId: stream.id, sessionId: 's1', sourceUrl: 'http://127.0.0.1:1/x', startedAtMs: Date.now(), remoteAddress: '192.0.2.7' });
    await expect.poll(async () => (await getStream()).status).toBe('live');
    expect(await server.authorizePublish(stream.streamKey!)).toEqual({ ok: false, reason: 'already-live' });
    await bus.publish('ingest.stream.ended', { streamId: stream.id, sessionId: 's1', endedAtMs: Date.now(), reason: 'publisher left' });
    // Inside the reconnect grace window the stream stays live, and the same key may publish again.
    await expect.poll(async () => (await server.authorizePublish(stream.streamKey!)).ok).toBe(true);
    expect((await getStream()).status).toBe('live');
    await bus.publish('packager.session.ended', { streamId: stream.id, sessionId: 's1', endedAtMs: Date.now() });
    await expect.poll(async () => (await getStream()).status).toBe('ended');
  });

  it('turns packager.recording.ready into a ready asset listed on the stream', async () => {
    const assetId = crypto.randomUUID();
    await bus.publish('packager.recording.ready', {
      streamId: stream.id, sessionId: 's1', assetId, durationSeconds: 42, startedAtMs: Date.now() - 42_000, endedAtMs: Date.now(),
    });
    await expect.poll(async () => (await getStream()).recentAssetIds).toContain(assetId);
    const asset = await (await fetch(`${base}/v1/assets/${assetId}`, { headers: { authorization: `Bearer ${token}` } })).json();
    expect(asset).toMatchObject({ id: assetId, status: 'ready', duration: 42, liveStreamId: stream.id });
  });
});

describe('ControlApiClient (split deployment) against the running server', () => {
  const client = () => new ControlApiClient({}, { controlApiUrl: base, internalToken: config.internalToken });

  it('authorizes publishes and reports status over /internal/v1', async () => {
    const c = client();
    expect(await c.setStreamStatus(stream.id, 'idle')).toBe(true);
    expect(await c.authorizePublish(stream.streamKey!)).toMatchObject({ ok: true, streamId: stream.id, passthrough: false });
    expect(await c.authorize('sk_unknownunknownunknownunknown12', { remoteAddress: '192.0.2.8' })).toEqual({ ok: false, reason: 'unknown-key' });
    expect(await c.setStreamStatus(crypto.randomUUID(), 'live')).toBe(false);
  });

  it('creates recordings idempotently and updates their status', async () => {
    const c = client();
    const id = crypto.randomUUID();
    const first = await c.createRecordingAsset({ id, liveStreamId: stream.id, title: 'Replay' });
    const again = await c.createRecordingAsset({ id, liveStreamId: stream.id, title: 'Replay' });
    expect(first).toMatchObject({ id, title: 'Replay', status: 'preparing', duration: null });
    expect(again?.id).toBe(id);
    expect(await c.setAssetStatus(id, 'ready', 30)).toBe(true);
    expect(await c.setAssetStatus(crypto.randomUUID(), 'ready')).toBe(false);
    expect(await c.createRecordingAsset({ liveStreamId: crypto.randomUUID() })).toBeUndefined();
  });

  it('fails clearly with a wrong internal token', async () => {
    const bad = new ControlApiClient({}, { controlApiUrl: base, internalToken: 'wrong' });
    await expect(bad.authorizePublish('sk_x')).rejects.toMatchObject({ code: 'CONTROL_API_ERROR', status: 502 });
  });
});
