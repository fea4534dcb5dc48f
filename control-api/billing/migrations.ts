import type { Migration } from '../../platform/index.js';

/**
 * Billing's schema: plans (seeded basic / standard / premium), the payment provider's customers and
 * subscriptions as webhooks last described them, payments, every provider event by id (stored in the
 * transaction that acts on it, so a retried delivery is processed once), the built-in provider's
 * checkout and portal sessions, and the devices that play.
 */
export const billingMigrations: Migration[] = [
  {
    id: 'control_api_0018_billing',
    up: `
      CREATE TABLE plans (
        id text PRIMARY KEY CHECK (id ~ '^[a-z0-9]+(-[a-z0-9]+)*$'),
        name text NOT NULL,
        tier integer NOT NULL CHECK (tier >= 0),
        price_minor integer NOT NULL CHECK (price_minor >= 0),
        currency text NOT NULL CHECK (currency ~ '^[a-z]{3}$'),
        billing_interval text NOT NULL CHECK (billing_interval IN ('month', 'year')),
        streaming_limit integer NOT NULL CHECK (streaming_limit >= 1),
        max_resolution integer NOT NULL CHECK (max_resolution >= 144),
        downloads_allowed boolean NOT NULL,
        download_devices integer NOT NULL CHECK (download_devices >= 0),
        download_days integer NOT NULL CHECK (download_days >= 0),
        stripe_price_id text UNIQUE,
        active boolean NOT NULL DEFAULT true,
        created_at timestamptz NOT NULL DEFAULT now()
      );
      INSERT INTO plans (id, name, tier, price_minor, currency, billing_interval, streaming_limit, max_resolution, downloads_allowed, download_devices, download_days) VALUES
        ('basic', 'Basic', 1, 799, 'usd', 'month', 1, 720, false, 0, 0),
        ('standard', 'Standard', 2, 1299, 'usd', 'month', 2, 1080, true, 2, 7),
        ('premium', 'Premium', 3, 1799, 'usd', 'month', 4, 2160, true, 6, 30);
      CREATE TABLE billing_customers (
        account_id uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
        provider text NOT NULL,
        customer_id text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (account_id, provider),
        UNIQUE (provider, customer_id)
      );
      CREATE TABLE subscriptions (
        id text PRIMARY KEY,
        account_id uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
        provider text NOT NULL,
        plan_id text NOT NULL REFERENCES plans (id),
        status text NOT NULL CHECK (status IN ('incomplete', 'incomplete_expired', 'trialing', 'active', 'past_due', 'canceled', 'unpaid', 'paused')),
        current_period_end timestamptz,
        cancel_at_period_end boolean NOT NULL DEFAULT false,
        past_due_since timestamptz,
        state_as_of bigint NOT NULL,
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL
      );
      CREATE INDEX subscriptions_account ON subscriptions (account_id, created_at DESC);
      CREATE TABLE payments (
        id text PRIMARY KEY,
        account_id uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
        subscription_id text,
        amount_minor integer NOT NULL,
        currency text NOT NULL,
        method text,
        status text NOT NULL CHECK (status IN ('succeeded', 'failed')),
        transaction_id text,
        created_at timestamptz NOT NULL,
        recorded_at timestamptz NOT NULL DEFAULT clock_timestamp()
      );
      CREATE INDEX payments_account ON payments (account_id, created_at DESC, recorded_at DESC);
      CREATE TABLE billing_events (
        id text PRIMARY KEY,
        provider text NOT NULL,
        type text NOT NULL,
        created bigint NOT NULL,
        processed_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE TABLE local_billing_sessions (
        id text PRIMARY KEY,
        kind text NOT NULL CHECK (kind IN ('checkout', 'portal')),
        account_id uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
        plan_id text REFERENCES plans (id),
        status text NOT NULL CHECK (status IN ('open', 'complete')),
        return_url text NOT NULL,
        created_at timestamptz NOT NULL,
        expires_at timestamptz NOT NULL
      );
      CREATE TABLE devices (
        account_id uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
        id text NOT NULL,
        type text NOT NULL,
        name text NOT NULL,
        created_at timestamptz NOT NULL,
        last_seen_at timestamptz NOT NULL,
        PRIMARY KEY (account_id, id)
      );
    `,
  },
];
