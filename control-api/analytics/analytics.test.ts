import crypto from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../platform/index.js';
import { readyAsset } from '../test-support/catalog-fixtures.js';
import { createTestApp, type TestApp } from '../test-support/test-app.js';
import { QosAggregator, QOS_TOPIC, type QosBatch } from './index.js';

const id = () => crypto.randomUUID();

describe('viewer QoS beacons and creator analytics', () => {
  let t: TestApp;
  let creator: { accountId: string; auth: { authorization: string } };
  let assetId: string;
  let applied = 0;
  let failNext = false;

  beforeAll(async () => {
    t = await createTestApp();
    const aggregator = new QosAggregator({ sql: t.sql, logger: createLogger('silent'), metrics: t.metrics });
    await t.bus.subscribe(QOS_TOPIC, async (batch) => {
      if (failNext) {
        failNext = false;
        throw new Error('aggregator crashed mid-batch');
      }
      await aggregator.apply(batch as QosBatch);
      applied++;
    }, { group: 'analytics' });
    creator = await t.signup();
    assetId = await readyAsset(t, creator.accountId);
  });
  afterAll(async () => t?.close());

  const beacon = (payload: unknown, contentType = 'application/json') =>
    t.app.inject({ method: 'POST', url: '/v1/qos', headers: { 'content-type': contentType }, payload: typeof payload === 'string' ? payload : JSON.stringify(payload) });
  const analytics = async () => (await t.app.inject({ method: 'GET', url: `/v1/assets/${assetId}/analytics`, headers: creator.auth })).json();
  const settle = async (n: number) => {
    const deadline = Date.now() + 5000;
    while (applied < n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(applied).toBe(n);
  };

  it('adds beacons up per view exactly once, replays included, and reports what they add up to', async () => {
    const now = Date.now();
    const view1 = { sessionId: `s-${id()}`, mediaId: assetId, mediaKind: 'vod', viewerId: 'viewer-a', device: 'desktop' };
    const first = {
      ...view1,
      events: [
        { id: id(), type: 'start', at: now, startupSeconds: 1.2 },
        { id: id(), type: 'playing', at: now + 10_000, watchedSeconds: 10 },
        { id: id(), type: 'rebuffer', at: now + 12_000, durationSeconds: 0.5 },
        { id: id(), type: 'bitrate', at: now + 13_000, bitrate: 800_000 },
      ],
    };
    expect((await beacon(first)).statusCode).toBe(202);
    // navigator.sendBeacon posts text/plain.
    const second = { ...view1, events: [{ id: id(), type: 'playing', at: now + 20_000, watchedSeconds: 10, droppedFrames: 3 }, { id: id(), type: 'error', at: now + 21_000, fatal: false, code: 'fragLoadError' }] };
    expect((await beacon(JSON.stringify(second), 'text/plain;charset=UTF-8')).statusCode).toBe(202);
    // A second view of another viewer on a phone, which stalls twice.
    const view2 = { sessionId: `s-${id()}`, mediaId: assetId, mediaKind: 'vod', viewerId: 'viewer-b', device: 'phone' };
    const third = { ...view2, events: [
      { id: id(), type: 'start', at: now, startupSeconds: 3.0 },
      { id: id(), type: 'rebuffer', at: now + 1000, durationSeconds: 1.5 },
      { id: id(), type: 'rebuffer', at: now + 2000, durationSeconds: 1 },
      { id: id(), type: 'end', at: now + 30_000, watchedSeconds: 30 },
    ] };
    expect((await beacon(third)).statusCode).toBe(202);
    await settle(3);
    // The same beacons again (a retry, a redelivery): nothing changes.
    expect((await beacon(first)).statusCode).toBe(202);
    expect((await beacon(third)).statusCode).toBe(202);
    await settle(5);

    const a = await analytics();
    expect(a).toMatchObject({
      views: 2, uniqueViewers: 2, watchTimeSeconds: 50, averageViewDurationSeconds: 25, rebufferCount: 3,
      rebufferRatio: 0.06, errors: 1, fatalErrors: 0, startupSeconds: { p50: 2.1, p95: 2.91 },
    });
    expect(a.devices).toEqual([{ device: 'desktop', views: 1 }, { device: 'phone', views: 1 }]);
    const metrics = await t.metrics.metrics();
    expect(metrics).toMatch(/qos_events_total\{type="rebuffer"\} 3\b/);
    expect(metrics).toMatch(/qos_events_total\{type="start"\} 2\b/);
    expect(metrics).toMatch(/qos_rebuffer_seconds_total 3\b/);
    expect(metrics).toMatch(/qos_watch_seconds_total 50\b/);
    expect(metrics).toMatch(/qos_startup_seconds_count 2\b/);
  });

  it('loses nothing when the aggregator fails a batch: the redelivery is applied once', async () => {
    const before = await analytics();
    failNext = true;
    const batch = { sessionId: `s-${id()}`, mediaId: assetId, mediaKind: 'vod', events: [{ id: id(), type: 'start', at: Date.now(), startupSeconds: 2 }, { id: id(), type: 'end', at: Date.now(), watchedSeconds: 5 }] };
    // The memory bus does not redeliver, so the player's retry stands in for Kafka/Redis Streams redelivering.
    await beacon(batch);
    await new Promise((r) => setTimeout(r, 50));
    expect((await analytics()).views).toBe(before.views);
    const count = applied;
    await beacon(batch);
    await settle(count + 1);
    await beacon(batch);
    await settle(count + 2);
    const after = await analytics();
    expect(after.views).toBe(before.views + 1);
    expect(after.watchTimeSeconds).toBe(before.watchTimeSeconds + 5);
  });

  it('refuses malformed, oversized and too frequent beacons, and keeps analytics to the owner', async () => {
    expect((await beacon({ sessionId: 'short', mediaId: assetId, mediaKind: 'vod', events: [] })).statusCode).toBe(400);
    expect((await beacon({ sessionId: `s-${id()}`, mediaId: assetId, mediaKind: 'vod', events: [{ id: id(), type: 'teleport', at: 1 }] })).statusCode).toBe(400);
    expect((await beacon('{not json', 'text/plain')).json().code).toBe('QOS_INVALID');
    expect((await beacon({ sessionId: `s-${id()}`, mediaId: assetId, mediaKind: 'vod', events: [{ id: id(), type: 'start', at: 1, secret: 'x' }] })).statusCode).toBe(400);
    const big = { sessionId: `s-${id()}`, mediaId: assetId, mediaKind: 'vod', events: [{ id: id(), type: 'error', at: 1, code: 'x'.repeat(64) }], pad: 'x'.repeat(70_000) };
    expect((await beacon(big)).statusCode).toBe(413);
    const session = `s-${id()}`;
    let last = 0;
    for (let i = 0; i < 61; i++) last = (await beacon({ sessionId: session, mediaId: assetId, mediaKind: 'vod', events: [{ id: id(), type: 'playing', at: 1, watchedSeconds: 1 }] })).statusCode;
    expect(last).toBe(429);
    const stranger = await t.signup();
    expect((await t.app.inject({ method: 'GET', url: `/v1/assets/${assetId}/analytics`, headers: stranger.auth })).statusCode).toBe(404);
    expect((await t.app.inject({ method: 'GET', url: `/v1/assets/${assetId}/analytics?from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z`, headers: creator.auth })).json().code).toBe('RANGE_INVALID');
    expect((await t.app.inject({ method: 'GET', url: `/v1/assets/${assetId}/analytics?from=2020-01-01T00:00:00Z&to=2020-02-01T00:00:00Z`, headers: creator.auth })).json().views).toBe(0);
  });
});
