import { Counter, type Registry } from 'prom-client';
import { AppError, type Config, type Logger, type Sql } from '../../platform/index.js';
import { conflict, notFound } from '../http/http-errors.js';
import type { BillingEvent, PaymentProvider } from './payment-provider.js';
import { toPlanView, type PlanRow, type PlanService, type PlanView } from './plans.js';

/** Stripe's subscription states; `trialing` and `active` entitle, `past_due` does for a grace period. */
export type SubscriptionStatus = 'incomplete' | 'incomplete_expired' | 'trialing' | 'active' | 'past_due' | 'canceled' | 'unpaid' | 'paused';
const STATUSES: readonly SubscriptionStatus[] = ['incomplete', 'incomplete_expired', 'trialing', 'active', 'past_due', 'canceled', 'unpaid', 'paused'];

export interface SubscriptionRow {
  id: string;
  account_id: string;
  provider: string;
  plan_id: string;
  status: SubscriptionStatus;
  current_period_end: Date | string | null;
  cancel_at_period_end: boolean;
  past_due_since: Date | string | null;
  state_as_of: string | number;
  created_at: Date | string;
}

export interface SubscriptionView {
  id: string;
  plan: PlanView;
  status: SubscriptionStatus;
  currentPeriodEnd: string | null;
  cancelAtPeriodEnd: boolean;
  /** Whether it entitles now (active, trialing, or past_due within the grace period). */
  entitled: boolean;
  /** past_due: when access ends unless a payment succeeds. */
  graceEndsAt: string | null;
  provider: string;
}

export interface PaymentView {
  id: string;
  date: string;
  amount: number;
  unitAmount: number;
  currency: string;
  method: string | null;
  status: 'succeeded' | 'failed';
  transactionId: string | null;
  subscriptionId: string | null;
}

/** An account's current subscription with its plan: what entitlements are decided on. */
export interface ActiveSubscription {
  row: SubscriptionRow;
  plan: PlanRow;
  entitled: boolean;
}

const iso = (v: Date | string | null): string | null => (v === null ? null : new Date(v).toISOString());
const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
/** A Stripe reference that may be expanded into its object. */
const ref = (v: unknown): string | undefined => str(v) ?? str((v as { id?: unknown } | null)?.id);
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
type Obj = Record<string, unknown>;

/**
 * Subscriptions, payments and the provider events that change them. Every event is stored by id in
 * the transaction that applies it, so a retried delivery changes nothing. Stripe does not order its
 * events, so a subscription remembers the `created` time of the newest event it took and ignores
 * older ones; `canceled` is final (Stripe never revives a canceled subscription).
 */
export class BillingService {
  /** Provider events by provider and result (processed, duplicate, ignored, signature_invalid). */
  readonly events?: Counter<'provider' | 'result'>;

  constructor(
    private readonly deps: { sql: Sql; plans: PlanService; provider: PaymentProvider; logger: Logger; accounts: { get(id: string): Promise<{ id: string; email: string } | undefined> }; metrics?: Registry },
    private readonly config: Config['billing'],
  ) {
    if (deps.metrics) {
      this.events = (deps.metrics.getSingleMetric('billing_events_total') as Counter<'provider' | 'result'> | undefined) ?? new Counter({
        name: 'billing_events_total',
        help: 'Payment provider events (webhooks, built-in checkout) by provider and result: processed, duplicate (a retried delivery), ignored, signature_invalid',
        labelNames: ['provider', 'result'],
        registers: [deps.metrics],
      });
      for (const provider of ['local', 'stripe']) for (const result of ['processed', 'duplicate', 'ignored', 'signature_invalid']) this.events.inc({ provider, result }, 0);
    }
  }

  get providerName(): string {
    return this.deps.provider.name;
  }

  /** Whether a subscription entitles at `now`. */
  entitles(row: SubscriptionRow, now = new Date()): boolean {
    if (row.status === 'active' || row.status === 'trialing') return true;
    if (row.status === 'past_due') return this.graceEnd(row)!.getTime() > now.getTime();
    return false;
  }

  private graceEnd(row: SubscriptionRow): Date | null {
    if (row.status !== 'past_due') return null;
    const since = row.past_due_since ? new Date(row.past_due_since) : new Date(Number(row.state_as_of) * 1000);
    return new Date(since.getTime() + this.config.pastDueGraceSeconds * 1000);
  }

  /** The account's subscription that counts: an entitling one if any, else the newest. */
  async current(accountId: string, now = new Date()): Promise<ActiveSubscription | undefined> {
    const read = () => this.deps.sql.query<SubscriptionRow & { plan: PlanRow }>(
      `SELECT s.*, to_jsonb(p) AS plan FROM subscriptions s JOIN plans p ON p.id = s.plan_id WHERE s.account_id = $1 ORDER BY s.created_at DESC LIMIT 20`,
      [accountId],
    );
    let rows = await read();
    const due = rows.filter((r) => r.provider === this.deps.provider.name && r.status !== 'canceled' && r.current_period_end && new Date(r.current_period_end).getTime() <= now.getTime());
    if (due.length && this.deps.provider.settle) {
      for (const r of due) await this.deps.provider.settle(r.id, accountId);
      rows = await read();
    }
    const pick = rows.find((r) => this.entitles(r, now)) ?? rows[0];
    return pick ? { row: pick, plan: pick.plan, entitled: this.entitles(pick, now) } : undefined;
  }

  async view(accountId: string): Promise<SubscriptionView> {
    const sub = await this.current(accountId);
    if (!sub) throw new AppError(404, 'NO_SUBSCRIPTION', 'this account has no subscription: start one with POST /v1/subscriptions/checkout');
    const { row, plan, entitled } = sub;
    return {
      id: row.id, plan: toPlanView(plan), status: row.status, currentPeriodEnd: iso(row.current_period_end), cancelAtPeriodEnd: row.cancel_at_period_end,
      entitled, graceEndsAt: iso(this.graceEnd(row)), provider: row.provider,
    };
  }

  /** The provider's customer of an account, created on first use. */
  private async customerId(accountId: string): Promise<string> {
    const provider = this.deps.provider.name;
    const [known] = await this.deps.sql.query<{ customer_id: string }>(`SELECT customer_id FROM billing_customers WHERE account_id = $1 AND provider = $2`, [accountId, provider]);
    if (known) return known.customer_id;
    const account = await this.deps.accounts.get(accountId);
    if (!account) throw notFound('account');
    const created = await this.deps.provider.createCustomer(account);
    await this.deps.sql.query(`INSERT INTO billing_customers (account_id, provider, customer_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`, [accountId, provider, created]);
    const [row] = await this.deps.sql.query<{ customer_id: string }>(`SELECT customer_id FROM billing_customers WHERE account_id = $1 AND provider = $2`, [accountId, provider]);
    return row.customer_id;
  }

  /** A payment page for the plan; 409 ALREADY_SUBSCRIBED while a subscription entitles (change plans in the portal). */
  async checkout(accountId: string, planId: string, urls: { successUrl: string; cancelUrl: string }): Promise<{ id: string; url: string }> {
    const plan = await this.deps.plans.row(planId);
    if (!plan.active) throw conflict('PLAN_UNAVAILABLE', `plan ${planId} is no longer sold`);
    const current = await this.current(accountId);
    if (current?.entitled) throw conflict('ALREADY_SUBSCRIBED', `this account is subscribed to ${current.plan.name}: change plans or cancel in the portal (POST /v1/subscriptions/portal)`);
    return this.deps.provider.checkout({ accountId, customerId: await this.customerId(accountId), plan, ...urls });
  }

  /** The provider's portal; 409 NO_SUBSCRIPTION for an account that never checked out. */
  async portal(accountId: string, returnUrl: string): Promise<{ url: string }> {
    const [row] = await this.deps.sql.query<{ customer_id: string }>(`SELECT customer_id FROM billing_customers WHERE account_id = $1 AND provider = $2`, [accountId, this.deps.provider.name]);
    if (!row) throw conflict('NO_SUBSCRIPTION', 'this account has no billing record yet: start with POST /v1/subscriptions/checkout');
    return this.deps.provider.portal({ accountId, customerId: row.customer_id, returnUrl });
  }

  async payments(accountId: string, limit = 100): Promise<PaymentView[]> {
    const rows = await this.deps.sql.query<{ id: string; created_at: Date | string; amount_minor: number; currency: string; method: string | null; status: 'succeeded' | 'failed'; transaction_id: string | null; subscription_id: string | null }>(
      `SELECT * FROM payments WHERE account_id = $1 ORDER BY created_at DESC, recorded_at DESC LIMIT $2`,
      [accountId, limit],
    );
    return rows.map((r) => ({
      id: r.id, date: iso(r.created_at)!, amount: toPlanView({ price_minor: r.amount_minor, currency: r.currency } as PlanRow).price, unitAmount: r.amount_minor,
      currency: r.currency, method: r.method, status: r.status, transactionId: r.transaction_id, subscriptionId: r.subscription_id,
    }));
  }

  /**
   * Applies one provider event once: `processed`, `duplicate` (seen before) or `ignored` (a type
   * or an object this platform does not act on: acknowledged all the same).
   */
  async handleEvent(event: BillingEvent, provider: string): Promise<'processed' | 'duplicate' | 'ignored'> {
    const result = await this.apply(event, provider);
    this.events?.inc({ provider, result });
    return result;
  }

  private apply(event: BillingEvent, provider: string): Promise<'processed' | 'duplicate' | 'ignored'> {
    return this.deps.sql.tx(async (q) => {
      const stored = await q.query(`INSERT INTO billing_events (id, provider, type, created) VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO NOTHING RETURNING id`, [event.id, provider, event.type, event.created]);
      if (stored.length === 0) return 'duplicate';
      const obj = event.data.object;
      switch (event.type) {
        case 'checkout.session.completed':
          return this.onCheckoutCompleted(q, obj, provider);
        case 'customer.subscription.created':
        case 'customer.subscription.updated':
        case 'customer.subscription.deleted':
          return this.onSubscription(q, obj, event, provider);
        case 'invoice.paid':
        case 'invoice.payment_failed':
          return this.onInvoice(q, obj, event, provider);
        default:
          return 'ignored';
      }
    });
  }

  /** The account an object belongs to: its metadata's accountId, else its customer's account. */
  private async accountOf(q: Sql, obj: Obj, provider: string): Promise<string | undefined> {
    const fromMeta = str((obj.metadata as Obj | undefined)?.accountId) ?? str(obj.client_reference_id);
    if (fromMeta && UUID.test(fromMeta)) {
      const [row] = await q.query(`SELECT id FROM accounts WHERE id = $1`, [fromMeta]);
      if (row) return fromMeta;
    }
    const customer = ref(obj.customer);
    if (!customer) return undefined;
    const [row] = await q.query<{ account_id: string }>(`SELECT account_id FROM billing_customers WHERE provider = $1 AND customer_id = $2`, [provider, customer]);
    return row?.account_id;
  }

  private async onCheckoutCompleted(q: Sql, session: Obj, provider: string): Promise<'processed' | 'ignored'> {
    const accountId = await this.accountOf(q, session, provider);
    const customer = ref(session.customer);
    if (!accountId || !customer) return 'ignored';
    await q.query(`INSERT INTO billing_customers (account_id, provider, customer_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`, [accountId, provider, customer]);
    return 'processed';
  }

  private async onSubscription(q: Sql, sub: Obj, event: BillingEvent, provider: string): Promise<'processed' | 'ignored'> {
    const id = str(sub.id);
    if (!id) return 'ignored';
    const item = ((sub.items as Obj | undefined)?.data as Obj[] | undefined)?.[0];
    const status: SubscriptionStatus = event.type === 'customer.subscription.deleted' ? 'canceled' : (STATUSES.find((s) => s === sub.status) ?? 'incomplete');
    const periodEnd = Number(item?.current_period_end ?? sub.current_period_end) || null;
    const [existing] = await q.query<SubscriptionRow>(`SELECT * FROM subscriptions WHERE id = $1 FOR UPDATE`, [id]);
    const planId = str((sub.metadata as Obj | undefined)?.planId);
    const priceId = ref((item?.price as Obj | undefined)?.id);
    const plan = (planId && (await q.query<PlanRow>(`SELECT * FROM plans WHERE id = $1`, [planId]))[0]) || (priceId && (await this.deps.plans.byStripePrice(priceId, q))) || undefined;
    if (!existing) {
      const accountId = await this.accountOf(q, sub, provider);
      if (!accountId || !plan) {
        this.deps.logger.warn({ subscription: id, event: event.id }, 'subscription event for an unknown account or plan: ignored');
        return 'ignored';
      }
      await q.query(
        `INSERT INTO subscriptions (id, account_id, provider, plan_id, status, current_period_end, cancel_at_period_end, past_due_since, state_as_of, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, to_timestamp($6), $7, $8, $9, to_timestamp($10), now())`,
        [id, accountId, provider, plan.id, status, periodEnd, sub.cancel_at_period_end === true, status === 'past_due' ? new Date(event.created * 1000) : null, event.created, Number(sub.created) || event.created],
      );
      return 'processed';
    }
    // Final, or older than what the row already says: an out-of-order delivery changes nothing.
    if (existing.status === 'canceled' || event.created < Number(existing.state_as_of)) return 'processed';
    const pastDueSince = status === 'past_due' ? (existing.past_due_since ?? new Date(event.created * 1000)) : null;
    await q.query(
      `UPDATE subscriptions SET plan_id = $2, status = $3, current_period_end = COALESCE(to_timestamp($4), current_period_end), cancel_at_period_end = $5,
              past_due_since = $6, state_as_of = $7, updated_at = now() WHERE id = $1`,
      [id, plan?.id ?? existing.plan_id, status, periodEnd, sub.cancel_at_period_end === true, pastDueSince, event.created],
    );
    return 'processed';
  }

  private async onInvoice(q: Sql, invoice: Obj, event: BillingEvent, provider: string): Promise<'processed' | 'ignored'> {
    const parent = (invoice.parent as Obj | undefined)?.subscription_details as Obj | undefined;
    const subscriptionId = ref(parent?.subscription) ?? ref(invoice.subscription);
    const [sub] = subscriptionId ? await q.query<SubscriptionRow>(`SELECT * FROM subscriptions WHERE id = $1 FOR UPDATE`, [subscriptionId]) : [];
    const accountId = sub?.account_id ?? (await this.accountOf(q, invoice, provider));
    if (!accountId) return 'ignored';
    const paid = event.type === 'invoice.paid';
    await q.query(
      `INSERT INTO payments (id, account_id, subscription_id, amount_minor, currency, method, status, transaction_id, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, to_timestamp($9)) ON CONFLICT (id) DO NOTHING`,
      [
        event.id, accountId, subscriptionId ?? null, Number(paid ? invoice.amount_paid : invoice.amount_due) || 0, str(invoice.currency) ?? 'usd',
        str((invoice.metadata as Obj | undefined)?.paymentMethod) ?? null, paid ? 'succeeded' : 'failed', ref(invoice.payment_intent) ?? ref(invoice.charge) ?? str(invoice.id) ?? null, event.created,
      ],
    );
    if (!sub || sub.status === 'canceled' || event.created < Number(sub.state_as_of)) return 'processed';
    const line = ((invoice.lines as Obj | undefined)?.data as Obj[] | undefined)?.[0];
    const periodEnd = Number((line?.period as Obj | undefined)?.end) || null;
    if (paid && ['past_due', 'unpaid', 'incomplete', 'active', 'trialing'].includes(sub.status)) {
      await q.query(
        `UPDATE subscriptions SET status = 'active', past_due_since = NULL, state_as_of = $2, updated_at = now(),
                current_period_end = GREATEST(current_period_end, to_timestamp($3)) WHERE id = $1`,
        [sub.id, event.created, periodEnd],
      );
    } else if (!paid && (sub.status === 'active' || sub.status === 'trialing')) {
      await q.query(`UPDATE subscriptions SET status = 'past_due', past_due_since = to_timestamp($2), state_as_of = $2, updated_at = now() WHERE id = $1`, [sub.id, event.created]);
    }
    return 'processed';
  }
}
