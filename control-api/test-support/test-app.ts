import crypto from 'node:crypto';
import type { Writable } from 'node:stream';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import {
  createLogger, createMetricsRegistry, loadConfig, MemoryBus, MemoryLiveState, migrate, openPglite,
  type Config, type LiveState, type Registry, type Sql,
} from '../../platform/index.js';
import { buildControlApi, createServices, type ControlApiBusTopics } from '../app.js';
import type { Services } from '../http/route-context.js';
import type { LiveStreamView, TokenPair } from '../contract.js';
import { controlApiMigrations } from '../migrations.js';

/** The environment every control-api test runs with (JWT secret and internal token fixed, so tests can forge). */
export const TEST_ENV: Record<string, string> = {
  NODE_ENV: 'test',
  JWT_SECRET: 'test-secret-test-secret-test-secret-0123',
  INTERNAL_TOKEN: 'internal-test-token',
  PUBLIC_HOST: 'media.example.test',
  API_PORT: '0',
  BIND_HOST: '127.0.0.1',
  LOGIN_MAX_ATTEMPTS: '100',
  // Every test account signs up from 127.0.0.1.
  SIGNUP_MAX_PER_IP: '100000',
};

/** A password that passes the policy. */
export const GOOD_PASSWORD = 'correct-horse-42';

/** A migrated control-api app over an in-memory PGlite (or the given Sql), with helpers. */
export interface TestApp {
  app: FastifyInstance;
  sql: Sql;
  config: Config;
  bus: MemoryBus<ControlApiBusTopics>;
  metrics: Registry;
  /** Services over the same ports, for the calls the live pipeline makes in process. */
  services: Services;
  /** Creates an account and logs it in. */
  signup(email?: string): Promise<{ accountId: string; email: string; tokens: TokenPair; auth: { authorization: string } }>;
  /** Creates a live stream as the given account. */
  createStream(auth: { authorization: string }, body?: object): Promise<LiveStreamView>;
  close(): Promise<void>;
}

/** Builds the app like main.ts does, with memory adapters; `logStream` captures logs at info level. */
export async function createTestApp(opts: { env?: Record<string, string>; sql?: Sql; liveState?: LiveState; logStream?: Writable } = {}): Promise<TestApp> {
  const config = loadConfig({ ...TEST_ENV, ...opts.env });
  const sql = opts.sql ?? (await openPglite());
  await migrate(sql, controlApiMigrations);
  const logger = opts.logStream ? createLogger('info', opts.logStream) : createLogger('silent');
  const liveState = opts.liveState ?? new MemoryLiveState();
  const bus = new MemoryBus<ControlApiBusTopics>({ logger });
  const metrics = createMetricsRegistry(false);
  const deps = { sql, liveState, logger, metrics, bus };
  const services = createServices(deps, config);
  const app = await buildControlApi({ ...deps, services }, config);
  const ok = (res: LightMyRequestResponse, status: number) => {
    if (res.statusCode !== status) throw new Error(`expected ${status}, got ${res.statusCode}: ${res.body}`);
    return res.json();
  };
  return {
    app, sql, config, bus, metrics,
    services,
    async signup(email = `user-${crypto.randomUUID()}@example.test`) {
      const created = ok(await app.inject({ method: 'POST', url: '/v1/accounts', payload: { email, password: GOOD_PASSWORD } }), 201);
      const tokens = ok(await app.inject({ method: 'POST', url: '/v1/auth/login', payload: { email, password: GOOD_PASSWORD } }), 200) as TokenPair;
      return { accountId: created.id as string, email, tokens, auth: { authorization: `Bearer ${tokens.accessToken}` } };
    },
    async createStream(auth, body = { title: 'Test stream' }) {
      return ok(await app.inject({ method: 'POST', url: '/v1/live-streams', headers: auth, payload: body }), 201) as LiveStreamView;
    },
    async close() {
      await app.close();
      await bus.close();
      if (!opts.liveState) await liveState.close();
      if (!opts.sql) await sql.close();
    },
  };
}
