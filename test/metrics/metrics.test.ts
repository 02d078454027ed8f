import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { newQueueId } from '../../src/core/ids.js';
import { domainClass } from '../../src/metrics/domain-class.js';
import { dsnIngested } from '../../src/metrics/dsn.js';
import { Registry } from '../../src/metrics/registry.js';
import { createRelayMetrics } from '../../src/metrics/relay-metrics.js';
import { Database } from '../../src/store/db.js';
import { EventStore } from '../../src/store/events.js';
import { QueueStore } from '../../src/store/queue.js';
import { SuppressionStore } from '../../src/store/suppressions.js';
import { enqueue, makeEvent } from '../admin/fixture.js';
import { makeTempDir } from '../helpers/tmp.js';

/** Parses the text exposition format into sample name with labels → value, checking each line's form. */
function parseExposition(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  const types = new Map<string, string>();
  for (const line of text.trimEnd().split('\n')) {
    const comment = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.+)$/.exec(line);
    if (comment) {
      if (comment[1] === 'TYPE') {
        types.set(comment[2] ?? '', comment[3] ?? '');
      }
      continue;
    }
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*",?)*\})? (\S+)$/.exec(line);
    if (!sample) {
      throw new Error(`not a valid exposition line: ${line}`);
    }
    const base = (sample[1] ?? '').replace(/_(bucket|sum|count)$/, '');
    if (!types.has(sample[1] ?? '') && !types.has(base)) {
      throw new Error(`sample before its TYPE line: ${line}`);
    }
    samples.set(`${sample[1]}${sample[2] ?? ''}`, Number(sample[3] === '+Inf' ? Infinity : sample[3]));
  }
  return samples;
}

describe('metrics registry', () => {
  it('renders counters, gauges and histograms', async () => {
    const registry = new Registry();
    const counter = registry.counter('test_total', 'A counter', ['kind']);
    const gauge = registry.gauge('test_level', 'A gauge');
    const histogram = registry.histogram('test_seconds', 'A histogram', [1, 10]);
    counter.inc({ kind: 'a "quoted"\nvalue' });
    counter.inc({ kind: 'b' }, 2);
    gauge.set({}, 7);
    histogram.observe(0.5);
    histogram.observe(5);
    histogram.observe(50);
    // A value on a bound counts in that bound's bucket.
    histogram.observe(1);

    const samples = parseExposition(await registry.render());
    expect(samples.get('test_total{kind="a \\"quoted\\"\\nvalue"}')).toBe(1);
    expect(samples.get('test_total{kind="b"}')).toBe(2);
    expect(samples.get('test_level')).toBe(7);
    expect(samples.get('test_seconds_bucket{le="1"}')).toBe(2);
    expect(samples.get('test_seconds_bucket{le="10"}')).toBe(3);
    expect(samples.get('test_seconds_bucket{le="+Inf"}')).toBe(4);
    expect(samples.get('test_seconds_sum')).toBe(56.5);
    expect(samples.get('test_seconds_count')).toBe(4);
    expect(() => registry.counter('test_total', 'again')).toThrow(/registered twice/);
  });

  it('classes domains by MX suffix', () => {
    expect(domainClass('tenant-com.mail.protection.outlook.com', 'a@tenant.com')).toBe('outlook');
    expect(domainClass('gmail-smtp-in.l.google.com', 'a@gmail.com')).toBe('gmail');
    expect(domainClass('aspmx.l.google.com', 'a@company.example')).toBe('gmail');
    expect(domainClass('mta5.am0.yahoodns.net', 'a@yahoo.com')).toBe('yahoo');
    expect(domainClass('mx01.mail.icloud.com', 'a@me.com')).toBe('icloud');
    expect(domainClass(null, 'a@Hotmail.com')).toBe('outlook');
    expect(domainClass('mx.company.example', 'a@company.example')).toBe('other');
  });

  it('classes by recipient when the MX is unknown', () => {
    // The class of an MX host is cached, also when it is unknown. The recipient domain still decides then.
    expect(domainClass('mx.shared.example', 'a@gmail.com')).toBe('gmail');
    expect(domainClass('mx.shared.example', 'a@company.example')).toBe('other');
    expect(domainClass('mx.shared.example', 'a@icloud.com')).toBe('icloud');
    expect(domainClass('GMAIL-SMTP-IN.L.GOOGLE.COM.', 'a@company.example')).toBe('gmail');
    expect(domainClass('GMAIL-SMTP-IN.L.GOOGLE.COM.', 'a@company.example')).toBe('gmail');
  });
});

describe('relay metrics', () => {
  let dir: ReturnType<typeof makeTempDir>;
  let db: Database;

  beforeEach(async () => {
    dir = makeTempDir();
    db = await Database.open(dir.path);
  });

  afterEach(async () => {
    await db.close();
    dir.remove();
  });

  it('counts events and reads queue and list sizes', async () => {
    const events = new EventStore(db, { caseSensitiveLocalPart: false });
    const queue = new QueueStore(db);
    const suppressions = new SuppressionStore(db, { caseSensitiveLocalPart: false });
    const accepted = Date.parse('2026-01-01T00:00:00.000Z');
    const metrics = createRelayMetrics({ events, queue, suppressions, now: () => accepted + 90_000 });

    const queueId = newQueueId(accepted);
    await enqueue(queue, queueId, [{ recipient: 'wait@example.com' }]);
    await suppressions.addManual('x@example.com', 'complaint', null, 'test');
    await events.append([
      makeEvent({ queueId, time: new Date(accepted + 30_000).toISOString(), action: 'delivered', reason: 'delivered', mx: 'gmail-smtp-in.l.google.com' }),
      makeEvent({ queueId, time: new Date(accepted + 40_000).toISOString(), mx: 'x.mail.protection.outlook.com' }),
      makeEvent({ queueId, time: new Date(accepted + 40_000).toISOString(), reason: 'Weird Reason!' }),
    ]);
    dsnIngested.inc({ result: 'recorded' });

    const samples = parseExposition(await metrics.render());
    expect(samples.get('bouncegate_events_total{action="delivered",reason="delivered",domain_class="gmail"}')).toBe(1);
    expect(samples.get('bouncegate_events_total{action="bounced",reason="userunknown",domain_class="outlook"}')).toBe(1);
    expect(samples.get('bouncegate_events_total{action="bounced",reason="other",domain_class="other"}')).toBe(1);
    expect(samples.get('bouncegate_delivery_latency_seconds_count')).toBe(1);
    expect(samples.get('bouncegate_delivery_latency_seconds_sum')).toBe(30);
    expect(samples.get('bouncegate_delivery_latency_seconds_bucket{le="60"}')).toBe(1);
    expect(samples.get('bouncegate_delivery_latency_seconds_bucket{le="15"}')).toBe(0);
    expect(samples.get('bouncegate_queue_recipients{state="due"}')).toBe(1);
    expect(samples.get('bouncegate_queue_recipients{state="held"}')).toBe(0);
    expect(samples.get('bouncegate_queue_oldest_age_seconds')).toBe(90);
    expect(samples.get('bouncegate_suppressions')).toBe(1);
    expect(samples.get('bouncegate_dsn_ingested_total{result="recorded"}')).toBeGreaterThanOrEqual(1);

    metrics.close();
    await events.append([makeEvent({ queueId })]);
    const after = parseExposition(await metrics.render());
    expect(after.get('bouncegate_events_total{action="bounced",reason="userunknown",domain_class="other"}')).toBeUndefined();
  });
  it('counts runs of alike events', async () => {
    const events = new EventStore(db, { caseSensitiveLocalPart: false });
    const metrics = createRelayMetrics({ events, queue: new QueueStore(db), suppressions: new SuppressionStore(db, { caseSensitiveLocalPart: false }) });
    const accepted = Date.parse('2026-01-01T00:00:00.000Z');
    const first = newQueueId(accepted);
    const second = newQueueId(accepted + 10_000);
    const delivered = (queueId: string, recipient: string, after: number) =>
      makeEvent({ queueId, recipient, mx: null, action: 'delivered', reason: 'delivered', time: new Date(accepted + after).toISOString() });
    await events.append([
      delivered(first, 'a@gmail.com', 20_000),
      delivered(first, 'b@gmail.com', 20_000),
      delivered(first, 'c@other.example', 20_000),
      makeEvent({ queueId: second, recipient: 'd@other.example', mx: null, action: 'deferred', reason: 'delivered' }),
      delivered(second, 'e@other.example', 20_000),
    ]);

    const samples = parseExposition(await metrics.render());
    expect(samples.get('bouncegate_events_total{action="delivered",reason="delivered",domain_class="gmail"}')).toBe(2);
    expect(samples.get('bouncegate_events_total{action="delivered",reason="delivered",domain_class="other"}')).toBe(2);
    expect(samples.get('bouncegate_events_total{action="deferred",reason="delivered",domain_class="other"}')).toBe(1);
    // 20 s after the first acceptance three times, then 10 s after the second.
    expect(samples.get('bouncegate_delivery_latency_seconds_sum')).toBe(70);
    expect(samples.get('bouncegate_delivery_latency_seconds_count')).toBe(4);
    expect(samples.get('bouncegate_delivery_latency_seconds_bucket{le="15"}')).toBe(1);
    expect(samples.get('bouncegate_delivery_latency_seconds_bucket{le="60"}')).toBe(4);
    metrics.close();
  });
});
