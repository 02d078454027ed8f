import { performance } from 'node:perf_hooks';
import { Database } from '../../src/store/db.js';
import { SuppressionStore, type FailureRecord, type ImportRow } from '../../src/store/suppressions.js';
import type { Cleanup } from '../lib/cleanup.js';
import { folderBytes } from '../lib/disk.js';
import { timeConcurrent, timeSequential, type TimedCalls } from '../lib/timing.js';

/** Rows per importEntries call while loading (the store writes them in batches of its own size). */
const LOAD_BATCH = 10_000;
/** Distinct recipient domains of the generated addresses. */
const DOMAINS = 1_000;
/** Lookups made before timing, so that the first reads from disk do not count. */
const WARMUP_LOOKUPS = 20_000;
/** Lookups in flight at once in the throughput figure (many SMTP sessions checking RCPT TO at once). */
const CONCURRENCY = 64;

/** Figures for one size of the suppression list. */
export interface SuppressionFigures {
  entries: number;
  /** Seconds spent loading this size, counting from the previous size. */
  loadSeconds: number;
  /** Entries written per second while loading. */
  loadPerSecond: number;
  diskBytes: number;
  /** Seconds buildFilter took after the store was reopened (the relay builds it at start). */
  filterSeconds: number;
  /** findActive for an address that is not on the list: the common case at RCPT TO. */
  miss: TimedCalls;
  /** findActive for a suppressed address. */
  hit: TimedCalls;
  /** Lookups per second with CONCURRENCY in flight, half hits and half misses. */
  concurrentPerSecond: number;
}

/**
 * Loads `sizes` (ascending) suppressed addresses into a fresh store with SuppressionStore.importEntries,
 * each size on top of the previous one. At each size it reopens the store, builds its Bloom filter as
 * the relay does at start, and times SuppressionStore.findActive.
 */
export async function runSuppressions(cleanup: Cleanup, sizes: number[], lookups: number, log: (line: string) => void): Promise<SuppressionFigures[]> {
  const temp = cleanup.tempDir('bouncegate-bench-suppressions-');
  const dbPath = `${temp.path}/db`;
  let db = await Database.open(dbPath);
  const figures: SuppressionFigures[] = [];
  try {
    let loaded = 0;
    for (const size of sizes) {
      const start = performance.now();
      await load(new SuppressionStore(db, { caseSensitiveLocalPart: false }), loaded, size);
      const loadSeconds = (performance.now() - start) / 1000;
      log(`  suppressions: ${size} entries loaded (${(size - loaded) / loadSeconds | 0}/s)`);
      const added = size - loaded;
      loaded = size;

      // Reopen so the lookups start from LevelDB's files, as after a restart, not from its write buffer.
      await db.close();
      const diskBytes = folderBytes(dbPath);
      db = await Database.open(dbPath);
      const store = new SuppressionStore(db, { caseSensitiveLocalPart: false });
      const filterStart = performance.now();
      await store.buildFilter();
      const filterSeconds = (performance.now() - filterStart) / 1000;
      await verifyLoaded(store, size);

      // Addresses are made before timing, so the timed calls contain only the lookup.
      const random = mulberry32(size);
      const hits = Array.from({ length: lookups }, () => addressOf(Math.floor(random() * size)));
      const misses = Array.from({ length: lookups }, () => `nobody${Math.floor(random() * size)}@d${Math.floor(random() * DOMAINS)}.example`);
      const warmup = Array.from({ length: WARMUP_LOOKUPS }, () => addressOf(Math.floor(random() * size)));
      await timeSequential(WARMUP_LOOKUPS, (index) => store.findActive(warmup[index] ?? ''));
      const miss = await timeSequential(lookups, (index) => store.findActive(misses[index] ?? ''));
      const hit = await timeSequential(lookups, (index) => store.findActive(hits[index] ?? ''));
      const concurrentPerSecond = await timeConcurrent(lookups, CONCURRENCY, (index) =>
        store.findActive(index % 2 === 0 ? hits[index] ?? '' : misses[index] ?? ''),
      );
      figures.push({ entries: size, loadSeconds, loadPerSecond: added / loadSeconds, diskBytes, filterSeconds, miss, hit, concurrentPerSecond });
    }
  } finally {
    await db.close();
    await temp.remove();
  }
  return figures;
}

/** Returns the address of generated entry `index`. */
export function addressOf(index: number): string {
  return `user${index}@d${index % DOMAINS}.example`;
}

async function load(store: SuppressionStore, from: number, to: number): Promise<void> {
  const createdAt = new Date('2024-01-01T00:00:00Z').getTime();
  for (let first = from; first < to; first += LOAD_BATCH) {
    const rows: ImportRow[] = [];
    for (let index = first; index < Math.min(to, first + LOAD_BATCH); index++) {
      rows.push(rowOf(index, createdAt + index));
    }
    await store.importEntries(rows, 'bench');
  }
}

function rowOf(index: number, millis: number): ImportRow {
  const address = addressOf(index);
  const time = new Date(millis).toISOString();
  const failure: FailureRecord = {
    time,
    code: 550,
    enhancedCode: '5.1.1',
    text: `5.1.1 <${address}>: Recipient address rejected: User unknown in virtual mailbox table`,
    mx: `mx${index % 7}.d${index % DOMAINS}.example`,
    remoteIp: `192.0.2.${index % 250}`,
    queueId: `0LX3K2ABC${String(index % 100_000_000).padStart(8, '0')}`,
  };
  return { address, reason: 'userunknown', status: 'active', origin: 'delivery', note: null, createdAt: time, last: failure, count: 1 };
}

async function verifyLoaded(store: SuppressionStore, size: number): Promise<void> {
  for (const index of [0, Math.floor(size / 2), size - 1]) {
    const entry = await store.findActive(addressOf(index));
    if (entry?.address !== addressOf(index)) {
      throw new Error(`the imported suppression list is missing ${addressOf(index)}`);
    }
  }
  const listed = await store.list({ domain: 'd1.example', limit: 1 });
  if (listed.suppressions.length !== 1) {
    throw new Error('the imported suppression list has no entry in its domain index for d1.example');
  }
}

/** A small seeded pseudo-random generator, so runs look up the same addresses. */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let value = state;
    value = Math.imul(value ^ (value >>> 15), value | 1);
    value ^= value + Math.imul(value ^ (value >>> 7), value | 61);
    return ((value ^ (value >>> 14)) >>> 0) / 4294967296;
  };
}
