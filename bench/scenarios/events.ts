import { performance } from 'node:perf_hooks';
import type { Action } from '../../src/core/types.js';
import { Database } from '../../src/store/db.js';
import { EventStore, type NewEvent } from '../../src/store/events.js';
import type { Cleanup } from '../lib/cleanup.js';
import { folderBytes } from '../lib/disk.js';
import { percentile } from '../lib/stats.js';
import { timeConcurrent } from '../lib/timing.js';
import { mulberry32 } from './suppressions.js';

/** Events per append while loading (the store writes each call as one LevelDB batch). */
const LOAD_BATCH = 1_000;
/**
 * The generated history has a constant rate: the largest size spans 30 days, so every size has the
 * same number of events per day and a bigger store is a longer history.
 */
const HISTORY_DAYS = 30;
const DAY_MS = 24 * 3600 * 1000;
/** Distinct recipients per event: on average every recipient has ten events in the largest store. */
const EVENTS_PER_RECIPIENT = 10;
/** Recipient domains: one in five recipients is at big.example, the rest spread over 997 domains. */
const BIG_DOMAIN = 'big.example';
const OTHER_DOMAINS = 997;
/** Page size of the admin queries, the admin API's default. */
const PAGE_LIMIT = 100;
/** Windows of the domain segment queries, in days; 7 is the admin API's default window. */
const SEGMENT_WINDOW_DAYS = [1, 7, 30];

/** Throughput and CPU cost of EventStore.append for one pattern of calls. */
export interface AppendFigures {
  pattern: string;
  events: number;
  eventsPerSecond: number;
  /** CPU time of this process (all threads, including LevelDB's) per event, in µs. */
  cpuMicrosPerEvent: number;
}

/** Timing of one admin query, repeated. */
export interface QueryFigures {
  query: string;
  calls: number;
  /** Events (or, for segments, domains) returned per call, averaged. */
  meanEvents: number;
  p50Ms: number;
  p99Ms: number;
}

/** Figures for one size of the event store. */
export interface EventStoreFigures {
  events: number;
  loadSeconds: number;
  loadPerSecond: number;
  diskBytes: number;
  queries: QueryFigures[];
}

/** Everything the event store section measures. */
export interface EventsResult {
  append: AppendFigures[];
  sizes: EventStoreFigures[];
}

/**
 * Times EventStore.append on an empty store in the patterns the relay uses, then loads `sizes`
 * (ascending, each on top of the previous) and times the admin queries at each size.
 */
export async function runEvents(
  cleanup: Cleanup,
  options: { sizes: number[]; appendEvents: number; queryCalls: number },
  log: (line: string) => void,
): Promise<EventsResult> {
  const append = await measureAppend(cleanup, options.appendEvents);
  for (const figures of append) {
    log(`  events: append ${figures.pattern}: ${figures.eventsPerSecond.toFixed(0)}/s, ${figures.cpuMicrosPerEvent.toFixed(1)} µs CPU per event`);
  }

  const largest = options.sizes.at(-1) ?? 0;
  const generator = new EventGenerator(largest);
  const temp = cleanup.tempDir('bouncegate-bench-events-');
  const dbPath = `${temp.path}/db`;
  let db = await Database.open(dbPath);
  const sizes: EventStoreFigures[] = [];
  try {
    let loaded = 0;
    for (const size of options.sizes) {
      let store = new EventStore(db, { caseSensitiveLocalPart: false });
      const start = performance.now();
      while (loaded < size) {
        const count = Math.min(LOAD_BATCH, size - loaded);
        await store.append(generator.take(count));
        loaded += count;
      }
      const loadSeconds = (performance.now() - start) / 1000;
      log(`  events: ${size} events loaded in ${loadSeconds.toFixed(0)} s`);

      await db.close();
      const diskBytes = folderBytes(dbPath);
      db = await Database.open(dbPath);
      store = new EventStore(db, { caseSensitiveLocalPart: false });
      const queries = await measureQueries(store, generator, options.queryCalls);
      for (const query of queries) {
        log(`  events @ ${size}: ${query.query}: p50 ${query.p50Ms.toFixed(2)} ms, p99 ${query.p99Ms.toFixed(2)} ms, ${query.meanEvents.toFixed(0)} events`);
      }
      const previous = sizes.at(-1)?.events ?? 0;
      sizes.push({ events: size, loadSeconds, loadPerSecond: (size - previous) / loadSeconds, diskBytes, queries });
    }
  } finally {
    await db.close();
    await temp.remove();
  }
  return { append, sizes };
}

async function measureAppend(cleanup: Cleanup, events: number): Promise<AppendFigures[]> {
  const temp = cleanup.tempDir('bouncegate-bench-append-');
  const db = await Database.open(`${temp.path}/db`);
  const store = new EventStore(db, { caseSensitiveLocalPart: false });
  const generator = new EventGenerator(events * 4);
  const results: AppendFigures[] = [];
  const measure = async (pattern: string, run: () => Promise<unknown>): Promise<void> => {
    const cpuBefore = process.cpuUsage();
    const start = performance.now();
    await run();
    const elapsedMs = performance.now() - start;
    const cpu = process.cpuUsage(cpuBefore);
    results.push({
      pattern,
      events,
      eventsPerSecond: (events * 1000) / elapsedMs,
      cpuMicrosPerEvent: (cpu.user + cpu.system) / events,
    });
  };

  try {
    // The relay appends once per delivery attempt, with one event per recipient of the attempt.
    await measure('1 event per call, one call at a time', async () => {
      for (let index = 0; index < events; index++) {
        await store.append(generator.take(1));
      }
    });
    await measure('1 event per call, 10 calls in flight', () => timeConcurrent(events, 10, () => store.append(generator.take(1))));
    await measure('10 events per call, one call at a time', async () => {
      for (let index = 0; index < events; index += 10) {
        await store.append(generator.take(10));
      }
    });
    await measure('1,000 events per call', async () => {
      for (let index = 0; index < events; index += 1000) {
        await store.append(generator.take(1000));
      }
    });
  } finally {
    await db.close();
    await temp.remove();
  }
  return results;
}

async function measureQueries(store: EventStore, generator: EventGenerator, calls: number): Promise<QueryFigures[]> {
  const random = mulberry32(calls);
  const recipients = generator.recipientsSoFar();
  const newest = generator.lastTime();

  const recipientHistory = await timeQuery(`recipient history (query({recipient}), limit ${PAGE_LIMIT})`, calls, async () => {
    const page = await store.query({ recipient: generator.recipient(Math.floor(random() * recipients)), limit: PAGE_LIMIT });
    return page.events.length;
  });
  const domainPage = await timeQuery(`domain page, typical domain (query({domain}), limit ${PAGE_LIMIT})`, calls, async () => {
    const page = await store.query({ domain: `d${Math.floor(random() * OTHER_DOMAINS)}.example`, limit: PAGE_LIMIT });
    return page.events.length;
  });
  // The admin API's segment and triage pages read these rollups (daily for whole days, hourly at the edges); its default window is 7 days.
  const segmentsCalls = Math.max(5, Math.floor(calls / 10));
  const segmentQueries: QueryFigures[] = [];
  for (const days of SEGMENT_WINDOW_DAYS) {
    segmentQueries.push(
      await timeQuery(`domain segment counts over ${days} day${days === 1 ? '' : 's'} (segments({dimension: 'domain'}))`, segmentsCalls, async () => {
        const rows = await store.segments({ dimension: 'domain', since: newest + 1 - days * DAY_MS, until: newest + 1 });
        return rows.length;
      }),
    );
  }
  return [recipientHistory, domainPage, ...segmentQueries];
}

async function timeQuery(query: string, calls: number, call: () => Promise<number>): Promise<QueryFigures> {
  const durations: number[] = [];
  let events = 0;
  for (let index = 0; index < calls; index++) {
    const start = performance.now();
    events += await call();
    durations.push(performance.now() - start);
  }
  return { query, calls, meanEvents: events / calls, p50Ms: percentile(durations, 50), p99Ms: percentile(durations, 99) };
}

const ACTIONS: Array<{ action: Action; share: number; code: number; enhancedCode: string; reason: string; text: string }> = [
  { action: 'delivered', share: 0.85, code: 250, enhancedCode: '2.0.0', reason: 'delivered', text: '2.0.0 Ok: queued as 4XkQ2c1Jz8z9sTq' },
  { action: 'deferred', share: 0.08, code: 451, enhancedCode: '4.7.1', reason: 'greylisted', text: '4.7.1 <rcpt>: Recipient address rejected: Greylisted, see https://postgrey.schweikert.ch/' },
  { action: 'bounced', share: 0.05, code: 550, enhancedCode: '5.1.1', reason: 'userunknown', text: "5.1.1 The email account that you tried to reach does not exist. Please try double-checking the recipient's email address for typos" },
  { action: 'suppressed', share: 0.02, code: 550, enhancedCode: '5.1.1', reason: 'userunknown', text: '5.1.1 <rcpt>: Recipient address rejected: User unknown in virtual mailbox table' },
];

/** SMTP step at which each generated outcome happens. */
const STAGES: Record<Action, NewEvent['stage']> = { delivered: 'eod', deferred: 'rcpt', bounced: 'rcpt', expired: 'rcpt', suppressed: 'submit' };

/** Makes events at a constant rate, in time order, with recipients and outcomes drawn from fixed shares. */
class EventGenerator {
  private readonly spacingMs: number;
  private readonly start: number;
  private readonly recipients: number;
  private readonly random = mulberry32(1);
  private made = 0;

  constructor(largest: number) {
    this.spacingMs = (HISTORY_DAYS * DAY_MS) / Math.max(1, largest);
    this.start = Date.now() - HISTORY_DAYS * DAY_MS;
    this.recipients = Math.max(1, Math.floor(largest / EVENTS_PER_RECIPIENT));
  }

  /** Returns the recipient address of recipient number `index`. */
  recipient(index: number): string {
    const domain = index % 5 === 0 ? BIG_DOMAIN : `d${index % OTHER_DOMAINS}.example`;
    return `user${index}@${domain}`;
  }

  /** Number of distinct recipients that can appear in the events made so far. */
  recipientsSoFar(): number {
    return Math.min(this.recipients, Math.max(1, this.made));
  }

  /** Time of the newest event made, in ms since the epoch. */
  lastTime(): number {
    return this.start + Math.max(0, this.made - 1) * this.spacingMs;
  }

  take(count: number): NewEvent[] {
    const events: NewEvent[] = [];
    for (let index = 0; index < count; index++) {
      events.push(this.next());
    }
    return events;
  }

  private next(): NewEvent {
    const time = this.start + this.made * this.spacingMs;
    const recipient = this.recipient(Math.floor(this.random() * this.recipients));
    const roll = this.random();
    let cumulative = 0;
    const outcome = ACTIONS.find((candidate) => (cumulative += candidate.share) > roll) ?? ACTIONS[0];
    const queueNumber = Math.floor(this.made / 2);
    this.made += 1;
    if (!outcome) {
      throw new Error('the outcome table is empty');
    }
    return {
      time: new Date(time).toISOString(),
      queueId: `Q${String(queueNumber).padStart(16, '0')}`,
      messageId: `<${queueNumber}.bench@source.example>`,
      sender: 'newsletter@source.example',
      recipient,
      stage: STAGES[outcome.action],
      mx: 'mx1.sink.example',
      remoteIp: '192.0.2.25',
      remotePort: 25,
      localIp: '192.0.2.10',
      tls: { version: 'TLSv1.3', cipher: 'TLS_AES_256_GCM_SHA384', verified: false, error: 'DEPTH_ZERO_SELF_SIGNED_CERT' },
      code: outcome.code,
      enhancedCode: outcome.enhancedCode,
      text: outcome.text,
      attempt: outcome.action === 'deferred' ? 1 : 1 + (queueNumber % 2),
      permanent: outcome.action === 'bounced' || outcome.action === 'suppressed',
      reason: outcome.reason,
      action: outcome.action,
      source: { ip: '127.0.0.1', user: null },
      campaign: `campaign-${queueNumber % 50}`,
      side: outcome.action === 'delivered' ? null : 'recipient',
      rule: outcome.action === 'delivered' ? null : `${outcome.reason}-rule`,
      suppressed: outcome.action === 'suppressed',
    };
  }
}
