import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { AppError, type Registry, type Sql } from '../../platform/index.js';
import { errorResponses } from './common-schemas.js';

/** What the health and metrics routes look at. */
export interface HealthOptions {
  sql: Sql;
  metrics: Registry;
  /** Extra readiness check; one-process mode passes one that covers every service. */
  ready?: () => boolean | Promise<boolean>;
}

/** `GET /healthz` (readiness: the database answers and `ready()` agrees) and `GET /metrics`. */
export const healthRoutes: FastifyPluginAsyncTypebox<HealthOptions> = async (app, { sql, metrics, ready }) => {
  app.get(
    '/healthz',
    {
      schema: {
        tags: ['operations'],
        summary: 'Ready to take work: 200, otherwise 503 NOT_READY',
        response: { 200: Type.Object({ status: Type.Literal('ok') }), ...errorResponses },
      },
      logLevel: 'warn',
    },
    async () => {
      let ok: boolean;
      try {
        await sql.query('SELECT 1');
        ok = ready ? await ready() : true;
      } catch (err) {
        app.log.warn({ err }, 'readiness check failed');
        ok = false;
      }
      if (!ok) throw new AppError(503, 'NOT_READY', 'not ready to take work yet');
      return { status: 'ok' as const };
    },
  );

  app.get(
    '/metrics',
    {
      schema: {
        tags: ['operations'],
        summary: 'Prometheus metrics (text exposition format)',
        response: { 200: Type.String({ description: 'text/plain; version=0.0.4' }) },
      },
      logLevel: 'warn',
    },
    async (_req, reply) => reply.type(metrics.contentType).send(await metrics.metrics()),
  );
};
