import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Stripe from 'stripe';
import { Type } from 'typebox';
import { AppError, type Config, type Logger } from '../../platform/index.js';
import type { TokenService } from '../accounts/tokens.js';
import { IdParams, IsoDate, Nullable, bearer, closed, errorResponses } from '../http/common-schemas.js';
import { badRequest } from '../http/http-errors.js';
import { toOrigin } from '../playback/urls.js';
import type { Entitlements } from '../playback/entitlements.js';
import type { PlaybackSessions } from '../playback/playback-sessions.js';
import type { DeviceService } from './devices.js';
import type { LocalProvider } from './local-provider.js';
import type { BillingEvent } from './payment-provider.js';
import type { PlanService } from './plans.js';
import type { BillingService } from './subscriptions.js';

export interface BillingRouteDeps {
  config: Config;
  logger: Logger;
  tokens: TokenService;
  plans: PlanService;
  billing: BillingService;
  local?: LocalProvider;
  entitlements: Entitlements;
  sessions: PlaybackSessions;
  devices: DeviceService;
}

const Slug = Type.String({ pattern: '^[a-z0-9]+(-[a-z0-9]+)*$', maxLength: 40 });
const Downloads = Type.Object({ allowed: Type.Boolean(), devices: Type.Integer({ minimum: 0, maximum: 100 }), days: Type.Integer({ minimum: 0, maximum: 365 }) }, closed);
const PlanSchema = Type.Object({
  id: Type.String(),
  name: Type.String(),
  price: Type.Number({ description: 'per interval, in the currency’s major unit (9.99)' }),
  unitAmount: Type.Integer({ description: 'the same in minor units (999), as Stripe counts' }),
  currency: Type.String({ description: 'ISO 4217, lower case' }),
  interval: Type.Union([Type.Literal('month'), Type.Literal('year')]),
  tier: Type.Integer({ description: 'a plan unlocks titles whose requiredPlan has this tier or lower' }),
  streamingLimit: Type.Integer({ description: 'concurrent streams' }),
  maxResolution: Type.Integer({ description: 'tallest rendition, in lines' }),
  downloads: Downloads,
  active: Type.Boolean(),
});
const editable = {
  name: Type.String({ minLength: 1, maxLength: 80 }),
  tier: Type.Integer({ minimum: 0, maximum: 1000 }),
  unitAmount: Type.Integer({ minimum: 0, maximum: 100_000_000 }),
  currency: Type.String({ pattern: '^[A-Za-z]{3}$' }),
  interval: Type.Union([Type.Literal('month'), Type.Literal('year')]),
  streamingLimit: Type.Integer({ minimum: 1, maximum: 100 }),
  maxResolution: Type.Integer({ minimum: 144, maximum: 4320 }),
  downloads: Downloads,
  stripePriceId: Nullable(Type.String({ pattern: '^price_', maxLength: 255 })),
  active: Type.Boolean(),
};
const CreatePlanBody = Type.Object({ id: Slug, ...editable, downloads: Type.Optional(editable.downloads), stripePriceId: Type.Optional(editable.stripePriceId), active: Type.Optional(editable.active) }, closed);
const UpdatePlanBody = Type.Partial(Type.Object(editable), closed);
const SubscriptionSchema = Type.Object({
  id: Type.String(),
  plan: PlanSchema,
  status: Type.String({ description: 'incomplete, trialing, active, past_due, canceled, unpaid (Stripe’s states)' }),
  currentPeriodEnd: Nullable(IsoDate),
  cancelAtPeriodEnd: Type.Boolean(),
  entitled: Type.Boolean({ description: 'whether it unlocks titles now (past_due does until graceEndsAt)' }),
  graceEndsAt: Nullable(IsoDate),
  provider: Type.String(),
});
const PaymentSchema = Type.Object({
  id: Type.String(), date: IsoDate, amount: Type.Number(), unitAmount: Type.Integer(), currency: Type.String(), method: Nullable(Type.String()),
  status: Type.Union([Type.Literal('succeeded'), Type.Literal('failed')]), transactionId: Nullable(Type.String()), subscriptionId: Nullable(Type.String()),
});
const SessionSchema = Type.Object({
  id: Type.String(), profileId: Type.Optional(Type.String()), titleId: Type.Optional(Type.String()), requiredPlan: Type.Optional(Type.String()),
  deviceId: Type.Optional(Type.String()), deviceName: Type.Optional(Type.String()), deviceType: Type.Optional(Type.String()), startedAt: IsoDate, expiresAt: IsoDate,
});
const DeviceSchema = Type.Object({ id: Type.String(), type: Type.String(), name: Type.String(), firstSeenAt: IsoDate, lastSeenAt: IsoDate });
const RedirectUrl = Type.String({ format: 'uri', maxLength: 2000 });

/**
 * Plans, subscriptions, payments, Stripe webhooks, the built-in checkout's pages, playback sessions
 * (heartbeats) and devices.
 */
export const billingRoutes: FastifyPluginAsyncTypebox<BillingRouteDeps> = async (app, deps) => {
  const { config, tokens, plans, billing } = deps;
  const tags = ['subscriptions'];
  const apiOrigin = toOrigin('http', config.publicHost, config.ports.api);
  const me = (authorization: string | undefined) => tokens.authenticate(authorization).accountId;
  /** Where a payment page may send the viewer back to: this platform's public host (no open redirects). */
  const redirect = (url: string | undefined, fallback: string) => {
    if (!url) return fallback;
    const u = new URL(url);
    if (!/^https?:$/.test(u.protocol) || (u.hostname !== config.publicHost && u.hostname !== new URL(apiOrigin).hostname)) {
      throw badRequest('REDIRECT_NOT_ALLOWED', `return URLs must be on ${config.publicHost}`);
    }
    return u.toString();
  };

  // Stripe signs the exact bytes it sent; the local checkout posts HTML forms.
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: 16 * 1024 }, (_req, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(body as string)));
  });

  app.get('/v1/plans', { schema: { tags, summary: 'The plans on sale (public)', response: { 200: Type.Object({ items: Type.Array(PlanSchema) }), ...errorResponses } } }, async () => ({ items: await plans.list() }));

  app.post('/v1/plans', { schema: { tags, summary: 'Add a plan (admin)', security: bearer, body: CreatePlanBody, response: { 201: PlanSchema, ...errorResponses } } }, async (req, reply) => {
    tokens.authenticate(req.headers.authorization, ['admin']);
    return reply.status(201).send(await plans.create(req.body));
  });

  app.patch('/v1/plans/:id', { schema: { tags, summary: 'Change a plan (admin); subscribers get the new limits at once', security: bearer, params: IdParams, body: UpdatePlanBody, response: { 200: PlanSchema, ...errorResponses } } }, async (req) => {
    tokens.authenticate(req.headers.authorization, ['admin']);
    return plans.update(req.params.id, req.body);
  });

  app.post(
    '/v1/subscriptions/checkout',
    {
      schema: {
        tags, summary: 'Start a subscription: the URL of a payment page (Stripe Checkout, or the built-in test checkout)',
        description: 'Send the viewer to `url`; the subscription starts when the provider says the payment succeeded (webhook). 409 ALREADY_SUBSCRIBED while a subscription entitles: change plans in the portal.',
        security: bearer,
        body: Type.Object({ planId: Type.String({ maxLength: 40 }), successUrl: Type.Optional(RedirectUrl), cancelUrl: Type.Optional(RedirectUrl) }, closed),
        response: { 201: Type.Object({ id: Type.String(), url: Type.String({ format: 'uri' }) }), ...errorResponses },
      },
    },
    async (req, reply) => {
      const accountId = me(req.headers.authorization);
      const done = `${apiOrigin}/v1/billing/done`;
      const session = await billing.checkout(accountId, req.body.planId, { successUrl: redirect(req.body.successUrl, `${done}?checkout=success`), cancelUrl: redirect(req.body.cancelUrl, `${done}?checkout=canceled`) });
      return reply.status(201).send(session);
    },
  );

  app.get('/v1/subscription', { schema: { tags, summary: 'The account’s subscription (404 NO_SUBSCRIPTION when none)', security: bearer, response: { 200: SubscriptionSchema, ...errorResponses } } }, async (req) => billing.view(me(req.headers.authorization)));

  app.post(
    '/v1/subscriptions/portal',
    { schema: { tags, summary: 'The URL of the billing portal: change plan, cancel, payment methods', security: bearer, body: Type.Optional(Type.Object({ returnUrl: Type.Optional(RedirectUrl) }, closed)), response: { 201: Type.Object({ url: Type.String({ format: 'uri' }) }), ...errorResponses } } },
    async (req, reply) => reply.status(201).send(await billing.portal(me(req.headers.authorization), redirect(req.body?.returnUrl, `${apiOrigin}/v1/billing/done`))),
  );

  app.get('/v1/payments', { schema: { tags, summary: 'The account’s payments, newest first: date, method, amount, status, transaction id', security: bearer, response: { 200: Type.Object({ items: Type.Array(PaymentSchema) }), ...errorResponses } } }, async (req) => ({ items: await billing.payments(me(req.headers.authorization)) }));

  await app.register(async (raw) => {
    raw.removeContentTypeParser('application/json');
    raw.addContentTypeParser('application/json', { parseAs: 'buffer', bodyLimit: 1024 * 1024 }, (_req, body, done) => done(null, body));
    raw.post(
      '/v1/webhooks/stripe',
      { schema: { tags, summary: 'Stripe webhook endpoint (Stripe-Signature verified on the raw body, 300 s tolerance)', hide: false, response: { 200: Type.Object({ received: Type.Boolean(), result: Type.String() }), ...errorResponses } } },
      async (req) => {
        const secret = config.billing.stripeWebhookSecret;
        if (!secret) throw new AppError(404, 'STRIPE_NOT_CONFIGURED', 'this server takes no Stripe webhooks: set STRIPE_WEBHOOK_SECRET');
        const signature = req.headers['stripe-signature'];
        if (typeof signature !== 'string') throw badRequest('SIGNATURE_MISSING', 'Stripe-Signature header is missing');
        if (!Buffer.isBuffer(req.body)) throw badRequest('PAYLOAD_INVALID', 'the body must be the JSON Stripe sent');
        let event: BillingEvent;
        try {
          event = Stripe.webhooks.constructEvent(req.body, signature, secret, 300) as unknown as BillingEvent;
        } catch (err) {
          billing.events?.inc({ provider: 'stripe', result: 'signature_invalid' });
          throw badRequest('SIGNATURE_INVALID', `webhook signature verification failed: ${(err as Error).message}`);
        }
        const result = await billing.handleEvent(event, 'stripe');
        deps.logger.info({ event: event.id, type: event.type, result }, 'stripe webhook');
        return { received: true, result };
      },
    );
  });

  app.get('/v1/billing/done', { schema: { hide: true } }, async (req, reply) => {
    const state = (req.query as { checkout?: string }).checkout;
    const text = state === 'success' ? 'Payment received: your subscription starts in a moment.' : state === 'canceled' ? 'Checkout canceled: nothing was charged.' : 'All done.';
    return reply.type('text/html; charset=utf-8').send(`<!doctype html><meta charset="utf-8"><title>streamforge</title><p style="font:16px system-ui;margin:3rem">${text} You can close this window.</p>`);
  });

  if (deps.local) {
    const local = deps.local;
    const send = (reply: import('fastify').FastifyReply, page: { status: number; html?: string; redirect?: string }) =>
      page.redirect ? reply.redirect(page.redirect, page.status as 303) : reply.status(page.status).type('text/html; charset=utf-8').header('cache-control', 'no-store').send(page.html);
    app.get('/v1/billing/local/:id', { schema: { tags, summary: 'The built-in (test) checkout or portal page', params: IdParams } }, async (req, reply) => send(reply, await local.page(req.params.id)));
    app.post('/v1/billing/local/:id', { schema: { tags, summary: 'A form posted by the built-in checkout or portal page', params: IdParams } }, async (req, reply) =>
      send(reply, await local.act(req.params.id, (req.body ?? {}) as Record<string, string | undefined>)));
  }

  const sessionsTags = ['playback'];
  app.get('/v1/playback-sessions', { schema: { tags: sessionsTags, summary: 'The account’s playbacks holding a stream slot now', security: bearer, response: { 200: Type.Object({ items: Type.Array(SessionSchema) }), ...errorResponses } } }, async (req) => ({ items: await deps.sessions.list(me(req.headers.authorization)) }));

  app.post(
    '/v1/playback-sessions/:id/heartbeat',
    { schema: { tags: sessionsTags, summary: `Keep a playback’s stream slot (every 30 s; it lapses ${config.billing.playbackLeaseSeconds} s after the last)`, description: 'Checks the entitlement again: 403 SUBSCRIPTION_INACTIVE or PLAN_REQUIRED when it ended, 403 STREAM_LIMIT_REACHED when the slot lapsed and another playback took it.', security: bearer, params: IdParams, response: { 200: SessionSchema, ...errorResponses } } },
    async (req) => deps.entitlements.renew(me(req.headers.authorization), req.params.id),
  );

  app.delete('/v1/playback-sessions/:id', { schema: { tags: sessionsTags, summary: 'Stop a playback and free its stream slot', security: bearer, params: IdParams, response: { 204: Type.Null({ description: 'ended' }), ...errorResponses } } }, async (req, reply) => {
    await deps.sessions.end(me(req.headers.authorization), req.params.id);
    return reply.status(204).send(null);
  });

  app.get('/v1/devices', { schema: { tags: ['devices'], summary: 'The devices that played on this account, most recent first', security: bearer, response: { 200: Type.Object({ items: Type.Array(DeviceSchema) }), ...errorResponses } } }, async (req) => ({ items: await deps.devices.list(me(req.headers.authorization)) }));

  app.delete('/v1/devices/:id', { schema: { tags: ['devices'], summary: 'Sign a device out: its playbacks end and it is forgotten', security: bearer, params: IdParams, response: { 204: Type.Null({ description: 'removed' }), ...errorResponses } } }, async (req, reply) => {
    await deps.devices.remove(me(req.headers.authorization), req.params.id);
    return reply.status(204).send(null);
  });
};
