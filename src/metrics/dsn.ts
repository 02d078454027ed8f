import { Registry } from './registry.js';

/**
 * Metrics of asynchronous bounce (DSN) ingestion, in a registry shared by the process, so the DSN
 * code can count without being wired to the relay. GET /metrics renders it with the relay's metrics.
 */
export const dsnRegistry = new Registry();

/**
 * DSNs read, by result: "recorded" (failure reports whose recipients became events), "ignored"
 * (auto-replies, feedback reports and messages without a failed recipient), "invalid" (messages
 * that could not be parsed). The DSN code calls `dsnIngested.inc({ result })` once per message.
 */
export const dsnIngested = dsnRegistry.counter('bouncegate_dsn_ingested_total', 'Delivery status notifications read, by result', ['result']);

/** Recipients recorded from ingested DSNs, by the action of their event ("bounced", "deferred", "delivered", ...). */
export const dsnRecipients = dsnRegistry.counter(
  'bouncegate_dsn_recipients_total',
  'Recipients recorded from ingested delivery status notifications, by event action',
  ['action'],
);
