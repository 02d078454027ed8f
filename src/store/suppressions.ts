import { domainOf, normalizeAddress, type NormalizeOptions } from '../core/address.js';
import { newEventId } from '../core/ids.js';
import type { NormalizedAddress } from '../core/types.js';
import { HIGH, SEP, type Database } from './db.js';

/** How an address came onto the suppression list. */
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
}

/** One manual or automatic change to the list. */
export interface AuditEntry {
  id: string;
  time: string;
  address: NormalizedAddress;
  change: 'add' | 'update' | 'remove';
  origin: SuppressionOrigin;
  actor: string;
  note: string | null;
  reason: string | null;
}

/** Filters of a suppression listing. */
export interface SuppressionQuery {
  domain?: string;
  reason?: string;
  /** Return entries whose address sorts after this one (cursor pagination). */
  after?: string;
  limit: number;
}

/** The LevelDB-backed suppression list, keyed by normalised address, with an audit trail. */
export class SuppressionStore {
  private readonly entries;
  private readonly byDomain;
  private readonly audit;
  private readonly normalize: NormalizeOptions;

  constructor(db: Database, normalize: NormalizeOptions) {
    this.entries = db.sublevel<SuppressionEntry>('suppressions');
    this.byDomain = db.sublevel<string>('suppressions-by-domain');
    this.audit = db.sublevel<AuditEntry>('suppression-audit');
    this.normalize = normalize;
  }

  /** Normalises an address the way the store keys it. */
  key(address: string): NormalizedAddress {
    return normalizeAddress(address, this.normalize);
  }

  /** Returns the entry for an address, or null; pending entries are returned too. */
  async get(address: string): Promise<SuppressionEntry | null> {
    return (await this.entries.get(this.key(address))) ?? null;
  }

  /** Returns the active entry that blocks mail to an address, or null. */
  async findActive(address: string): Promise<SuppressionEntry | null> {
    const entry = await this.get(address);
    return entry && entry.status === 'active' ? entry : null;
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
    await this.entries.db.batch([
      { type: 'put', sublevel: this.entries, key, value: entry },
      { type: 'put', sublevel: this.byDomain, key: `${entry.domain}${SEP}${key}`, value: '' },
      { type: 'put', sublevel: this.audit, key: `${key}${SEP}${audit.id}`, value: audit },
    ] as never);
    return entry;
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
    const key = this.key(address);
    const entry = await this.entries.get(key);
    if (!entry) {
      return null;
    }
    const audit: AuditEntry = {
      id: newEventId(),
      time: new Date().toISOString(),
      address: key,
      change: 'remove',
      origin: 'manual',
      actor,
      note,
      reason: entry.reason,
    };
    await this.entries.db.batch([
      { type: 'del', sublevel: this.entries, key },
      { type: 'del', sublevel: this.byDomain, key: `${entry.domain}${SEP}${key}` },
      { type: 'put', sublevel: this.audit, key: `${key}${SEP}${audit.id}`, value: audit },
    ] as never);
    return entry;
  }

  /** Lists entries in address order, optionally for one domain. */
  async list(query: SuppressionQuery): Promise<{ suppressions: SuppressionEntry[]; next: string | null }> {
    const result: SuppressionEntry[] = [];
    const addresses = this.addresses(query);
    for await (const address of addresses) {
      const entry = await this.entries.get(address);
      if (!entry || (query.reason && entry.reason !== query.reason)) {
        continue;
      }
      if (result.length === query.limit) {
        return { suppressions: result, next: result[result.length - 1]?.address ?? null };
      }
      result.push(entry);
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
    await this.entries.db.batch([
      { type: 'put', sublevel: this.entries, key: entry.address, value: entry },
      { type: 'put', sublevel: this.audit, key: `${entry.address}${SEP}${audit.id}`, value: audit },
    ] as never);
  }
}
