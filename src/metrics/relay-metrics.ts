import { sameDomainPart } from '../core/address.js';
import type { DeliveryEvent } from '../core/types.js';
import type { EventStore } from '../store/events.js';
import { acceptanceTimeOf, type QueueStore } from '../store/queue.js';
import type { SuppressionStore } from '../store/suppressions.js';
import { domainClass } from './domain-class.js';
import { dsnRegistry } from './dsn.js';
import { Registry, type MetricsSource } from './registry.js';

/** Upper bounds of the delivery latency histogram, in seconds: 1 s up to 5 days. */
const LATENCY_BUCKETS_SECONDS = [1, 5, 15, 60, 300, 900, 3600, 4 * 3600, 12 * 3600, 86_400, 2 * 86_400, 5 * 86_400];
// Reason names of the classifier vocabulary and our own, e.g. "userunknown", "deleted-by-operator".
const REASON_LABEL = /^[a-z][a-z0-9-]{0,39}$/;

/** The relay's metrics: event counters fed by the event store, and queue and suppression gauges. */
export interface RelayMetrics extends MetricsSource {
  /** Stops counting events. */
  close(): void;
}

/**
 * Creates the relay's metrics. Counters start at zero when the relay starts, as Prometheus counters
 * do after a restart. The gauges are read from the stores at every scrape.
 *
 * NOTE: the queue and suppression gauges read every key of their indexes on each scrape, so a
 * queue or list of millions makes a scrape take seconds.
 */
export function createRelayMetrics(deps: {
  events: EventStore;
  queue: QueueStore;
  suppressions: SuppressionStore;
  /** Number of mass-suppression guard alerts raised since start. */
  guardAlerts?: () => number;
  now?: () => number;
}): RelayMetrics {
  const now = deps.now ?? Date.now;
  const registry = new Registry();
  const events = registry.counter('bouncegate_events_total', 'Delivery events recorded, by action, reason and provider class of the recipient', [
    'action',
    'reason',
    'domain_class',
  ]);
  const latency = registry.histogram(
    'bouncegate_delivery_latency_seconds',
    'Time from acceptance of a message to delivery to one recipient, in seconds',
    LATENCY_BUCKETS_SECONDS,
  );
  const waiting = registry.gauge('bouncegate_queue_recipients', 'Recipients waiting in the queue, by state', ['state']);
  const oldest = registry.gauge('bouncegate_queue_oldest_age_seconds', 'Age of the oldest message with a waiting recipient, in seconds; 0 when the queue is empty');
  const suppressed = registry.gauge('bouncegate_suppressions', 'Entries on the suppression list, active and pending');
  const alerts = registry.counter(
    'bouncegate_guard_alerts_total',
    'Times the mass-suppression guard paused a domain and held new suppressions for review',
  );
  let alertsCounted = 0;

  // The events of one attempt usually share their labels, queue id and time, so the series and times
  // found for an earlier event are used again while those fields match.
  let previous: DeliveryEvent | null = null;
  let series: { value: number } | null = null;
  let acceptedOf = '';
  let accepted: number | null = null;
  let deliveredAt = '';
  let delivered = Number.NaN;
  const unsubscribe = deps.events.subscribe((appended) => {
    // Equal latencies in a row, such as those of one attempt's recipients, are observed at once.
    let seconds = 0;
    let times = 0;
    for (const event of appended) {
      const last = previous;
      if (!series || !last || event.action !== last.action || event.reason !== last.reason || event.mx !== last.mx || !sameDomainPart(event.recipient, last.recipient)) {
        series = events.series({ action: event.action, reason: reasonLabel(event.reason), domain_class: domainClass(event.mx, event.recipient) });
      }
      series.value += 1;
      if (event.action === 'delivered') {
        if (event.queueId !== acceptedOf) {
          acceptedOf = event.queueId;
          accepted = acceptanceTimeOf(event.queueId);
        }
        if (event.time !== deliveredAt) {
          deliveredAt = event.time;
          delivered = Date.parse(event.time);
        }
        if (accepted !== null && delivered >= accepted) {
          const value = (delivered - accepted) / 1000;
          if (times > 0 && value !== seconds) {
            latency.observe(seconds, {}, times);
            times = 0;
          }
          seconds = value;
          times += 1;
        }
      }
      previous = event;
    }
    if (times > 0) {
      latency.observe(seconds, {}, times);
    }
  });

  registry.collect(async () => {
    const raised = deps.guardAlerts?.() ?? 0;
    if (raised > alertsCounted) {
      alerts.inc({}, raised - alertsCounted);
      alertsCounted = raised;
    }
    const stats = await deps.queue.waitingStats();
    waiting.set({ state: 'due' }, stats.due);
    waiting.set({ state: 'held' }, stats.held);
    const accepted = stats.oldestQueueId === null ? null : acceptanceTimeOf(stats.oldestQueueId);
    oldest.set({}, accepted === null ? 0 : Math.max(0, (now() - accepted) / 1000));
    suppressed.set({}, await deps.suppressions.count());
  });

  return {
    async render() {
      return `${await registry.render()}${await dsnRegistry.render()}`;
    },
    close: unsubscribe,
  };
}

function reasonLabel(reason: string): string {
  return REASON_LABEL.test(reason) ? reason : 'other';
}
