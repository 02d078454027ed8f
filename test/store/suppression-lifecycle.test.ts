import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Database } from '../../src/store/db.js';
import { expiryFor, SUPPRESSION_EXPIRY_MS } from '../../src/store/suppression-expiry.js';
import { SuppressionStore, type FailureRecord } from '../../src/store/suppressions.js';
import { makeTempDir } from '../helpers/tmp.js';

const normalize = { caseSensitiveLocalPart: false };
const DAY = 86_400_000;

function failure(time: string, text = '552 5.2.2 Mailbox full'): FailureRecord {
  return { time, code: 552, enhancedCode: '5.2.2', text, mx: 'mx.example', remoteIp: '192.0.2.1', queueId: 'Q1' };
}

describe('suppression lifecycle', () => {
  let dir: ReturnType<typeof makeTempDir>;
  let db: Database;
  let store: SuppressionStore;

  beforeEach(async () => {
    dir = makeTempDir();
    db = await Database.open(dir.path);
    store = new SuppressionStore(db, normalize);
  });

  afterEach(async () => {
    await db.close();
    dir.remove();
  });

  it('expiry table keeps permanent reasons', () => {
    expect(expiryFor('userunknown')).toBeNull();
    expect(expiryFor('hostunknown')).toBeNull();
    expect(expiryFor('suspend')).toBeNull();
    expect(expiryFor('mailboxfull')).toBe(7 * DAY);
    expect(expiryFor('complaint')).toBeNull();
    expect(SUPPRESSION_EXPIRY_MS.blocked).toBeUndefined();
  });

  it('treats an expired entry as absent', async () => {
    const last = '2026-01-01T00:00:00.000Z';
    const entry = await store.recordFailure('full@example.com', failure(last), { reason: 'mailboxfull', origin: 'delivery' });
    expect(entry.expiresAt).toBe('2026-01-08T00:00:00.000Z');
    expect(await store.findActive('full@example.com', Date.parse(last) + 6 * DAY)).not.toBeNull();
    expect(await store.findActive('full@example.com', Date.parse(last) + 7 * DAY)).toBeNull();

    await store.recordFailure('gone@example.com', failure(last, '550 5.1.1 unknown'), { reason: 'userunknown', origin: 'delivery' });
    expect(await store.findActive('gone@example.com', Date.parse(last) + 365 * DAY)).not.toBeNull();
    expect((await store.get('gone@example.com'))?.expiresAt).toBeNull();
  });

  it('sweep removes expired entries with an audit entry', async () => {
    await store.recordFailure('full@example.com', failure('2026-01-01T00:00:00.000Z'), { reason: 'mailboxfull', origin: 'delivery' });
    await store.recordFailure('gone@example.com', failure('2026-01-01T00:00:00.000Z', '550 5.1.1 unknown'), { reason: 'userunknown', origin: 'delivery' });

    const removed = await store.sweepExpired(Date.parse('2026-02-01T00:00:00.000Z'));
    expect(removed.map((entry) => entry.address)).toEqual(['full@example.com']);
    expect(await store.get('full@example.com')).toBeNull();
    expect(await store.get('gone@example.com')).not.toBeNull();

    const trail = await store.history('full@example.com');
    expect(trail.map((entry) => entry.change)).toEqual(['add', 'expire']);
    expect(trail[1]).toMatchObject({ actor: 'expiry-sweep', reason: 'mailboxfull' });
  });

  it('confirms and discards pending entries', async () => {
    await store.recordFailure('maybe@example.com', failure('2026-01-01T00:00:00.000Z'), { reason: 'userunknown', origin: 'dsn', status: 'pending' });
    await store.recordFailure('other@example.com', failure('2026-01-01T00:00:00.000Z'), { reason: 'userunknown', origin: 'dsn', status: 'pending' });
    expect(await store.findActive('maybe@example.com')).toBeNull();

    const confirmed = await store.confirm('maybe@example.com', 'checked the DSN', 'ops');
    expect(confirmed?.changed).toBe(true);
    expect(confirmed?.entry.status).toBe('active');
    expect(await store.findActive('maybe@example.com')).not.toBeNull();
    expect((await store.confirm('maybe@example.com', null, 'ops'))?.changed).toBe(false);

    expect(await store.discard('maybe@example.com', 'active now', 'ops')).toBe('active');
    const discarded = await store.discard('other@example.com', 'out-of-office loop', 'ops');
    expect(discarded).toMatchObject({ address: 'other@example.com', status: 'pending' });
    expect(await store.get('other@example.com')).toBeNull();
    expect(await store.discard('nobody@example.com', 'x', 'ops')).toBeNull();

    expect((await store.history('maybe@example.com')).map((entry) => entry.change)).toEqual(['add', 'confirm']);
    expect((await store.history('other@example.com')).map((entry) => entry.change)).toEqual(['add', 'discard']);
  });

  it('lists by origin, status and age', async () => {
    await store.recordFailure('a@example.com', failure('2026-01-01T00:00:00.000Z'), { reason: 'userunknown', origin: 'delivery' });
    await store.recordFailure('b@example.com', failure('2026-01-01T00:00:00.000Z'), { reason: 'userunknown', origin: 'dsn', status: 'pending' });
    await store.addManual('c@example.com', 'complaint', 'asked by phone', 'ops');
    await store.importEntries([{ address: 'old@example.com', reason: 'userunknown', createdAt: '2020-01-01T00:00:00.000Z' }], 'import');

    const addresses = async (query: Parameters<SuppressionStore['list']>[0]) => (await store.list(query)).suppressions.map((entry) => entry.address);
    expect(await addresses({ origin: 'dsn', limit: 10 })).toEqual(['b@example.com']);
    expect(await addresses({ status: 'pending', limit: 10 })).toEqual(['b@example.com']);
    expect(await addresses({ origin: 'manual', limit: 10 })).toEqual(['c@example.com', 'old@example.com']);
    expect(await addresses({ olderThan: Date.parse('2021-01-01T00:00:00.000Z'), limit: 10 })).toEqual(['old@example.com']);
    expect(await addresses({ newerThan: Date.parse('2021-01-01T00:00:00.000Z'), limit: 10 })).toEqual(['a@example.com', 'b@example.com', 'c@example.com']);
  });

  it('imports rows and replaces existing entries', async () => {
    await store.addManual('a@example.com', 'complaint', null, 'ops');
    const last = failure('2025-12-31T00:00:00.000Z', '550 5.1.1 <a@example.com>: unknown');
    const result = await store.importEntries(
      [
        { address: 'A@Example.com', reason: 'userunknown', origin: 'delivery', status: 'active', note: 'migrated', createdAt: '2025-01-01T00:00:00.000Z', count: 3, last },
        { address: 'new@example.com', reason: 'hostunknown' },
      ],
      'cli:tester',
    );
    expect(result).toEqual({ added: 1, replaced: 1 });
    const entry = await store.get('a@example.com');
    expect(entry).toMatchObject({ reason: 'userunknown', origin: 'delivery', note: 'migrated', createdAt: '2025-01-01T00:00:00.000Z', count: 3, last });
    expect((await store.history('a@example.com')).at(-1)).toMatchObject({ change: 'update', actor: 'cli:tester', note: 'migrated' });
  });

  it('audit log lists every change newest first', async () => {
    await store.addManual('a@example.com', 'complaint', 'first', 'ops');
    await store.addManual('b@example.com', 'complaint', 'second', 'ops');
    await store.remove('a@example.com', 'resolved', 'ops');

    const all = await store.auditLog({ limit: 10 });
    expect(all.audit.map((entry) => [entry.address, entry.change])).toEqual([
      ['a@example.com', 'remove'],
      ['b@example.com', 'add'],
      ['a@example.com', 'add'],
    ]);
    const first = await store.auditLog({ limit: 2 });
    expect(first.audit).toHaveLength(2);
    const second = await store.auditLog({ limit: 2, before: first.next ?? undefined });
    expect(second.audit.map((entry) => entry.note)).toEqual(['first']);
    expect(second.next).toBeNull();
    expect((await store.auditLog({ since: Date.now() + 60_000, limit: 10 })).audit).toEqual([]);
  });

  it('audit log includes entries written before its index', async () => {
    await store.addManual('a@example.com', 'complaint', 'before the index', 'ops');
    await db.sublevel<unknown>('suppression-audit-by-time').clear();
    await db.sublevel<unknown>('suppressions-meta').clear();

    const reopened = new SuppressionStore(db, normalize);
    expect((await reopened.auditLog({ limit: 10 })).audit.map((entry) => entry.note)).toEqual(['before the index']);
  });
});
