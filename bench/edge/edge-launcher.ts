/**
 * Child-process entry: starts our EdgeServer with the EdgeConfig JSON in argv[2], wired as the
 * composition root wires it (pino logger, a registry with process metrics), and reports its port.
 */
import { EdgeServer, type EdgeConfig } from '../../edge-cache/index.js';
import { createLogger, createMetricsRegistry } from '../../platform/index.js';
import { reportReady } from './children.js';

const config = JSON.parse(process.argv[2] ?? '{}') as EdgeConfig & { logLevel?: string };
// Logs to stderr, so they show next to the benchmark's own output.
const logger = createLogger(config.logLevel ?? 'warn', process.stderr);
const edge = new EdgeServer({ logger, metrics: createMetricsRegistry() }, config);
await edge.start();
reportReady(edge.address().port, () => edge.close());
