import crypto from 'node:crypto';
import Stripe from 'stripe';
import type { PlanRow } from './plans.js';

/**
 * One provider event, in Stripe's event shape (`id`, `type`, `created` in seconds, `data.object`):
 * Stripe's webhooks deliver these, and the built-in provider produces the same ones, so one handler
 * serves both.
 */
export interface BillingEvent {
  id: string;
  type: string;
  created: number;
  data: { object: Record<string, unknown> };
}

/** What checkout needs to send the viewer to a payment page. */
export interface CheckoutInput {
  accountId: string;
  customerId: string;
  plan: PlanRow;
  successUrl: string;
  cancelUrl: string;
}

/**
 * Who takes payments: `stripe` (Checkout and the Billing Portal) or `local` (a built-in test
 * checkout). Subscriptions then change only through provider events (BillingService.handleEvent).
 */
export interface PaymentProvider {
  readonly name: 'local' | 'stripe';
  /** Creates the provider's customer for an account (called once per account; the id is stored). */
  createCustomer(account: { id: string; email: string }): Promise<string>;
  /** A hosted payment page for a subscription to the plan. */
  checkout(input: CheckoutInput): Promise<{ id: string; url: string }>;
  /** A page where the customer manages the subscription (cancel, change plan, payment method). */
  portal(input: { accountId: string; customerId: string; returnUrl: string }): Promise<{ url: string }>;
  /**
   * Providers that keep their own billing clock (the built-in one) renew or end a subscription whose
   * period is over; Stripe does this itself and says so by webhook.
   */
  settle?(subscriptionId: string, accountId: string): Promise<void>;
}

/** The Stripe API version every call and every webhook payload is read in (the SDK's own, pinned with it). */
export const STRIPE_API_VERSION = Stripe.API_VERSION;

/** A Stripe client: the pinned API version, retries (which reuse the request's idempotency key), another API host in tests. */
export function stripeClient(secretKey: string, apiUrl?: string): Stripe {
  const target = apiUrl ? new URL(apiUrl) : undefined;
  return new Stripe(secretKey, {
    apiVersion: STRIPE_API_VERSION,
    maxNetworkRetries: 2,
    telemetry: false,
    appInfo: { name: 'streamforge' },
    ...(target ? { host: target.hostname, port: Number(target.port || (target.protocol === 'https:' ? 443 : 80)), protocol: target.protocol === 'https:' ? 'https' : 'http' } : {}),
  });
}

/**
 * Stripe: Checkout Sessions in subscription mode and the Billing Portal, an idempotency key on every
 * write. Checkout sends no `payment_method_types`, so Stripe offers the methods enabled in the
 * Dashboard that suit the customer (dynamic payment methods: cards, wallets, UPI where offered).
 * A plan with a `stripePriceId` is sold at that Price; otherwise its price is sent inline (`price_data`).
 */
export class StripeProvider implements PaymentProvider {
  readonly name = 'stripe' as const;

  constructor(private readonly stripe: Stripe) {}

  async createCustomer(account: { id: string; email: string }): Promise<string> {
    // One key per account: two racing first checkouts get the same customer back from Stripe.
    const customer = await this.stripe.customers.create(
      { email: account.email, metadata: { accountId: account.id } },
      { idempotencyKey: `streamforge-customer-${account.id}` },
    );
    return customer.id;
  }

  async checkout(input: CheckoutInput): Promise<{ id: string; url: string }> {
    const { plan } = input;
    const lineItem: Stripe.Checkout.SessionCreateParams.LineItem = plan.stripe_price_id
      ? { price: plan.stripe_price_id, quantity: 1 }
      : {
          price_data: {
            currency: plan.currency,
            unit_amount: plan.price_minor,
            recurring: { interval: plan.billing_interval },
            product_data: { name: plan.name, metadata: { planId: plan.id } },
          },
          quantity: 1,
        };
    const metadata = { accountId: input.accountId, planId: plan.id };
    const session = await this.stripe.checkout.sessions.create(
      {
        mode: 'subscription',
        customer: input.customerId,
        client_reference_id: input.accountId,
        line_items: [lineItem],
        metadata,
        subscription_data: { metadata },
        success_url: input.successUrl,
        cancel_url: input.cancelUrl,
      },
      { idempotencyKey: `streamforge-checkout-${crypto.randomUUID()}` },
    );
    if (!session.url) throw new Error(`Stripe returned checkout session ${session.id} without a url`);
    return { id: session.id, url: session.url };
  }

  async portal(input: { accountId: string; customerId: string; returnUrl: string }): Promise<{ url: string }> {
    const session = await this.stripe.billingPortal.sessions.create(
      { customer: input.customerId, return_url: input.returnUrl },
      { idempotencyKey: `streamforge-portal-${crypto.randomUUID()}` },
    );
    return { url: session.url };
  }
}
