/** Public face of the ingest module: the RTMP ingest service and its contract. */
export { IngestServer, DEFAULT_INGEST_TUNING, type IngestServerConfig, type IngestServerDeps, type IngestTuning, type IngestBus, type StreamControlTopics } from './ingest-server.js';
export type { IngestTopics, IngestTopic, PublishAuthorizer, PublishDecision, PublishMeta, IngestVideoInfo, IngestAudioInfo, StreamEncryption } from './contract.js';
export { PUBLISH_AUTHORIZE_PATH } from './contract.js';
