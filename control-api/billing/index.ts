/**
 * The billing domain's face: plans, the payment provider (Stripe or the built-in one), subscriptions
 * and payments as provider events describe them, and devices. Entitlements (playback/) read it
 * through `BillingService.current` and `PlanService.tierOf`.
 */
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
  return { plans, billing, devices: new DeviceService({ sql: deps.sql, onRemove: deps.onDeviceRemoved }), local };
}
