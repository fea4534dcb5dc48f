/**
 * Viewer QoS and creators' analytics: beacons (`POST /v1/qos`) travel the bus to the aggregator
 * (`node dist/main.js analytics`, a consumer group), which adds them to per-view rows and Prometheus
 * histograms; `GET /v1/assets/:id/analytics` and `/v1/live-streams/:id/analytics` read the views.
 */
export { analyticsMigrations } from './migrations.js';
export { analyticsRoutes, type AnalyticsRouteDeps } from './routes.js';
export { QosAggregator, QOS_TOPIC, mediaAnalytics, type QosBatch, type MediaAnalytics } from './qos.js';
