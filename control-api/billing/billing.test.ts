import crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, RedisLiveState, verifyPlaybackToken } from '../../platform/index.js';
import { testEnv, uniqueName } from '../../platform/test-support/env.js';
import type { TitleView } from '../contract.js';
import { addProfile, publishedTitle } from '../test-support/catalog-fixtures.js';
import { createTestApp, type TestApp } from '../test-support/test-app.js';
import { STRIPE_API_VERSION } from './payment-provider.js';

type Auth = { authorization: string };
const SIGNING = { PLAYBACK_SIGNING_KEY: 'playback-signing-key-0123456789-abcdefghij' };
const WHSEC = 'whsec_test_0123456789abcdef0123456789abcdef';

/** Follows the built-in checkout as a viewer would: open the page, pay with a method, land on the success URL. */
async function payLocally(t: TestApp, url: string, form: Record<string, string> = { method: 'card', card: '4242424242424242' }) {
  const path = new URL(url).pathname;
  const page = await t.app.inject({ method: 'GET', url: path });
  expect(page.statusCode).toBe(200);
  expect(page.headers['content-type']).toMatch(/text\/html/);
  return t.app.inject({ method: 'POST', url: path, headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: new URLSearchParams(form).toString() });
}

/** A portal action of the built-in provider (change plan, cancel, simulate a renewal or a failed payment). */
async function portalAction(t: TestApp, auth: Auth, form: Record<string, string>) {
  const portal = await t.app.inject({ method: 'POST', url: '/v1/subscriptions/portal', headers: auth, payload: {} });
  expect(portal.statusCode).toBe(201);
  const path = new URL(portal.json().url).pathname;
  expect((await t.app.inject({ method: 'GET', url: path })).body).toContain('Your subscription');
  const res = await t.app.inject({ method: 'POST', url: path, headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: new URLSearchParams(form).toString() });
  expect(res.statusCode).toBe(303);
}

async function subscribe(t: TestApp, auth: Auth, planId: string, form?: Record<string, string>) {
  const checkout = await t.app.inject({ method: 'POST', url: '/v1/subscriptions/checkout', headers: auth, payload: { planId } });
  expect(checkout.statusCode).toBe(201);
  const paid = await payLocally(t, checkout.json().url, form);
  expect(paid.statusCode).toBe(303);
  return paid;
}

describe('plans, the built-in checkout and entitlements', () => {
  let t: TestApp;
  let creator: { accountId: string; auth: Auth };
  let free: TitleView;
  let standardOnly: TitleView;
  let premiumOnly: TitleView;

  beforeAll(async () => {
    t = await createTestApp({ env: { ...SIGNING, ADMIN_EMAILS: 'boss@example.test', PLAYBACK_LEASE_SECONDS: '5' } });
    creator = await t.signup();
    free = await publishedTitle(t, creator, { name: 'Free Short', maturityRating: 'G' });
    standardOnly = await publishedTitle(t, creator, { name: 'Standard Movie', maturityRating: 'PG', requiredPlan: 'standard' });
    premiumOnly = await publishedTitle(t, creator, { name: 'Premium Movie', maturityRating: 'R', requiredPlan: 'premium' });
  });
  afterAll(async () => t?.close());

  const play = (auth: Auth, titleId: string, extra: Record<string, unknown> = {}) =>
    t.app.inject({ method: 'POST', url: '/v1/playback-tokens', headers: auth, payload: { titleId, ...extra } });
  const mainProfile = async (auth: Auth) => (await t.app.inject({ method: 'GET', url: '/v1/profiles', headers: auth })).json().items[0].id as string;

  it('lists the seeded plans publicly; only admins add or change plans', async () => {
    const plans = await t.app.inject({ method: 'GET', url: '/v1/plans' });
    expect(plans.statusCode).toBe(200);
    expect(plans.json().items.map((p: { id: string }) => p.id)).toEqual(['basic', 'standard', 'premium']);
    expect(plans.json().items[1]).toMatchObject({ name: 'Standard', price: 12.99, unitAmount: 1299, currency: 'usd', interval: 'month', streamingLimit: 2, maxResolution: 1080, downloads: { allowed: true, devices: 2, days: 7 } });
    const body = { id: 'mobile', name: 'Mobile', tier: 0, unitAmount: 14900, currency: 'INR', interval: 'month', streamingLimit: 1, maxResolution: 480 };
    expect((await t.app.inject({ method: 'POST', url: '/v1/plans', headers: creator.auth, payload: body })).statusCode).toBe(403);
    const admin = await t.signup('boss@example.test');
    const created = await t.app.inject({ method: 'POST', url: '/v1/plans', headers: admin.auth, payload: body });
    expect(created.statusCode).toBe(201);
    expect(created.json()).toMatchObject({ id: 'mobile', price: 149, currency: 'inr', downloads: { allowed: false } });
    expect((await t.app.inject({ method: 'POST', url: '/v1/plans', headers: admin.auth, payload: body })).json().code).toBe('PLAN_EXISTS');
    expect((await t.app.inject({ method: 'POST', url: '/v1/plans', headers: admin.auth, payload: { ...body, id: 'x', streamingLimit: 0 } })).statusCode).toBe(400);
    const retired = await t.app.inject({ method: 'PATCH', url: '/v1/plans/mobile', headers: admin.auth, payload: { active: false } });
    expect(retired.json().active).toBe(false);
    expect((await t.app.inject({ method: 'GET', url: '/v1/plans' })).json().items.map((p: { id: string }) => p.id)).not.toContain('mobile');
    expect((await t.app.inject({ method: 'PATCH', url: '/v1/plans/nope', headers: admin.auth, payload: { name: 'N' } })).statusCode).toBe(404);
  });

  it('subscribes through the built-in checkout: the payment, the subscription, one checkout per subscription', async () => {
    const viewer = await t.signup();
    expect((await t.app.inject({ method: 'GET', url: '/v1/subscription', headers: viewer.auth })).json().code).toBe('NO_SUBSCRIPTION');
    expect((await t.app.inject({ method: 'POST', url: '/v1/subscriptions/checkout', headers: viewer.auth, payload: { planId: 'gold' } })).statusCode).toBe(404);
    expect((await t.app.inject({ method: 'POST', url: '/v1/subscriptions/checkout', payload: { planId: 'basic' } })).statusCode).toBe(401);
    const evil = await t.app.inject({ method: 'POST', url: '/v1/subscriptions/checkout', headers: viewer.auth, payload: { planId: 'basic', successUrl: 'https://evil.example/phish' } });
    expect(evil.json().code).toBe('REDIRECT_NOT_ALLOWED');

    const checkout = await t.app.inject({ method: 'POST', url: '/v1/subscriptions/checkout', headers: viewer.auth, payload: { planId: 'standard', successUrl: 'http://media.example.test/welcome' } });
    expect(checkout.statusCode).toBe(201);
    // A declined card changes nothing; UPI then pays.
    const declined = await payLocally(t, checkout.json().url, { method: 'card', card: '4000 0000 0000 0002' });
    expect(declined.statusCode).toBe(402);
    expect((await t.app.inject({ method: 'GET', url: '/v1/subscription', headers: viewer.auth })).statusCode).toBe(404);
    const paid = await payLocally(t, checkout.json().url, { method: 'upi' });
    expect(paid.statusCode).toBe(303);
    expect(paid.headers.location).toBe('http://media.example.test/welcome');
    // A second submit of the same form pays nothing more.
    expect((await payLocally(t, checkout.json().url, { method: 'upi' })).statusCode).toBe(409);

    const sub = (await t.app.inject({ method: 'GET', url: '/v1/subscription', headers: viewer.auth })).json();
    expect(sub).toMatchObject({ plan: { id: 'standard' }, status: 'active', cancelAtPeriodEnd: false, entitled: true, provider: 'local' });
    expect(new Date(sub.currentPeriodEnd).getTime()).toBeGreaterThan(Date.now() + 29 * 86_400_000);
    const payments = (await t.app.inject({ method: 'GET', url: '/v1/payments', headers: viewer.auth })).json().items;
    expect(payments).toHaveLength(1);
    expect(payments[0]).toMatchObject({ amount: 12.99, unitAmount: 1299, currency: 'usd', method: 'upi', status: 'succeeded' });
    expect(payments[0].transactionId).toMatch(/^pi_local_/);
    expect((await t.app.inject({ method: 'POST', url: '/v1/subscriptions/checkout', headers: viewer.auth, payload: { planId: 'premium' } })).json().code).toBe('ALREADY_SUBSCRIBED');

    // Cancel at period end keeps access; cancel now ends it.
    await portalAction(t, viewer.auth, { action: 'cancel-at-period-end' });
    expect((await t.app.inject({ method: 'GET', url: '/v1/subscription', headers: viewer.auth })).json()).toMatchObject({ status: 'active', cancelAtPeriodEnd: true, entitled: true });
    await portalAction(t, viewer.auth, { action: 'cancel-now' });
    expect((await t.app.inject({ method: 'GET', url: '/v1/subscription', headers: viewer.auth })).json()).toMatchObject({ status: 'canceled', entitled: false });
    expect((await play(viewer.auth, standardOnly.id, { profileId: await mainProfile(viewer.auth) })).json().code).toBe('SUBSCRIPTION_INACTIVE');
  });

  it('decides playback by plan: PLAN_REQUIRED below the title’s plan, plays after an upgrade, caps the resolution in the token', async () => {
    const viewer = await t.signup();
    const profileId = await mainProfile(viewer.auth);
    const none = await play(viewer.auth, premiumOnly.id, { profileId });
    expect(none.statusCode).toBe(403);
    expect(none.json()).toMatchObject({ code: 'SUBSCRIPTION_INACTIVE', requiredPlan: 'premium' });
    // Free titles play without a subscription.
    const freePlay = await play(viewer.auth, free.id, { profileId });
    expect(freePlay.statusCode).toBe(201);
    expect(freePlay.json().maxResolution).toBeUndefined();
    await t.app.inject({ method: 'DELETE', url: `/v1/playback-sessions/${freePlay.json().sessionId}`, headers: viewer.auth });

    await subscribe(t, viewer.auth, 'basic');
    const refused = await play(viewer.auth, premiumOnly.id, { profileId });
    expect(refused.statusCode).toBe(403);
    expect(refused.json()).toMatchObject({ code: 'PLAN_REQUIRED', requiredPlan: 'premium', currentPlan: 'basic' });
    expect((await play(viewer.auth, standardOnly.id, { profileId })).json().code).toBe('PLAN_REQUIRED');
    const basicPlay = await play(viewer.auth, free.id, { profileId });
    expect(basicPlay.json().maxResolution).toBe(720);
    expect(verifyPlaybackToken(SIGNING.PLAYBACK_SIGNING_KEY, basicPlay.json().token)).toMatchObject({ maxh: 720, sid: basicPlay.json().sessionId, pid: profileId });
    await t.app.inject({ method: 'DELETE', url: `/v1/playback-sessions/${basicPlay.json().sessionId}`, headers: viewer.auth });
    // The token names the renditions above the cap, from the asset's own ladder.
    const ladderAsset = crypto.randomUUID();
    await t.services.assets.createUploaded({ id: ladderAsset, accountId: creator.accountId, uploadId: crypto.randomUUID(), title: 'ladder' });
    const rung = (name: string, height: number) => ({ name, width: Math.round((height * 16) / 9), height, bandwidth: height * 4000, codec: 'avc1.640028' });
    await t.services.assets.onReady({ assetId: ladderAsset, durationSeconds: 60, atMs: Date.now(), tracks: { video: [rung('1080p', 1080), rung('720p', 720), rung('480p', 480)], audio: [], captions: [] } });
    const laddered = await t.app.inject({ method: 'POST', url: '/v1/titles', headers: creator.auth, payload: { type: 'movie', name: 'Laddered', maturityRating: 'PG', assetId: ladderAsset } });
    await t.app.inject({ method: 'POST', url: `/v1/titles/${laddered.json().id}/publish`, headers: creator.auth });
    const cappedPlay = await play(viewer.auth, laddered.json().id, { profileId });
    expect(verifyPlaybackToken(SIGNING.PLAYBACK_SIGNING_KEY, cappedPlay.json().token)).toMatchObject({ maxh: 720, xr: ['1080p'] });
    await t.app.inject({ method: 'DELETE', url: `/v1/playback-sessions/${cappedPlay.json().sessionId}`, headers: viewer.auth });

    await portalAction(t, viewer.auth, { action: 'change-plan', planId: 'premium' });
    const ok = await play(viewer.auth, premiumOnly.id, { profileId });
    expect(ok.statusCode).toBe(201);
    expect(ok.json()).toMatchObject({ maxResolution: 2160, titleId: premiumOnly.id });
    // A kids profile is held to its ceiling whatever the plan.
    const kid = await addProfile(t, viewer.auth, { name: 'Kid', kind: 'kids' });
    expect((await play(viewer.auth, premiumOnly.id, { profileId: kid.id })).json().code).toBe('MATURITY_RESTRICTED');
    expect((await t.app.inject({ method: 'GET', url: `/v1/titles/${premiumOnly.id}?profileId=${kid.id}`, headers: viewer.auth })).statusCode).toBe(404);
  });

  it('holds a plan to its concurrent streams: the next start is refused with the device list until one ends or lapses', async () => {
    const viewer = await t.signup();
    const profileId = await mainProfile(viewer.auth);
    await subscribe(t, viewer.auth, 'standard');
    const tv = await play(viewer.auth, standardOnly.id, { profileId, deviceId: 'tv-1', deviceName: 'Living room TV', deviceType: 'tv' });
    const phone = await play(viewer.auth, free.id, { profileId, deviceId: 'phone-1', deviceName: 'Phone', deviceType: 'phone' });
    expect([tv.statusCode, phone.statusCode]).toEqual([201, 201]);
    // The TV starting again reuses its own slot.
    const tvAgain = await play(viewer.auth, standardOnly.id, { profileId, deviceId: 'tv-1' });
    expect(tvAgain.json().sessionId).toBe(tv.json().sessionId);
    const third = await play(viewer.auth, free.id, { profileId, deviceId: 'laptop-1', deviceName: 'Laptop' });
    expect(third.statusCode).toBe(403);
    expect(third.json()).toMatchObject({ code: 'STREAM_LIMIT_REACHED', limit: 2 });
    expect(third.json().sessions.map((s: { deviceName: string }) => s.deviceName).sort()).toEqual(['Living room TV', 'Phone']);
    expect(await t.metrics.getSingleMetricAsString('entitlement_refusals_total')).toMatch(/entitlement_refusals_total\{code="STREAM_LIMIT_REACHED"\} [1-9]/);
    // Another account cannot see or end these sessions.
    const stranger = await t.signup();
    expect((await t.app.inject({ method: 'DELETE', url: `/v1/playback-sessions/${tv.json().sessionId}`, headers: stranger.auth })).statusCode).toBe(404);
    expect((await t.app.inject({ method: 'POST', url: `/v1/playback-sessions/${tv.json().sessionId}/heartbeat`, headers: stranger.auth })).statusCode).toBe(404);

    // Ending one frees its slot at once.
    expect((await t.app.inject({ method: 'DELETE', url: `/v1/playback-sessions/${phone.json().sessionId}`, headers: viewer.auth })).statusCode).toBe(204);
    const laptop = await play(viewer.auth, free.id, { profileId, deviceId: 'laptop-1', deviceName: 'Laptop' });
    expect(laptop.statusCode).toBe(201);
    // The TV heartbeats, the laptop does not: after the lease (5 s here) only the laptop's slot is free.
    for (let i = 0; i < 4; i++) {
      await new Promise((r) => setTimeout(r, 1500));
      const beat = await t.app.inject({ method: 'POST', url: `/v1/playback-sessions/${tv.json().sessionId}/heartbeat`, headers: viewer.auth });
      expect(beat.statusCode).toBe(200);
    }
    const later = await play(viewer.auth, free.id, { profileId, deviceId: 'tablet-1', deviceName: 'Tablet' });
    expect(later.statusCode).toBe(201);
    const active = (await t.app.inject({ method: 'GET', url: '/v1/playback-sessions', headers: viewer.auth })).json().items;
    expect(active.map((s: { deviceName: string }) => s.deviceName).sort()).toEqual(['Living room TV', 'Tablet']);
    // The laptop's lapsed session cannot come back while both slots are taken.
    expect((await t.app.inject({ method: 'POST', url: `/v1/playback-sessions/${laptop.json().sessionId}/heartbeat`, headers: viewer.auth })).json().code).toBe('STREAM_LIMIT_REACHED');

    // Devices: listed, and removing one ends its playback.
    const devices = (await t.app.inject({ method: 'GET', url: '/v1/devices', headers: viewer.auth })).json().items;
    expect(devices.map((d: { id: string }) => d.id).sort()).toEqual(['laptop-1', 'phone-1', 'tablet-1', 'tv-1']);
    expect(devices.find((d: { id: string }) => d.id === 'tv-1')).toMatchObject({ type: 'tv', name: 'Living room TV' });
    expect((await t.app.inject({ method: 'DELETE', url: '/v1/devices/tv-1', headers: viewer.auth })).statusCode).toBe(204);
    expect((await t.app.inject({ method: 'DELETE', url: '/v1/devices/tv-1', headers: viewer.auth })).statusCode).toBe(404);
    expect((await t.app.inject({ method: 'POST', url: `/v1/playback-sessions/${tv.json().sessionId}/heartbeat`, headers: viewer.auth })).statusCode).toBe(404);
    expect((await play(viewer.auth, free.id, { profileId, deviceId: 'laptop-1' })).statusCode).toBe(201);
  });

  it('renews a built-in subscription when its period ends, once, and ends one set to cancel at period end', async () => {
    const viewer = await t.signup();
    await subscribe(t, viewer.auth, 'basic');
    const endPeriod = () => t.sql.query(`UPDATE subscriptions SET current_period_end = date_trunc('second', now()) - interval '1 minute' WHERE account_id = $1`, [viewer.accountId]);
    await endPeriod();
    // Several requests at once renew it once.
    const seen = await Promise.all([1, 2, 3].map(() => t.app.inject({ method: 'GET', url: '/v1/subscription', headers: viewer.auth })));
    for (const r of seen) expect(r.json()).toMatchObject({ status: 'active', entitled: true });
    const renewed = (await t.app.inject({ method: 'GET', url: '/v1/subscription', headers: viewer.auth })).json();
    expect(new Date(renewed.currentPeriodEnd).getTime()).toBeGreaterThan(Date.now() + 29 * 86_400_000);
    const payments = (await t.app.inject({ method: 'GET', url: '/v1/payments', headers: viewer.auth })).json().items;
    expect(payments.map((p: { status: string }) => p.status)).toEqual(['succeeded', 'succeeded']);

    await portalAction(t, viewer.auth, { action: 'cancel-at-period-end' });
    await endPeriod();
    expect((await t.app.inject({ method: 'GET', url: '/v1/subscription', headers: viewer.auth })).json()).toMatchObject({ status: 'canceled', entitled: false });
    expect((await t.app.inject({ method: 'GET', url: '/v1/payments', headers: viewer.auth })).json().items).toHaveLength(2);
  });

  it('ends access after a failed payment once the grace period is over (built-in portal)', async () => {
    const graceless = await createTestApp({ sql: t.sql, env: { ...SIGNING, PAST_DUE_GRACE_SECONDS: '0' } });
    try {
      const viewer = await graceless.signup();
      const profileId = (await graceless.app.inject({ method: 'GET', url: '/v1/profiles', headers: viewer.auth })).json().items[0].id;
      await subscribe(graceless, viewer.auth, 'premium');
      await portalAction(graceless, viewer.auth, { action: 'fail-payment' });
      const sub = (await graceless.app.inject({ method: 'GET', url: '/v1/subscription', headers: viewer.auth })).json();
      expect(sub).toMatchObject({ status: 'past_due', entitled: false });
      const refused = await graceless.app.inject({ method: 'POST', url: '/v1/playback-tokens', headers: viewer.auth, payload: { titleId: premiumOnly.id, profileId } });
      expect(refused.json().code).toBe('SUBSCRIPTION_INACTIVE');
      expect(refused.json().detail).toMatch(/grace period/);
      const payments = (await graceless.app.inject({ method: 'GET', url: '/v1/payments', headers: viewer.auth })).json().items;
      expect(payments.map((p: { status: string }) => p.status)).toEqual(['failed', 'succeeded']);
      // A successful retry restores it.
      await portalAction(graceless, viewer.auth, { action: 'renew' });
      expect((await graceless.app.inject({ method: 'GET', url: '/v1/subscription', headers: viewer.auth })).json()).toMatchObject({ status: 'active', entitled: true });
    } finally {
      await graceless.close();
    }
  });
});

describe('a stream limit across two control-api instances on one Redis', () => {
  it('counts every instance’s playbacks against the plan', async () => {
    const { redisUrl } = testEnv();
    const keyPrefix = `${uniqueName('limits')}:`;
    const logger = createLogger('silent');
    const redisA = new RedisLiveState({ logger }, { url: redisUrl, keyPrefix });
    const redisB = new RedisLiveState({ logger }, { url: redisUrl, keyPrefix });
    const a = await createTestApp({ env: SIGNING, liveState: redisA });
    const b = await createTestApp({ env: SIGNING, sql: a.sql, liveState: redisB });
    try {
      const creator = await a.signup();
      const title = await publishedTitle(a, creator, { name: 'Shared', maturityRating: 'PG', requiredPlan: 'basic' });
      const viewer = await a.signup();
      const profileId = (await a.app.inject({ method: 'GET', url: '/v1/profiles', headers: viewer.auth })).json().items[0].id;
      await subscribe(a, viewer.auth, 'standard');
      const start = (app: TestApp, deviceId: string) => app.app.inject({ method: 'POST', url: '/v1/playback-tokens', headers: viewer.auth, payload: { titleId: title.id, profileId, deviceId } });
      expect((await start(a, 'd1')).statusCode).toBe(201);
      const second = await start(b, 'd2');
      expect(second.statusCode).toBe(201);
      const third = await start(a, 'd3');
      expect(third.json().code).toBe('STREAM_LIMIT_REACHED');
      expect((await start(b, 'd4')).json().code).toBe('STREAM_LIMIT_REACHED');
      // Ended on one instance, free on the other.
      expect((await a.app.inject({ method: 'DELETE', url: `/v1/playback-sessions/${second.json().sessionId}`, headers: viewer.auth })).statusCode).toBe(204);
      expect((await start(b, 'd4')).statusCode).toBe(201);
    } finally {
      await b.close();
      await a.close();
      await redisA.close();
      await redisB.close();
    }
  });
});

/** A local server speaking Stripe's wire format (form-encoded requests, JSON objects), recording what it was sent. */
async function fakeStripe() {
  const requests: { method: string; path: string; headers: http.IncomingHttpHeaders; form: URLSearchParams }[] = [];
  let n = 0;
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const form = new URLSearchParams(body);
      requests.push({ method: req.method!, path: req.url!, headers: req.headers, form });
      const id = ++n;
      const reply = (status: number, obj: object) => {
        res.writeHead(status, { 'content-type': 'application/json', 'request-id': `req_${id}` });
        res.end(JSON.stringify(obj));
      };
      if (req.method === 'POST' && req.url === '/v1/customers') return reply(200, { id: `cus_fake_${id}`, object: 'customer', email: form.get('email'), metadata: { accountId: form.get('metadata[accountId]') } });
      if (req.method === 'POST' && req.url === '/v1/checkout/sessions') return reply(200, { id: `cs_fake_${id}`, object: 'checkout.session', mode: 'subscription', url: `https://checkout.stripe.com/c/pay/cs_fake_${id}` });
      if (req.method === 'POST' && req.url === '/v1/billing_portal/sessions') return reply(200, { id: `bps_fake_${id}`, object: 'billing_portal.session', url: `https://billing.stripe.com/p/session/fake_${id}` });
      return reply(404, { error: { type: 'invalid_request_error', message: `Unrecognized request URL (${req.method}: ${req.url})` } });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { requests, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => new Promise<void>((r) => server.close(() => r())) };
}

describe('the Stripe provider', () => {
  let t: TestApp;
  let stripe: Awaited<ReturnType<typeof fakeStripe>>;
  let creator: { accountId: string; auth: Auth };
  let paid: TitleView;
  let seq = 0;

  beforeAll(async () => {
    stripe = await fakeStripe();
    t = await createTestApp({
      env: { ...SIGNING, PAYMENT_PROVIDER: 'stripe', STRIPE_SECRET_KEY: 'sk_test_fake0123456789', STRIPE_WEBHOOK_SECRET: WHSEC, STRIPE_API_URL: stripe.url, PAST_DUE_GRACE_SECONDS: String(3 * 86_400) },
    });
    creator = await t.signup();
    paid = await publishedTitle(t, creator, { name: 'Paid', maturityRating: 'PG', requiredPlan: 'basic' });
  });
  afterAll(async () => {
    await t?.close();
    await stripe?.close();
  });

  /** Posts an event to the webhook endpoint signed as Stripe does (or with another secret / an old timestamp). */
  const deliver = (event: object, opts: { secret?: string; timestamp?: number } = {}) => {
    const payload = JSON.stringify(event);
    const signature = Stripe.webhooks.generateTestHeaderString({ payload, secret: opts.secret ?? WHSEC, timestamp: opts.timestamp });
    return t.app.inject({ method: 'POST', url: '/v1/webhooks/stripe', headers: { 'stripe-signature': signature, 'content-type': 'application/json' }, payload });
  };
  const now = () => Math.floor(Date.now() / 1000);
  const event = (type: string, object: object, created = now()) => ({ id: `evt_test_${++seq}_${Date.now()}`, object: 'event', api_version: STRIPE_API_VERSION, type, created, livemode: false, data: { object } });
  const subscription = (id: string, accountId: string, status: string, extra: object = {}) => ({
    id, object: 'subscription', customer: `cus_for_${accountId}`, status, cancel_at_period_end: false, created: now() - 86_400,
    metadata: { accountId, planId: 'basic' }, items: { object: 'list', data: [{ object: 'subscription_item', current_period_end: now() + 30 * 86_400, price: { id: 'price_basic' } }] }, ...extra,
  });
  const subscriptionOf = async (auth: Auth) => (await t.app.inject({ method: 'GET', url: '/v1/subscription', headers: auth })).json();

  it('sends checkout, portal and customer calls with the pinned API version and an idempotency key on every write', async () => {
    const viewer = await t.signup();
    const checkout = await t.app.inject({ method: 'POST', url: '/v1/subscriptions/checkout', headers: viewer.auth, payload: { planId: 'standard' } });
    expect(checkout.statusCode).toBe(201);
    expect(checkout.json().url).toMatch(/^https:\/\/checkout\.stripe\.com\/c\/pay\/cs_fake_/);
    const again = await t.app.inject({ method: 'POST', url: '/v1/subscriptions/checkout', headers: viewer.auth, payload: { planId: 'standard' } });
    expect(again.statusCode).toBe(201);
    const portal = await t.app.inject({ method: 'POST', url: '/v1/subscriptions/portal', headers: viewer.auth, payload: {} });
    expect(portal.json().url).toMatch(/^https:\/\/billing\.stripe\.com\//);

    const customers = stripe.requests.filter((r) => r.path === '/v1/customers');
    expect(customers).toHaveLength(1); // one customer per account, however many checkouts
    expect(customers[0].form.get('email')).toBe(viewer.email);
    expect(customers[0].form.get('metadata[accountId]')).toBe(viewer.accountId);
    expect(customers[0].headers['idempotency-key']).toBe(`streamforge-customer-${viewer.accountId}`);
    const sessions = stripe.requests.filter((r) => r.path === '/v1/checkout/sessions');
    expect(sessions).toHaveLength(2);
    const f = sessions[0].form;
    expect(f.get('mode')).toBe('subscription');
    expect(f.get('client_reference_id')).toBe(viewer.accountId);
    expect(f.get('customer')).toBe(`cus_fake_${stripe.requests.indexOf(customers[0]) + 1}`); // the customer the fake created
    expect(f.get('line_items[0][price_data][unit_amount]')).toBe('1299');
    expect(f.get('line_items[0][price_data][recurring][interval]')).toBe('month');
    expect(f.get('subscription_data[metadata][planId]')).toBe('standard');
    expect(f.get('subscription_data[metadata][accountId]')).toBe(viewer.accountId);
    expect(f.get('success_url')).toMatch(/^http:\/\/media\.example\.test:\d+\/v1\/billing\/done\?checkout=success$/);
    // Dynamic payment methods: no payment_method_types, so Stripe offers cards, wallets, UPI as enabled.
    expect([...f.keys()].some((k) => k.startsWith('payment_method_types'))).toBe(false);
    const portalCall = stripe.requests.find((r) => r.path === '/v1/billing_portal/sessions')!;
    expect(portalCall.form.get('customer')).toBe(f.get('customer'));
    const writes = stripe.requests.filter((r) => r.method === 'POST');
    for (const w of writes) {
      expect(w.headers['idempotency-key'], w.path).toMatch(/^streamforge-/);
      expect(w.headers['stripe-version']).toBe(STRIPE_API_VERSION);
      expect(w.headers.authorization).toBe('Bearer sk_test_fake0123456789');
    }
    expect(new Set(sessions.map((s) => s.headers['idempotency-key'])).size).toBe(2);
  });

  it('refuses unsigned, wrongly signed and stale webhooks (400), and acknowledges unknown event types', async () => {
    const viewer = await t.signup();
    const e = event('customer.subscription.created', subscription('sub_sig', viewer.accountId, 'active'));
    expect((await deliver(e, { secret: 'whsec_someone_else' })).json().code).toBe('SIGNATURE_INVALID');
    expect((await deliver(e, { timestamp: now() - 400 })).statusCode).toBe(400);
    const unsigned = await t.app.inject({ method: 'POST', url: '/v1/webhooks/stripe', headers: { 'content-type': 'application/json' }, payload: JSON.stringify(e) });
    expect(unsigned.json().code).toBe('SIGNATURE_MISSING');
    // A payload altered after signing fails too.
    const payload = JSON.stringify(e);
    const signature = Stripe.webhooks.generateTestHeaderString({ payload, secret: WHSEC });
    const tampered = await t.app.inject({ method: 'POST', url: '/v1/webhooks/stripe', headers: { 'stripe-signature': signature, 'content-type': 'application/json' }, payload: payload.replace('"active"', '"trialing"') });
    expect(tampered.statusCode).toBe(400);
    expect((await subscriptionOf(viewer.auth)).code).toBe('NO_SUBSCRIPTION');
    const unknown = await deliver(event('customer.tax_id.created', { id: 'txi_1', object: 'tax_id' }));
    expect(unknown.statusCode).toBe(200);
    expect(unknown.json()).toEqual({ received: true, result: 'ignored' });
  });

  it('processes a retried delivery once', async () => {
    const viewer = await t.signup();
    await deliver(event('customer.subscription.created', subscription('sub_replay', viewer.accountId, 'active')));
    const invoice = event('invoice.paid', { id: 'in_replay', object: 'invoice', customer: `cus_for_${viewer.accountId}`, currency: 'usd', amount_paid: 799, payment_intent: 'pi_replay', parent: { type: 'subscription_details', subscription_details: { subscription: 'sub_replay' } } });
    expect((await deliver(invoice)).json().result).toBe('processed');
    expect((await deliver(invoice)).json().result).toBe('duplicate');
    expect((await deliver(invoice)).json().result).toBe('duplicate');
    const payments = (await t.app.inject({ method: 'GET', url: '/v1/payments', headers: viewer.auth })).json().items;
    expect(payments).toHaveLength(1);
    expect(payments[0]).toMatchObject({ amount: 7.99, transactionId: 'pi_replay', status: 'succeeded', subscriptionId: 'sub_replay' });
    expect(await t.metrics.getSingleMetricAsString('billing_events_total')).toMatch(/billing_events_total\{provider="stripe",result="duplicate"\} [2-9]/);
  });

  it('ends canceled when subscription.deleted arrives before an older subscription.updated', async () => {
    const viewer = await t.signup();
    const t0 = now() - 60;
    await deliver(event('customer.subscription.created', subscription('sub_order', viewer.accountId, 'active'), t0));
    expect((await subscriptionOf(viewer.auth)).status).toBe('active');
    await deliver(event('customer.subscription.deleted', subscription('sub_order', viewer.accountId, 'canceled'), t0 + 20));
    // Sent earlier, delivered later: it must not revive the subscription.
    expect((await deliver(event('customer.subscription.updated', subscription('sub_order', viewer.accountId, 'active', { cancel_at_period_end: true }), t0 + 10))).statusCode).toBe(200);
    expect(await subscriptionOf(viewer.auth)).toMatchObject({ status: 'canceled', entitled: false });
    // An older update after a newer one changes nothing either.
    const other = await t.signup();
    await deliver(event('customer.subscription.created', subscription('sub_order2', other.accountId, 'active'), t0));
    await deliver(event('customer.subscription.updated', subscription('sub_order2', other.accountId, 'active', { cancel_at_period_end: true }), t0 + 30));
    await deliver(event('customer.subscription.updated', subscription('sub_order2', other.accountId, 'active', { cancel_at_period_end: false }), t0 + 5));
    expect((await subscriptionOf(other.auth)).cancelAtPeriodEnd).toBe(true);
  });

  it('moves to past_due on a failed payment and ends access after the grace period', async () => {
    const profile = async (auth: Auth) => (await t.app.inject({ method: 'GET', url: '/v1/profiles', headers: auth })).json().items[0].id;
    const failedInvoice = (id: string, sub: string, accountId: string) => ({ id, object: 'invoice', customer: `cus_for_${accountId}`, currency: 'usd', amount_due: 799, amount_paid: 0, parent: { type: 'subscription_details', subscription_details: { subscription: sub } } });

    // Failed a day ago: inside the 3-day grace, still plays.
    const recent = await t.signup();
    await deliver(event('customer.subscription.created', subscription('sub_grace', recent.accountId, 'active'), now() - 40 * 86_400));
    await deliver(event('invoice.payment_failed', failedInvoice('in_grace', 'sub_grace', recent.accountId), now() - 86_400));
    const inGrace = await subscriptionOf(recent.auth);
    expect(inGrace).toMatchObject({ status: 'past_due', entitled: true });
    expect(new Date(inGrace.graceEndsAt).getTime()).toBeGreaterThan(Date.now() + 1.9 * 86_400_000);
    expect((await t.app.inject({ method: 'POST', url: '/v1/playback-tokens', headers: recent.auth, payload: { titleId: paid.id, profileId: await profile(recent.auth) } })).statusCode).toBe(201);

    // Failed four days ago: the grace is over.
    const lapsed = await t.signup();
    await deliver(event('customer.subscription.created', subscription('sub_lapsed', lapsed.accountId, 'active'), now() - 40 * 86_400));
    await deliver(event('invoice.payment_failed', failedInvoice('in_lapsed', 'sub_lapsed', lapsed.accountId), now() - 4 * 86_400));
    // Stripe's own subscription.updated (past_due) of the same moment does not restart the grace.
    await deliver(event('customer.subscription.updated', subscription('sub_lapsed', lapsed.accountId, 'past_due'), now() - 4 * 86_400 + 1));
    expect(await subscriptionOf(lapsed.auth)).toMatchObject({ status: 'past_due', entitled: false });
    const refused = await t.app.inject({ method: 'POST', url: '/v1/playback-tokens', headers: lapsed.auth, payload: { titleId: paid.id, profileId: await profile(lapsed.auth) } });
    expect(refused.statusCode).toBe(403);
    expect(refused.json().code).toBe('SUBSCRIPTION_INACTIVE');
    expect((await t.app.inject({ method: 'GET', url: '/v1/payments', headers: lapsed.auth })).json().items[0]).toMatchObject({ status: 'failed', unitAmount: 799 });
    // The retry succeeds: access is back.
    await deliver(event('invoice.paid', { ...failedInvoice('in_lapsed', 'sub_lapsed', lapsed.accountId), amount_paid: 799, status: 'paid' }));
    expect(await subscriptionOf(lapsed.auth)).toMatchObject({ status: 'active', entitled: true });
  });
});
