/** control-api's public face: the server, the testable app builder, its migrations and contract. */
export { ControlApiServer } from './control-api-server.js';
export { ControlApiClient } from './control-api-client.js';
export { buildControlApi, createServices, type ControlApiBus, type ControlApiBusTopics, type ControlApiDeps } from './app.js';
export { controlApiMigrations } from './migrations.js';
export { QosAggregator, QOS_TOPIC } from './analytics/index.js';
export { toLiveStreamUrls, toAssetPlaybackUrls } from './playback/urls.js';
export * from './contract.js';
export { runCli, type CliIo } from './cli/upload-cli.js';
export {
  popularity, rankMetrics, recommendHybrid, scoreContent, scoreItemKnn, toInteractions, topN, trainContent, trainHybrid, trainItemKnn,
  type Interactions, type RecommenderOptions,
} from './engagement/recommender.js';
