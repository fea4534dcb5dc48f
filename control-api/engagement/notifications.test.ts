import crypto from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { FastifyInstance } from 'fastify';
import {
  createLogger, createMetricsRegistry, loadConfig, MemoryLiveState, migrate, openPostgres, RedisBus, type Config, type Sql,
} from '../../platform/index.js';
import { dropPostgresDatabase, freshPostgresDatabase, testEnv, uniqueName } from '../../platform/test-support/env.js';
import { buildControlApi, createServices, type ControlApiBusTopics } from '../app.js';
import { ControlApiServer } from '../control-api-server.js';
import { controlApiMigrations } from '../migrations.js';
import type { Services } from '../http/route-context.js';
import { GOOD_PASSWORD, TEST_ENV } from '../test-support/test-app.js';
import type { NotificationView } from './notifications.js';

type Message = { type: string; notification: NotificationView };

/** A WebSocket client that keeps every message it receives. */
async function connect(base: string, token: string, since?: number): Promise<{ ws: WebSocket; messages: Message[]; next(n?: number): Promise<Message[]> }> {
  const url = `${base.replace('http', 'ws')}/v1/notifications/ws?access_token=${token}${since !== undefined ? `&since=${since}` : ''}`;
  const ws = new WebSocket(url);
  const messages: Message[] = [];
  ws.on('message', (data) => messages.push(JSON.parse(String(data)) as Message));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  return {
    ws,
    messages,
    /** Waits until at least n messages arrived in total. */
    async next(n = messages.length + 1) {
      const deadline = Date.now() + 10_000;
      while (messages.length < n) {
        if (Date.now() > deadline) throw new Error(`expected ${n} messages, got ${messages.length}: ${JSON.stringify(messages)}`);
        await new Promise((r) => setTimeout(r, 20));
      }
      return messages;
    },
  };
}

/**
 * Notifications across two control-api instances on one Postgres, each with its own Redis Streams
 * bus connection: two sockets of one account, one on each instance, both hear of a reply, and a
 * socket reconnecting with `since` gets what it missed.
 */
describe('notifications across two control-api instances (Postgres, Redis Streams bus)', () => {
  let dbUrl: string;
  let sql: Sql;
  let config: Config;
  let server: ControlApiServer;
  let appA: FastifyInstance;
  let servicesA: Services;
  const buses: RedisBus<ControlApiBusTopics>[] = [];
  let baseA: string;
  let baseB: string;
  const logger = createLogger('silent');

  const inject = (method: string, url: string, token?: string, payload?: object) =>
    appA.inject({ method: method as 'GET', url, headers: token ? { authorization: `Bearer ${token}` } : {}, payload });
  const signup = async () => {
    const email = `n-${crypto.randomUUID()}@example.test`;
    const id = (await inject('POST', '/v1/accounts', undefined, { email, password: GOOD_PASSWORD })).json().id as string;
    const token = (await inject('POST', '/v1/auth/login', undefined, { email, password: GOOD_PASSWORD })).json().accessToken as string;
    const profile = (await inject('GET', '/v1/profiles', token)).json().items[0].id as string;
    return { id, token, profile };
  };

  beforeAll(async () => {
    dbUrl = await freshPostgresDatabase();
    sql = openPostgres(dbUrl, { max: 6 });
    await migrate(sql, controlApiMigrations);
    config = loadConfig({ ...TEST_ENV });
    const prefix = `${uniqueName('n')}:`;
    const bus = () => {
      const b = new RedisBus<ControlApiBusTopics>({ logger }, { url: testEnv().redisUrl, streamPrefix: prefix, blockMs: 200, claimIdleMs: 300 });
      buses.push(b);
      return b;
    };
    // Instance B: a whole ControlApiServer (it also turns pipeline events into notifications).
    server = new ControlApiServer({ sql, liveState: new MemoryLiveState(), logger, metrics: createMetricsRegistry(false), bus: bus() }, config);
    await server.start();
    baseB = server.url!;
    // Instance A: the HTTP app alone, listening.
    const depsA = { sql, liveState: new MemoryLiveState(), logger, metrics: createMetricsRegistry(false), bus: bus() };
    servicesA = createServices(depsA, config);
    appA = await buildControlApi({ ...depsA, services: servicesA }, config);
    await appA.listen({ port: 0, host: '127.0.0.1' });
    baseA = `http://127.0.0.1:${(appA.server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await appA?.close();
    await server?.close();
    await Promise.allSettled(buses.map((b) => b.close()));
    await sql?.close();
    if (dbUrl) await dropPostgresDatabase(dbUrl);
  });

  it('refuses a socket without a valid token before the upgrade', async () => {
    const ws = new WebSocket(`${baseA.replace('http', 'ws')}/v1/notifications/ws?access_token=nope`);
    const status = await new Promise<number>((resolve) => ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0)));
    expect(status).toBe(401);
  });

  it('reaches both sockets of an account on two instances, and replays after a reconnect', async () => {
    const viewer = await signup();
    const creator = await signup();
    // A published title to talk about.
    const asset = crypto.randomUUID();
    await servicesA.assets.createUploaded({ id: asset, accountId: creator.id, uploadId: crypto.randomUUID(), title: 'x' });
    await servicesA.assets.onReady({ assetId: asset, durationSeconds: 60, tracks: { video: [], audio: [], captions: [] }, atMs: Date.now() });
    const title = (await inject('POST', '/v1/titles', creator.token, { type: 'movie', name: 'Talk show', maturityRating: 'G', assetId: asset })).json().id as string;
    await inject('POST', `/v1/titles/${title}/publish`, creator.token);
    const top = (await inject('POST', `/v1/titles/${title}/comments?profileId=${viewer.profile}`, viewer.token, { body: 'First!' })).json().id as string;

    const onA = await connect(baseA, viewer.token);
    const onB = await connect(baseB, viewer.token);
    await inject('POST', `/v1/titles/${title}/comments?profileId=${creator.profile}`, creator.token, { body: 'Thanks for watching', parentId: top });
    const [a] = await onA.next(1);
    const [b] = await onB.next(1);
    expect(a.notification).toMatchObject({ kind: 'comment.reply', data: { titleId: title, parentId: top } });
    expect(b.notification.id).toBe(a.notification.id);
    // The author replying to themselves is not news.
    await inject('POST', `/v1/titles/${title}/comments?profileId=${viewer.profile}`, viewer.token, { body: 'me again', parentId: top });

    // B's socket goes away; two more replies; reconnecting with since gets exactly those.
    onB.ws.close();
    await inject('POST', `/v1/titles/${title}/comments?profileId=${creator.profile}`, creator.token, { body: 'second', parentId: top });
    await inject('POST', `/v1/titles/${title}/comments?profileId=${creator.profile}`, creator.token, { body: 'third', parentId: top });
    await onA.next(3);
    const again = await connect(baseB, viewer.token, a.notification.seq);
    const replayed = await again.next(2);
    expect(replayed.map((m) => m.notification.data.body)).toEqual(['second', 'third']);
    expect(onA.messages.map((m) => m.notification.data.body)).toEqual(['Thanks for watching', 'second', 'third']);

    // Stored: listed newest first, marked read.
    const list = (await inject('GET', '/v1/notifications', viewer.token)).json();
    expect(list.items).toHaveLength(3);
    expect(list.unread).toBe(3);
    expect((await inject('POST', '/v1/notifications/read', viewer.token, { ids: [list.items[0].id] })).json().updated).toBe(1);
    expect((await inject('POST', '/v1/notifications/read', viewer.token, {})).json().updated).toBe(2);
    expect((await inject('GET', '/v1/notifications?unread=true', viewer.token)).json().items).toEqual([]);
    onA.ws.close();
    again.ws.close();
  });

  it('tells followers when a creator goes live, and an uploader when the upload is ready or failed', async () => {
    const fan = await signup();
    const creator = await signup();
    expect((await inject('PUT', `/v1/creators/${creator.id}/follow`, fan.token)).statusCode).toBe(204);
    expect((await inject('PUT', `/v1/creators/${crypto.randomUUID()}/follow`, fan.token)).statusCode).toBe(404);
    const fanSocket = await connect(baseA, fan.token);
    const creatorSocket = await connect(baseA, creator.token);
    const stream = (await inject('POST', '/v1/live-streams', creator.token, { title: 'Launch day' })).json().id as string;
    // The pipeline's events reach instance B's consumer group; A's socket hears of it through the bus.
    await buses[0].publish('ingest.stream.started', { streamId: stream, atMs: Date.now() } as never);
    const [live] = await fanSocket.next(1);
    expect(live.notification).toMatchObject({ kind: 'creator.live', data: { streamId: stream, title: 'Launch day' } });
    const asset = crypto.randomUUID();
    await servicesA.assets.createUploaded({ id: asset, accountId: creator.id, uploadId: crypto.randomUUID(), title: 'My upload' });
    await buses[0].publish('vod.asset.ready', { assetId: asset, durationSeconds: 10, tracks: { video: [], audio: [], captions: [] }, atMs: Date.now() });
    const failed = crypto.randomUUID();
    await servicesA.assets.createUploaded({ id: failed, accountId: creator.id, uploadId: crypto.randomUUID(), title: 'Broken upload' });
    await buses[0].publish('vod.asset.errored', { assetId: failed, code: 'MEDIA_TRUNCATED', message: 'the file ends early', atMs: Date.now() });
    const got = await creatorSocket.next(2);
    expect(got.map((m) => [m.notification.kind, m.notification.data.assetId])).toEqual(
      expect.arrayContaining([['upload.ready', asset], ['upload.failed', failed]]),
    );
    // Unfollowed: the next live session is silent for the fan.
    await inject('DELETE', `/v1/creators/${creator.id}/follow`, fan.token);
    await buses[0].publish('ingest.stream.started', { streamId: stream, atMs: Date.now() } as never);
    await new Promise((r) => setTimeout(r, 500));
    expect(fanSocket.messages).toHaveLength(1);
    fanSocket.ws.close();
    creatorSocket.ws.close();
  });
});
