import crypto from 'node:crypto';
import { AppError, type Sql } from '../../platform/index.js';
import type { BillingEvent, CheckoutInput, PaymentProvider } from './payment-provider.js';
import { toPlanView, type PlanRow, type PlanService } from './plans.js';
import type { BillingService } from './subscriptions.js';
import { escapeHtml } from '../http/html.js';

/** A test card that is always declined (as Stripe's 4000 0000 0000 0002). */
export const DECLINED_TEST_CARD = '4000000000000002';
/** Payment methods the local checkout offers (as Stripe's dynamic payment methods would). */
export const LOCAL_METHODS = ['card', 'upi', 'wallet'] as const;
const SESSION_TTL_MS = 3600_000;

interface LocalSessionRow {
  id: string;
  kind: 'checkout' | 'portal';
  account_id: string;
  plan_id: string | null;
  status: 'open' | 'complete';
  return_url: string;
  expires_at: Date | string;
}

const newId = (prefix: string) => `${prefix}_local_${crypto.randomBytes(12).toString('hex')}`;
const nowSeconds = () => Math.floor(Date.now() / 1000);
const periodSeconds = (plan: PlanRow) => (plan.billing_interval === 'year' ? 365 : 30) * 86_400;

/** A page of the built-in checkout or portal: what the route sends. */
export interface LocalPage {
  status: number;
  html?: string;
  redirect?: string;
}

/**
 * The built-in payment provider (PAYMENT_PROVIDER=local, the default): a checkout page that takes a
 * test payment (card, UPI or wallet; card 4000 0000 0000 0002 is declined) and a portal to change
 * plan, cancel, or try a renewal or a failed payment. Each action delivers the events Stripe's
 * webhooks would (checkout.session.completed, customer.subscription.*, invoice.paid|payment_failed)
 * to the same handler, so `npm start` runs the whole subscription path without Stripe credentials.
 */
export class LocalProvider implements PaymentProvider {
  readonly name = 'local' as const;
  private billing?: BillingService;

  constructor(private readonly deps: { sql: Sql; plans: PlanService; apiOrigin: string }) {}

  /** The service events are delivered to (built after this provider). */
  attach(billing: BillingService): void {
    this.billing = billing;
  }

  async createCustomer(): Promise<string> {
    return newId('cus');
  }

  private async openSession(kind: 'checkout' | 'portal', accountId: string, planId: string | null, returnUrl: string): Promise<string> {
    const id = newId(kind === 'checkout' ? 'cs' : 'bps');
    await this.deps.sql.query(
      `INSERT INTO local_billing_sessions (id, kind, account_id, plan_id, status, return_url, created_at, expires_at) VALUES ($1, $2, $3, $4, 'open', $5, now(), $6)`,
      [id, kind, accountId, planId, returnUrl, new Date(Date.now() + SESSION_TTL_MS)],
    );
    return id;
  }

  async checkout(input: CheckoutInput): Promise<{ id: string; url: string }> {
    const id = await this.openSession('checkout', input.accountId, input.plan.id, JSON.stringify({ success: input.successUrl, cancel: input.cancelUrl, customer: input.customerId }));
    return { id, url: `${this.deps.apiOrigin}/v1/billing/local/${id}` };
  }

  async portal(input: { accountId: string; customerId: string; returnUrl: string }): Promise<{ url: string }> {
    const id = await this.openSession('portal', input.accountId, null, JSON.stringify({ success: input.returnUrl, customer: input.customerId }));
    return { url: `${this.deps.apiOrigin}/v1/billing/local/${id}` };
  }

  private async session(id: string): Promise<LocalSessionRow & { urls: { success: string; cancel?: string; customer: string } }> {
    const [row] = await this.deps.sql.query<LocalSessionRow>(`SELECT * FROM local_billing_sessions WHERE id = $1`, [id]);
    if (!row) throw new AppError(404, 'NOT_FOUND', 'this checkout or portal session does not exist');
    if (new Date(row.expires_at).getTime() < Date.now()) throw new AppError(410, 'SESSION_EXPIRED', 'this session expired: start again from the app');
    return { ...row, urls: JSON.parse(row.return_url) as { success: string; cancel?: string; customer: string } };
  }

  private async deliver(...events: Omit<BillingEvent, 'id' | 'created'>[]): Promise<void> {
    if (!this.billing) throw new Error('LocalProvider used before attach()');
    for (const e of events) await this.billing.handleEvent({ id: newId('evt'), created: nowSeconds(), ...e }, 'local');
  }

  /** The page at a session's URL. */
  async page(id: string): Promise<LocalPage> {
    const s = await this.session(id);
    return { status: 200, html: s.kind === 'checkout' ? await this.checkoutPage(s) : await this.portalPage(s) };
  }

  /** A form posted to a session's URL. */
  async act(id: string, form: Record<string, string | undefined>): Promise<LocalPage> {
    const s = await this.session(id);
    if (s.kind === 'checkout') return this.pay(s, form);
    return this.portalAction(s, form);
  }

  private async checkoutPage(s: LocalSessionRow & { urls: { cancel?: string } }): Promise<string> {
    const plan = toPlanView(await this.deps.plans.row(s.plan_id!));
    if (s.status === 'complete') return layout('Already paid', `<p>This checkout is complete.</p>`);
    const methods = LOCAL_METHODS.map((m) => `<label><input type="radio" name="method" value="${m}"${m === 'card' ? ' checked' : ''}> ${m === 'upi' ? 'UPI' : m[0].toUpperCase() + m.slice(1)}</label>`).join(' ');
    return layout(
      `Subscribe to ${plan.name}`,
      `<p><strong>${escapeHtml(plan.name)}</strong>: ${plan.price.toFixed(2)} ${plan.currency.toUpperCase()} per ${plan.interval}, ${plan.streamingLimit} concurrent stream(s), up to ${plan.maxResolution}p.</p>
       <p class="note">Test mode: no money moves. Card ${DECLINED_TEST_CARD} is declined.</p>
       <form method="post"><p>${methods}</p>
       <p><label>Card number <input name="card" value="4242424242424242" inputmode="numeric"></label></p>
       <p><button type="submit">Pay ${plan.price.toFixed(2)} ${plan.currency.toUpperCase()}</button>
       ${s.urls.cancel ? `<a href="${escapeHtml(s.urls.cancel)}">Cancel</a>` : ''}</p></form>`,
    );
  }

  private async pay(s: LocalSessionRow & { urls: { success: string; customer: string } }, form: Record<string, string | undefined>): Promise<LocalPage> {
    if (s.status === 'complete') return { status: 409, html: layout('Already paid', '<p>This checkout is complete.</p>') };
    const method = LOCAL_METHODS.find((m) => m === form.method) ?? 'card';
    if (method === 'card' && (form.card ?? '').replace(/\s/g, '') === DECLINED_TEST_CARD) {
      return { status: 402, html: layout('Payment declined', '<p>Your card was declined. <a href="">Try another method</a>.</p>') };
    }
    // Complete once: a double-submitted form pays once.
    const done = await this.deps.sql.query(`UPDATE local_billing_sessions SET status = 'complete' WHERE id = $1 AND status = 'open' RETURNING id`, [s.id]);
    if (done.length === 0) return { status: 409, html: layout('Already paid', '<p>This checkout is complete.</p>') };
    const plan = await this.deps.plans.row(s.plan_id!);
    const subscription = newId('sub');
    const periodEnd = nowSeconds() + periodSeconds(plan);
    const metadata = { accountId: s.account_id, planId: plan.id };
    await this.deliver(
      { type: 'checkout.session.completed', data: { object: { id: s.id, object: 'checkout.session', mode: 'subscription', customer: s.urls.customer, client_reference_id: s.account_id, subscription, metadata } } },
      { type: 'customer.subscription.created', data: { object: this.subscriptionObject(subscription, s.urls.customer, plan, 'active', periodEnd, false, metadata) } },
      { type: 'invoice.paid', data: { object: this.invoiceObject(subscription, s.urls.customer, plan, method, periodEnd, true) } },
    ).catch(async (err: unknown) => {
      // Nothing was bought: the page can be submitted again.
      await this.deps.sql.query(`UPDATE local_billing_sessions SET status = 'open' WHERE id = $1`, [s.id]);
      throw err;
    });
    return { status: 303, redirect: s.urls.success };
  }

  private subscriptionObject(id: string, customer: string, plan: PlanRow, status: string, periodEnd: number, cancelAtPeriodEnd: boolean, metadata: Record<string, string>) {
    return {
      id, object: 'subscription', customer, status, cancel_at_period_end: cancelAtPeriodEnd, metadata, created: nowSeconds(),
      items: { object: 'list', data: [{ object: 'subscription_item', current_period_end: periodEnd, price: { id: `price_local_${plan.id}`, unit_amount: plan.price_minor, currency: plan.currency } }] },
    };
  }

  private invoiceObject(subscription: string, customer: string, plan: PlanRow, method: string, periodEnd: number, paid: boolean) {
    return {
      id: newId('in'), object: 'invoice', customer, currency: plan.currency, amount_due: plan.price_minor, amount_paid: paid ? plan.price_minor : 0,
      status: paid ? 'paid' : 'open', payment_intent: newId('pi'), metadata: { paymentMethod: method },
      parent: { type: 'subscription_details', subscription_details: { subscription } },
      lines: { object: 'list', data: [{ period: { start: periodEnd - periodSeconds(plan), end: periodEnd } }] },
    };
  }

  /**
   * The built-in billing clock: a subscription whose period is over renews (a test payment, the next
   * period) or, when it was set to cancel at period end, ends. Claimed by moving the period end in
   * one UPDATE, so concurrent requests renew once.
   */
  async settle(subscriptionId: string, accountId: string): Promise<void> {
    const [row] = await this.deps.sql.query<{ plan_id: string; cancel_at_period_end: boolean; current_period_end: Date | string; status: string }>(
      `SELECT plan_id, cancel_at_period_end, current_period_end, status FROM subscriptions WHERE id = $1`,
      [subscriptionId],
    );
    if (!row || row.status === 'canceled') return;
    const plan = await this.deps.plans.row(row.plan_id);
    const [customer] = await this.deps.sql.query<{ customer_id: string }>(`SELECT customer_id FROM billing_customers WHERE account_id = $1 AND provider = 'local'`, [accountId]);
    const ended = Math.floor(new Date(row.current_period_end).getTime() / 1000);
    const next = Math.max(ended, nowSeconds()) + periodSeconds(plan);
    const claimed = await this.deps.sql.query(
      `UPDATE subscriptions SET current_period_end = to_timestamp($3) WHERE id = $1 AND current_period_end = to_timestamp($2) RETURNING id`,
      [subscriptionId, ended, row.cancel_at_period_end ? ended + 1 : next],
    );
    if (claimed.length === 0 || !customer) return;
    const metadata = { accountId, planId: plan.id };
    if (row.cancel_at_period_end) {
      await this.deliver({ type: 'customer.subscription.deleted', data: { object: this.subscriptionObject(subscriptionId, customer.customer_id, plan, 'canceled', ended, true, metadata) } });
      return;
    }
    await this.deliver(
      { type: 'invoice.paid', data: { object: this.invoiceObject(subscriptionId, customer.customer_id, plan, 'card', next, true) } },
      { type: 'customer.subscription.updated', data: { object: this.subscriptionObject(subscriptionId, customer.customer_id, plan, 'active', next, false, metadata) } },
    );
  }

  private async portalPage(s: LocalSessionRow & { urls: { success: string } }): Promise<string> {
    const sub = await this.billing!.current(s.account_id);
    const back = `<p><a href="${escapeHtml(s.urls.success)}">Back</a></p>`;
    if (!sub || sub.row.status === 'canceled') return layout('Your subscription', `<p>No active subscription.</p>${back}`);
    const plans = (await this.deps.plans.list()).filter((p) => p.id !== sub.plan.id);
    const button = (action: string, label: string, extra = '') => `<form method="post"><input type="hidden" name="action" value="${action}">${extra}<button type="submit">${label}</button></form>`;
    return layout(
      'Your subscription',
      `<p>${escapeHtml(sub.plan.name)}: <strong>${sub.row.status}</strong>${sub.row.current_period_end ? `, renews ${new Date(sub.row.current_period_end).toISOString().slice(0, 10)}` : ''}${sub.row.cancel_at_period_end ? ' (cancels at period end)' : ''}.</p>
       ${plans.map((p) => button('change-plan', `Switch to ${escapeHtml(p.name)}`, `<input type="hidden" name="planId" value="${escapeHtml(p.id)}">`)).join('')}
       ${sub.row.cancel_at_period_end ? button('resume', 'Keep my subscription') : button('cancel-at-period-end', 'Cancel at period end')}
       ${button('cancel-now', 'Cancel now')}
       <p class="note">Test mode:</p>${button('renew', 'Simulate a renewal payment')}${button('fail-payment', 'Simulate a failed payment')}${back}`,
    );
  }

  private async portalAction(s: LocalSessionRow & { urls: { success: string; customer: string } }, form: Record<string, string | undefined>): Promise<LocalPage> {
    const sub = await this.billing!.current(s.account_id);
    if (!sub || sub.row.status === 'canceled') throw new AppError(409, 'NO_SUBSCRIPTION', 'there is no subscription to change');
    const { row } = sub;
    let plan = sub.plan;
    const periodEnd = row.current_period_end ? Math.floor(new Date(row.current_period_end).getTime() / 1000) : nowSeconds();
    const metadata = () => ({ accountId: s.account_id, planId: plan.id });
    const updated = (status: string, end: number, cancelAtPeriodEnd = row.cancel_at_period_end) =>
      ({ type: 'customer.subscription.updated', data: { object: this.subscriptionObject(row.id, s.urls.customer, plan, status, end, cancelAtPeriodEnd, metadata()) } });
    switch (form.action) {
      case 'change-plan':
        plan = await this.deps.plans.row(form.planId ?? '');
        await this.deliver(updated(row.status, periodEnd));
        break;
      case 'cancel-at-period-end':
      case 'resume':
        await this.deliver(updated(row.status, periodEnd, form.action === 'cancel-at-period-end'));
        break;
      case 'cancel-now':
        await this.deliver({ type: 'customer.subscription.deleted', data: { object: this.subscriptionObject(row.id, s.urls.customer, plan, 'canceled', periodEnd, false, metadata()) } });
        break;
      case 'renew': {
        const next = Math.max(periodEnd, nowSeconds()) + periodSeconds(plan);
        await this.deliver({ type: 'invoice.paid', data: { object: this.invoiceObject(row.id, s.urls.customer, plan, 'card', next, true) } }, updated('active', next));
        break;
      }
      case 'fail-payment':
        await this.deliver({ type: 'invoice.payment_failed', data: { object: this.invoiceObject(row.id, s.urls.customer, plan, 'card', periodEnd, false) } }, updated('past_due', periodEnd));
        break;
      default:
        throw new AppError(400, 'VALIDATION_FAILED', 'action must be change-plan, cancel-at-period-end, resume, cancel-now, renew or fail-payment');
    }
    return { status: 303, redirect: `${this.deps.apiOrigin}/v1/billing/local/${s.id}` };
  }
}

function layout(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${escapeHtml(title)} · streamforge</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem}form{margin:.5rem 0}button{font:inherit;padding:.4rem 1rem}.note{color:#666;font-size:.9rem}</style></head>
<body><h1>${escapeHtml(title)}</h1>${body}</body></html>`;
}
