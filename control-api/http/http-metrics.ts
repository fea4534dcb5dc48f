import type { FastifyInstance } from 'fastify';
import { Counter, Histogram, type Registry } from 'prom-client';

const LABELS = ['service', 'method', 'route', 'status_code'] as const;

/** Reuses a metric already in the registry (one-process mode registers several services into one). */
function counter(registry: Registry): Counter<(typeof LABELS)[number]> {
  const existing = registry.getSingleMetric('http_requests_total');
  if (existing) return existing as Counter<(typeof LABELS)[number]>;
  return new Counter({ name: 'http_requests_total', help: 'HTTP requests answered', labelNames: LABELS, registers: [registry] });
}

function histogram(registry: Registry): Histogram<(typeof LABELS)[number]> {
  const existing = registry.getSingleMetric('http_request_duration_seconds');
  if (existing) return existing as Histogram<(typeof LABELS)[number]>;
  return new Histogram({
    name: 'http_request_duration_seconds',
    help: 'Time from request received to response sent',
    labelNames: LABELS,
    // argon2 logins sit around 50–100 ms; everything else should be in the low buckets.
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
}

/**
 * Counts and times every response. `route` is the route pattern (`/v1/live-streams/:id`), never the
 * raw URL, so ids and probes of unknown paths cannot explode the label cardinality.
 */
export function installHttpMetrics(app: FastifyInstance, registry: Registry, service: string): void {
  const requests = counter(registry);
  const duration = histogram(registry);
  app.addHook('onResponse', async (req, reply) => {
    const labels = {
      service,
      method: req.method,
      route: req.routeOptions.url ?? 'unmatched',
      status_code: String(reply.statusCode),
    };
    requests.inc(labels);
    duration.observe(labels, reply.elapsedTime / 1000);
  });
}
