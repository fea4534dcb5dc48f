/** Child-process entry: one origin on Redis (JSON options in argv[2]), reporting its port when it listens. */
import { FsBlobStore, RedisLiveState, createLogger, createMetricsRegistry, loadConfig } from '../../platform/index.js';
import { LiveCatalog } from '../../packager/index.js';
import { OriginServer } from '../../origin/index.js';
import { reportReady } from '../edge/children.js';

/** What the parent passes. */
export interface OriginChildOptions {
  redisUrl: string;
  keyPrefix: string;
  dataDir: string;
}

const o = JSON.parse(process.argv[2] ?? '{}') as OriginChildOptions;
const logger = createLogger('warn');
const state = new RedisLiveState({ logger }, { url: o.redisUrl, keyPrefix: o.keyPrefix });
const config = loadConfig({ NODE_ENV: 'test', ORIGIN_PORT: '0', BIND_HOST: '127.0.0.1', DATA_DIR: o.dataDir });
const origin = new OriginServer({ blobs: new FsBlobStore(o.dataDir), catalog: new LiveCatalog(state), logger, metrics: createMetricsRegistry(false) }, config);
await origin.start();
reportReady(origin.port, async () => {
  await origin.close();
  await state.close();
});
