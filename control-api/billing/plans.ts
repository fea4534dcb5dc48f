import type { Sql } from '../../platform/index.js';
import { conflict, notFound } from '../http/http-errors.js';

export interface PlanRow {
  id: string;
  name: string;
  tier: number;
  price_minor: number;
  currency: string;
  billing_interval: 'month' | 'year';
  streaming_limit: number;
  max_resolution: number;
  downloads_allowed: boolean;
  download_devices: number;
  download_days: number;
  stripe_price_id: string | null;
  active: boolean;
}

/** A plan as clients see it (`GET /v1/plans`). */
export interface PlanView {
  id: string;
  name: string;
  /** Price per interval in the currency's major unit (9.99); `unitAmount` is the same in minor units (999), as Stripe counts. */
  price: number;
  unitAmount: number;
  currency: string;
  interval: 'month' | 'year';
  /** Plans are ordered: a plan unlocks every title whose requiredPlan has a tier at or below its own. */
  tier: number;
  streamingLimit: number;
  /** The tallest rendition its viewers get, in lines (720, 1080, 2160). */
  maxResolution: number;
  downloads: { allowed: boolean; devices: number; days: number };
  active: boolean;
}

/** Currencies without minor units (ISO 4217 exponent 0) among the ones Stripe settles. */
const ZERO_DECIMAL = new Set(['bif', 'clp', 'djf', 'gnf', 'jpy', 'kmf', 'krw', 'mga', 'pyg', 'rwf', 'ugx', 'vnd', 'vuv', 'xaf', 'xof', 'xpf']);

export function toPlanView(row: PlanRow): PlanView {
  return {
    id: row.id,
    name: row.name,
    price: ZERO_DECIMAL.has(row.currency) ? row.price_minor : row.price_minor / 100,
    unitAmount: row.price_minor,
    currency: row.currency,
    interval: row.billing_interval,
    tier: row.tier,
    streamingLimit: row.streaming_limit,
    maxResolution: row.max_resolution,
    downloads: { allowed: row.downloads_allowed, devices: row.download_devices, days: row.download_days },
    active: row.active,
  };
}

/** What an admin may set on a plan. */
export interface PlanInput {
  name?: string;
  tier?: number;
  unitAmount?: number;
  currency?: string;
  interval?: 'month' | 'year';
  streamingLimit?: number;
  maxResolution?: number;
  downloads?: { allowed: boolean; devices: number; days: number };
  stripePriceId?: string | null;
  active?: boolean;
}

/** The plans (admin-managed; seeded basic / standard / premium). */
export class PlanService {
  constructor(private readonly deps: { sql: Sql }) {}

  /** Every plan, cheapest tier first; `includeInactive` for admins. */
  async list(includeInactive = false): Promise<PlanView[]> {
    const rows = await this.deps.sql.query<PlanRow>(`SELECT * FROM plans ${includeInactive ? '' : 'WHERE active'} ORDER BY tier, price_minor, id`);
    return rows.map(toPlanView);
  }

  async row(id: string, q: Sql = this.deps.sql): Promise<PlanRow> {
    const [row] = await q.query<PlanRow>(`SELECT * FROM plans WHERE id = $1`, [id]);
    if (!row) throw notFound('plan');
    return row;
  }

  /** The plan a Stripe price belongs to (subscriptions made with a dashboard price name it so). */
  async byStripePrice(priceId: string, q: Sql = this.deps.sql): Promise<PlanRow | undefined> {
    const [row] = await q.query<PlanRow>(`SELECT * FROM plans WHERE stripe_price_id = $1`, [priceId]);
    return row;
  }

  /** The tier of a title's `requiredPlan`; a plan name nobody defines is unreachable (tier ∞). */
  async tierOf(planId: string): Promise<number> {
    const [row] = await this.deps.sql.query<{ tier: number }>(`SELECT tier FROM plans WHERE id = $1`, [planId]);
    return row ? row.tier : Number.POSITIVE_INFINITY;
  }

  async create(input: PlanInput & { id: string; name: string; tier: number; unitAmount: number; currency: string; interval: 'month' | 'year'; streamingLimit: number; maxResolution: number }): Promise<PlanView> {
    const d = input.downloads ?? { allowed: false, devices: 0, days: 0 };
    const rows = await this.deps.sql.query<PlanRow>(
      `INSERT INTO plans (id, name, tier, price_minor, currency, billing_interval, streaming_limit, max_resolution, downloads_allowed, download_devices, download_days, stripe_price_id, active)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) ON CONFLICT (id) DO NOTHING RETURNING *`,
      [input.id, input.name, input.tier, input.unitAmount, input.currency.toLowerCase(), input.interval, input.streamingLimit, input.maxResolution, d.allowed, d.devices, d.days, input.stripePriceId ?? null, input.active ?? true],
    );
    if (!rows[0]) throw conflict('PLAN_EXISTS', `a plan with id ${input.id} exists`);
    return toPlanView(rows[0]);
  }

  /** Changes a plan; existing subscribers keep their plan id and get the new limits at once. */
  async update(id: string, patch: PlanInput): Promise<PlanView> {
    const row = await this.row(id);
    const d = patch.downloads ?? { allowed: row.downloads_allowed, devices: row.download_devices, days: row.download_days };
    const [updated] = await this.deps.sql.query<PlanRow>(
      `UPDATE plans SET name = $2, tier = $3, price_minor = $4, currency = $5, billing_interval = $6, streaming_limit = $7, max_resolution = $8,
              downloads_allowed = $9, download_devices = $10, download_days = $11, stripe_price_id = $12, active = $13 WHERE id = $1 RETURNING *`,
      [
        id, patch.name ?? row.name, patch.tier ?? row.tier, patch.unitAmount ?? row.price_minor, (patch.currency ?? row.currency).toLowerCase(),
        patch.interval ?? row.billing_interval, patch.streamingLimit ?? row.streaming_limit, patch.maxResolution ?? row.max_resolution,
        d.allowed, d.devices, d.days, patch.stripePriceId === undefined ? row.stripe_price_id : patch.stripePriceId, patch.active ?? row.active,
      ],
    );
    return toPlanView(updated);
  }
}
