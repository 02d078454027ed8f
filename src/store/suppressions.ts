import { domainOf, normalizeAddress, type NormalizeOptions } from '../core/address.js';
import { newEventId } from '../core/ids.js';
import type { NormalizedAddress } from '../core/types.js';
import { BloomFilter } from './bloom.js';
import { HIGH, SEP, type Database } from './db.js';
import { expiryTime, isExpired } from './suppression-expiry.js';

/** Origin of a suppression entry: the way the address came onto the list. */
export type SuppressionOrigin = 'delivery' | 'dsn' | 'manual';

/** One failure that caused or confirmed a suppression. */
export interface FailureRecord {
  time: string;
  code: number | null;
  enhancedCode: string;
  text: string;
  mx: string | null;
  remoteIp: string | null;
  queueId: string | null;
}

/** A suppressed address. `status: 'pending'` entries await an operator's review and do not block mail. */
export interface SuppressionEntry {
  address: NormalizedAddress;
  domain: string;
  reason: string;
  origin: SuppressionOrigin;
  status: 'active' | 'pending';
  first: FailureRecord;
  last: FailureRecord;
  /** Number of failures recorded for this address. */
  count: number;
  createdAt: string;
  updatedAt: string;
  note: string | null;
  /**
   * ISO-8601 UTC time after which the entry no longer blocks mail, or null when it never expires.
   * Computed on read from the reason (see suppression-expiry.ts) and the last failure; not stored.
   */
  expiresAt?: string | null;
}

/** Kind of an audit entry: a change to the list, or an operator's review of a pending entry. */
export type AuditChange = 'add' | 'update' | 'remove' | 'expire' | 'confirm' | 'discard';

/** One manual or automatic change to the list. */
export interface AuditEntry {
  id: string;
  time: string;
  address: NormalizedAddress;
  change: AuditChange;
  origin: SuppressionOrigin;
  actor: string;
  note: string | null;
  reason: string | null;
}

/** Filters of a suppression listing. */
export interface SuppressionQuery {
  domain?: string;
  reason?: string;
  origin?: SuppressionOrigin;
  status?: SuppressionEntry['status'];
  /** Only entries created before this time, ms since the epoch. */
  olderThan?: number;
  /** Only entries created at or after this time, ms since the epoch. */
  newerThan?: number;
  /** Return entries whose address sorts after this one (cursor pagination). */
  after?: string;
  limit: number;
}

/** One entry to import: the address and reason, and whatever else the file carried. */
export interface ImportRow {
  address: string;
  reason: string;
  status?: SuppressionEntry['status'];
  origin?: SuppressionOrigin;
  note?: string | null;
  /** ISO-8601 time the entry was first created; defaults to now. */
  createdAt?: string;
  /** The last failure; defaults to a record that names the import. */
  last?: FailureRecord;
  count?: number;
}

/** Counts of an import. */
export interface ImportResult {
  added: number;
  replaced: number;
}

/** Filters of the global audit log. */
export interface AuditQuery {
  /** Only changes at or after this time, ms since the epoch. */
  since?: number;
  /** Only changes older than this audit id (cursor pagination, newest first). */
  before?: string;
  limit: number;
}

const AUDIT_TIME_INDEX_VERSION_KEY = 'audit-by-time-version';
/** Rows of an import written per LevelDB batch. */
const IMPORT_BATCH = 1000;

/** The LevelDB-backed suppression list, keyed by normalised address, with an audit trail. */
export class SuppressionStore {
  private readonly entries;
  private readonly byDomain;
  private readonly audit;
  /** The audit trail keyed by audit id alone, so the log of all changes is a time-ordered scan. */
  private readonly auditByTime;
  private readonly meta;
  private readonly normalize: NormalizeOptions;
  private auditIndexReady: Promise<void> | null = null;
  /** Every address ever put since the filter was built; null until `buildFilter` finished. */
  private filter: BloomFilter | null = null;
  /** Addresses put while the filter is being built, added to it when the build ends. */
  private pendingFilterKeys: Set<string> | null = null;

  constructor(db: Database, normalize: NormalizeOptions) {
    this.entries = db.sublevel<SuppressionEntry>('suppressions');
    this.byDomain = db.sublevel<string>('suppressions-by-domain');
    this.audit = db.sublevel<AuditEntry>('suppression-audit');
    this.auditByTime = db.sublevel<AuditEntry>('suppression-audit-by-time');
    this.meta = db.sublevel<unknown>('suppressions-meta');
    this.normalize = normalize;
  }

  /**
   * Builds the in-memory Bloom filter from every stored address, so checks of addresses that are not
   * on the list (the usual case at RCPT) skip LevelDB. Until it is built, every check reads LevelDB.
   */
  async buildFilter(): Promise<void> {
    this.pendingFilterKeys = new Set();
    let count = 0;
    for await (const _ of this.entries.keys()) {
      count += 1;
    }
    const filter = new BloomFilter(count * 2);
    for await (const key of this.entries.keys()) {
      filter.add(key);
    }
    for (const key of this.pendingFilterKeys) {
      filter.add(key);
    }
    this.pendingFilterKeys = null;
    this.filter = filter;
  }

  /** Adds an address that is about to be written to the filter, so lookups stay correct. */
  private noteKey(key: string): void {
    this.filter?.add(key);
    this.pendingFilterKeys?.add(key);
    if (this.filter?.isOverfull()) {
      // Past its capacity the filter returns "maybe" too often, so rebuild it larger.
      this.filter = null;
      void this.buildFilter();
    }
  }

  /** Normalises an address the way the store keys it. */
  key(address: string): NormalizedAddress {
    return normalizeAddress(address, this.normalize);
  }

  /** Returns the entry for an address, or null; pending entries are returned too. */
  async get(address: string): Promise<SuppressionEntry | null> {
    const entry = await this.entries.get(this.key(address));
    return entry ? withExpiry(entry) : null;
  }

  /**
   * Returns the active entry that blocks mail to an address, or null. An expired entry counts as
   * absent even before the sweep removes it.
   */
  async findActive(address: string, now: number = Date.now()): Promise<SuppressionEntry | null> {
    const key = this.key(address);
    if (this.filter && !this.filter.mightContain(key)) {
      return null;
    }
    // A synchronous read, because the filter sends only listed addresses (and rare false positives)
    // here. A read from LevelDB's block cache or the page cache takes microseconds, which is less
    // than the round trip through libuv's thread pool that an asynchronous get costs.
    const stored = this.entries.getSync(key);
    const entry = stored ? withExpiry(stored) : null;
    return entry && entry.status === 'active' && !isExpired(entry, now) ? entry : null;
  }

  /**
   * Records a failure for an address: creates the entry, or updates its last failure and count.
   * A manual removal is the only way an address leaves the list.
   */
  async recordFailure(
    address: string,
    failure: FailureRecord,
    details: { reason: string; origin: SuppressionOrigin; status?: 'active' | 'pending'; actor?: string; note?: string | null },
  ): Promise<SuppressionEntry> {
    const key = this.key(address);
    const existing = await this.entries.get(key);
    const now = new Date().toISOString();
    const entry: SuppressionEntry = existing
      ? {
          ...existing,
          last: failure,
          count: existing.count + 1,
          updatedAt: now,
          status: existing.status === 'active' ? 'active' : (details.status ?? 'active'),
        }
      : {
          address: key,
          domain: domainOf(key),
          reason: details.reason,
          origin: details.origin,
          status: details.status ?? 'active',
          first: failure,
          last: failure,
          count: 1,
          createdAt: now,
          updatedAt: now,
          note: details.note ?? null,
        };
    const audit: AuditEntry = {
      id: newEventId(),
      time: now,
      address: key,
      change: existing ? 'update' : 'add',
      origin: details.origin,
      actor: details.actor ?? details.origin,
      note: details.note ?? null,
      reason: entry.reason,
    };
    this.noteKey(key);
    await this.entries.db.batch([
      { type: 'put', sublevel: this.entries, key, value: entry },
      { type: 'put', sublevel: this.byDomain, key: `${entry.domain}${SEP}${key}`, value: '' },
      ...this.auditOperations(audit),
    ] as never);
    return withExpiry(entry);
  }

  /** Adds or replaces an entry by hand. */
  async addManual(address: string, reason: string, note: string | null, actor: string): Promise<SuppressionEntry> {
    const failure: FailureRecord = {
      time: new Date().toISOString(),
      code: null,
      enhancedCode: '',
      text: note ?? 'added by an operator',
      mx: null,
      remoteIp: null,
      queueId: null,
    };
    const existing = await this.get(address);
    if (existing) {
      await this.remove(address, note ?? 'replaced by an operator', actor);
    }
    return this.recordFailure(address, failure, { reason, origin: 'manual', actor, note, status: 'active' });
  }

  /** Changes a pending entry to active (confirmed by an operator). Returns null when absent. */
  async activate(address: string, note: string | null, actor: string): Promise<SuppressionEntry | null> {
    const entry = await this.get(address);
    if (!entry) {
      return null;
    }
    const updated: SuppressionEntry = { ...entry, status: 'active', updatedAt: new Date().toISOString() };
    await this.writeWithAudit(updated, 'update', note, actor);
    return updated;
  }

  /** Removes an entry with the note that justifies sending again. Returns the removed entry, or null. */
  async remove(address: string, note: string, actor: string): Promise<SuppressionEntry | null> {
    return this.removeWithAudit(address, 'remove', note, actor);
  }

  /**
   * Confirms a pending entry, so it blocks mail from now on. Returns the entry and whether it changed:
   * an entry that is already active is returned unchanged. Returns null when the address is absent.
   */
  async confirm(address: string, note: string | null, actor: string): Promise<{ entry: SuppressionEntry; changed: boolean } | null> {
    const entry = await this.entries.get(this.key(address));
    if (!entry) {
      return null;
    }
    if (entry.status === 'active') {
      return { entry: withExpiry(entry), changed: false };
    }
    const updated: SuppressionEntry = { ...entry, status: 'active', updatedAt: new Date().toISOString() };
    await this.writeWithAudit(updated, 'confirm', note, actor);
    return { entry: withExpiry(updated), changed: true };
  }

  /**
   * Discards a pending entry: the operator judged the failure no reason to suppress. Returns the
   * discarded entry, `'active'` when the entry is active (remove() is the way to end those), or null
   * when the address is absent.
   */
  async discard(address: string, note: string, actor: string): Promise<SuppressionEntry | 'active' | null> {
    const entry = await this.entries.get(this.key(address));
    if (!entry) {
      return null;
    }
    if (entry.status === 'active') {
      return 'active';
    }
    return this.removeWithAudit(address, 'discard', note, actor);
  }

  /**
   * Removes every entry that has expired at `now`, each with an audit entry `change: 'expire'`.
   * Returns the removed entries. Reads every entry, so it suits a periodic sweep, not a hot path.
   */
  async sweepExpired(now: number = Date.now()): Promise<SuppressionEntry[]> {
    const expired: SuppressionEntry[] = [];
    for await (const entry of this.entries.values()) {
      if (isExpired(entry, now)) {
        expired.push(entry);
      }
    }
    const removed: SuppressionEntry[] = [];
    for (const entry of expired) {
      const gone = await this.removeWithAudit(entry.address, 'expire', `expired: reason ${entry.reason}, last failure ${entry.last.time}`, 'expiry-sweep', 'delivery');
      if (gone) {
        removed.push(gone);
      }
    }
    return removed;
  }

  /**
   * Adds or replaces entries from an import in batches, each with an audit entry naming the actor.
   * Rows must already be validated; a row whose address is repeated replaces the earlier one.
   */
  async importEntries(rows: ImportRow[], actor: string): Promise<ImportResult> {
    const result: ImportResult = { added: 0, replaced: 0 };
    const now = new Date().toISOString();
    for (let start = 0; start < rows.length; start += IMPORT_BATCH) {
      const chunk = rows.slice(start, start + IMPORT_BATCH);
      const keys = chunk.map((row) => this.key(row.address));
      const stored = await this.entries.getMany(keys);
      // Entries written earlier in this chunk stand in for the stored ones, so a repeated address replaces.
      const current = new Map<string, SuppressionEntry>();
      const operations: unknown[] = [];
      for (const [position, row] of chunk.entries()) {
        const key = keys[position] as NormalizedAddress;
        const existing = current.get(key) ?? stored[position];
        const entry = importedEntry(key, row, existing, now);
        const audit: AuditEntry = {
          id: newEventId(),
          time: now,
          address: key,
          change: existing ? 'update' : 'add',
          origin: 'manual',
          actor,
          note: row.note ?? 'imported',
          reason: entry.reason,
        };
        this.noteKey(key);
        operations.push(
          { type: 'put', sublevel: this.entries, key, value: entry },
          { type: 'put', sublevel: this.byDomain, key: `${entry.domain}${SEP}${key}`, value: '' },
          ...this.auditOperations(audit),
        );
        if (existing && existing.domain !== entry.domain) {
          operations.push({ type: 'del', sublevel: this.byDomain, key: `${existing.domain}${SEP}${key}` });
        }
        current.set(key, entry);
        if (existing) {
          result.replaced += 1;
        } else {
          result.added += 1;
        }
      }
      await this.entries.db.batch(operations as never);
    }
    return result;
  }

  /** Returns changes to the whole list, newest first, with the cursor of the next page. */
  async auditLog(query: AuditQuery): Promise<{ audit: AuditEntry[]; next: string | null }> {
    await this.ensureAuditTimeIndex();
    const range: { gte?: string; lt?: string; reverse: true } = { reverse: true };
    if (query.since !== undefined) {
      range.gte = String(Math.max(0, query.since)).padStart(13, '0');
    }
    if (query.before !== undefined) {
      range.lt = query.before;
    }
    const audit: AuditEntry[] = [];
    for await (const entry of this.auditByTime.values(range)) {
      if (audit.length === query.limit) {
        return { audit, next: audit[audit.length - 1]?.id ?? null };
      }
      audit.push(entry);
    }
    return { audit, next: null };
  }

  /** Iterates every entry in address order (for exports). */
  async *all(): AsyncGenerator<SuppressionEntry> {
    for await (const entry of this.entries.values()) {
      yield withExpiry(entry);
    }
  }

  private async removeWithAudit(
    address: string,
    change: AuditChange,
    note: string,
    actor: string,
    origin: SuppressionOrigin = 'manual',
  ): Promise<SuppressionEntry | null> {
    const key = this.key(address);
    const entry = await this.entries.get(key);
    if (!entry) {
      return null;
    }
    const audit: AuditEntry = {
      id: newEventId(),
      time: new Date().toISOString(),
      address: key,
      change,
      origin,
      actor,
      note,
      reason: entry.reason,
    };
    await this.entries.db.batch([
      { type: 'del', sublevel: this.entries, key },
      { type: 'del', sublevel: this.byDomain, key: `${entry.domain}${SEP}${key}` },
      ...this.auditOperations(audit),
    ] as never);
    return withExpiry(entry);
  }

  /** Returns the puts of one audit entry: by address, and by time for the global log. */
  private auditOperations(audit: AuditEntry): unknown[] {
    return [
      { type: 'put', sublevel: this.audit, key: `${audit.address}${SEP}${audit.id}`, value: audit },
      { type: 'put', sublevel: this.auditByTime, key: audit.id, value: audit },
    ];
  }

  /** Copies audit entries written before the time index existed into it, once per store. */
  private ensureAuditTimeIndex(): Promise<void> {
    this.auditIndexReady ??= (async () => {
      if ((await this.meta.get(AUDIT_TIME_INDEX_VERSION_KEY)) === 1) {
        return;
      }
      for await (const entry of this.audit.values()) {
        await this.auditByTime.put(entry.id, entry);
      }
      await this.meta.put(AUDIT_TIME_INDEX_VERSION_KEY, 1);
    })();
    return this.auditIndexReady;
  }

  /** Lists entries in address order, optionally for one domain. */
  async list(query: SuppressionQuery): Promise<{ suppressions: SuppressionEntry[]; next: string | null }> {
    const result: SuppressionEntry[] = [];
    const addresses = this.addresses(query);
    for await (const address of addresses) {
      const entry = await this.entries.get(address);
      if (!entry || !matchesQuery(entry, query)) {
        continue;
      }
      if (result.length === query.limit) {
        return { suppressions: result, next: result[result.length - 1]?.address ?? null };
      }
      result.push(withExpiry(entry));
    }
    return { suppressions: result, next: null };
  }

  /** Returns the audit trail of an address, oldest first. */
  async history(address: string): Promise<AuditEntry[]> {
    const key = this.key(address);
    const trail: AuditEntry[] = [];
    for await (const entry of this.audit.values({ gte: `${key}${SEP}`, lt: `${key}${SEP}${HIGH}` })) {
      trail.push(entry);
    }
    return trail;
  }

  /** Counts active and pending entries (a full key scan; for status pages, not hot paths). */
  async count(): Promise<number> {
    let total = 0;
    for await (const _ of this.entries.keys()) {
      total += 1;
    }
    return total;
  }

  private async *addresses(query: SuppressionQuery): AsyncGenerator<string> {
    if (query.domain) {
      const domain = domainOf(`x@${query.domain}`);
      const start = query.after ? `${domain}${SEP}${this.key(query.after)}` : `${domain}${SEP}`;
      const range = query.after ? { gt: start, lt: `${domain}${SEP}${HIGH}` } : { gte: start, lt: `${domain}${SEP}${HIGH}` };
      for await (const key of this.byDomain.keys(range)) {
        yield key.slice(key.indexOf(SEP) + 1);
      }
      return;
    }
    const range = query.after ? { gt: this.key(query.after) } : {};
    for await (const key of this.entries.keys(range)) {
      yield key;
    }
  }

  private async writeWithAudit(entry: SuppressionEntry, change: AuditEntry['change'], note: string | null, actor: string) {
    const audit: AuditEntry = {
      id: newEventId(),
      time: entry.updatedAt,
      address: entry.address,
      change,
      origin: 'manual',
      actor,
      note,
      reason: entry.reason,
    };
    const { expiresAt: _computed, ...stored } = entry;
    this.noteKey(entry.address);
    await this.entries.db.batch([
      { type: 'put', sublevel: this.entries, key: entry.address, value: stored },
      ...this.auditOperations(audit),
    ] as never);
  }
}

/** Builds the stored entry of one imported row, keeping the first failure and creation time of an existing entry. */
function importedEntry(key: NormalizedAddress, row: ImportRow, existing: SuppressionEntry | undefined, now: string): SuppressionEntry {
  const last: FailureRecord = row.last ?? {
    time: now,
    code: null,
    enhancedCode: '',
    text: row.note ?? 'imported by an operator',
    mx: null,
    remoteIp: null,
    queueId: null,
  };
  return {
    address: key,
    domain: domainOf(key),
    reason: row.reason,
    origin: row.origin ?? 'manual',
    status: row.status ?? 'active',
    first: existing?.first ?? last,
    last,
    count: row.count ?? existing?.count ?? 1,
    createdAt: row.createdAt ?? existing?.createdAt ?? now,
    updatedAt: now,
    note: row.note ?? null,
  };
}

function matchesQuery(entry: SuppressionEntry, query: SuppressionQuery): boolean {
  if (query.reason && entry.reason !== query.reason) return false;
  if (query.origin && entry.origin !== query.origin) return false;
  if (query.status && entry.status !== query.status) return false;
  const created = Date.parse(entry.createdAt);
  if (query.olderThan !== undefined && !(created < query.olderThan)) return false;
  if (query.newerThan !== undefined && !(created >= query.newerThan)) return false;
  return true;
}

/** Returns the entry with its computed expiry time. */
function withExpiry(entry: SuppressionEntry): SuppressionEntry {
  const expires = expiryTime(entry);
  return { ...entry, expiresAt: expires === null ? null : new Date(expires).toISOString() };
}
