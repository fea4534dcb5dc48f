import { Registry, collectDefaultMetrics } from 'prom-client';

/** A fresh Prometheus registry with process metrics; each process (or test) owns one, never the global. */
export function createMetricsRegistry(defaults = true): Registry {
  const registry = new Registry();
  if (defaults) collectDefaultMetrics({ register: registry });
  return registry;
}

export type { Registry };
