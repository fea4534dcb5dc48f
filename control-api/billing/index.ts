/**
 * The billing domain's face: plans, the payment provider (Stripe or the built-in one), subscriptions
 * and payments as provider events describe them, and devices. Entitlements (playback/) read it
 * through `BillingService.current` and `PlanService.tierOf`.
 */
import { Gauge } from 'prom-client';
import type { Config, Logger, Registry, Sql } from '../../platform/index.js';
import { toOrigin } from '../playback/urls.js';
import { DeviceService } from './devices.js';
import { LocalProvider } from './local-provider.js';
import { StripeProvider, stripeClient, type PaymentProvider } from './payment-provider.js';
import { PlanService } from './plans.js';
import { BillingService } from './subscriptions.js';

export { billingMigrations } from './migrations.js';
export { billingRoutes, type BillingRouteDeps } from './routes.js';
export type { DeviceInput } from './devices.js';

export interface BillingDomain {
  plans: PlanService;
  billing: BillingService;
  devices: DeviceService;
  /** The built-in provider's pages, when it is the provider. */
  local?: LocalProvider;
}

export function createBilling(
  deps: { sql: Sql; logger: Logger; metrics?: Registry; accounts: { get(id: string): Promise<{ id: string; email: string } | undefined> }; onDeviceRemoved: (accountId: string, deviceId: string) => Promise<void> },
  config: Config,
): BillingDomain {
  const plans = new PlanService({ sql: deps.sql });
  const local = config.billing.provider === 'local' ? new LocalProvider({ sql: deps.sql, plans, apiOrigin: toOrigin('http', config.publicHost, config.ports.api) }) : undefined;
  const provider: PaymentProvider = local ?? new StripeProvider(stripeClient(config.billing.stripeSecretKey!, config.billing.stripeApiUrl));
  const billing = new BillingService({ sql: deps.sql, plans, provider, logger: deps.logger.child({ mod: 'billing' }), accounts: deps.accounts, metrics: deps.metrics }, config.billing);
  local?.attach(billing);
  if (deps.metrics) registerBusinessMetrics(deps.sql, deps.metrics);
  return { plans, billing, devices: new DeviceService({ sql: deps.sql, onRemove: deps.onDeviceRemoved }), local };
}

/**
 * The business at a glance, read from the database at scrape time (so every control-api process
 * reports the same numbers: dashboards take max()): accounts, subscriptions by plan and status, and
 * payments by status.
 */
export function registerBusinessMetrics(sql: Sql, registry: Registry): void {
  if (registry.getSingleMetric('business_accounts')) return;
  const registers = [registry];
  new Gauge({
    name: 'business_accounts',
    help: 'Accounts that exist (signups per hour are its increase)',
    registers,
    async collect() {
      const [row] = await sql.query<{ n: number }>(`SELECT count(*)::int AS n FROM accounts`).catch(() => [{ n: 0 }]);
      this.set(Number(row?.n ?? 0));
    },
  });
  new Gauge({
    name: 'business_subscriptions',
    help: 'Subscriptions by plan and status (active, trialing, past_due, canceled, ...)',
    labelNames: ['plan', 'status'],
    registers,
    async collect() {
      const rows = await sql.query<{ plan_id: string; status: string; n: number }>(`SELECT plan_id, status, count(*)::int AS n FROM subscriptions GROUP BY 1, 2`).catch(() => []);
      this.reset();
      // Every plan shows up as active, 0 or not, so "no subscribers yet" is a value.
      const plans = await sql.query<{ id: string }>(`SELECT id FROM plans WHERE active`).catch(() => []);
      for (const p of plans) this.set({ plan: p.id, status: 'active' }, 0);
      for (const r of rows) this.set({ plan: r.plan_id, status: r.status }, Number(r.n));
    },
  });
  new Gauge({
    name: 'business_payments',
    help: 'Payments recorded, by status (succeeded, failed); their increase is payments per period',
    labelNames: ['status'],
    registers,
    async collect() {
      const rows = await sql.query<{ status: string; n: number }>(`SELECT status, count(*)::int AS n FROM payments GROUP BY 1`).catch(() => []);
      this.reset();
      for (const s of ['succeeded', 'failed']) this.set({ status: s }, Number(rows.find((r) => r.status === s)?.n ?? 0));
    },
  });
}
