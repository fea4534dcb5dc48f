import fs from 'node:fs';
import { Gauge, Registry, collectDefaultMetrics } from 'prom-client';

/** The package version (package.json beside the sources or the build). */
const BUILD_VERSION = (() => {
  for (const rel of ['../package.json', '../../package.json']) {
    try {
      return String((JSON.parse(fs.readFileSync(new URL(rel, import.meta.url), 'utf8')) as { version?: string }).version ?? 'unknown');
    } catch {
      // try the next location
    }
  }
  return 'unknown';
})();

/** A fresh Prometheus registry with process metrics; each process (or test) owns one, never the global. */
export function createMetricsRegistry(defaults = true): Registry {
  const registry = new Registry();
  if (defaults) {
    collectDefaultMetrics({ register: registry });
    // Which build answers: a constant 1 labelled with the version (the Prometheus *_build_info idiom).
    new Gauge({ name: 'streamforge_build_info', help: 'The running build: version and Node.js version', labelNames: ['version', 'node_version'], registers: [registry] })
      .set({ version: BUILD_VERSION, node_version: process.version }, 1);
  }
  return registry;
}

export type { Registry };
