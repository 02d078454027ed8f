import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { QueueItem } from '../../src/admin/queue-routes.js';
import type { DeliveryEvent } from '../../src/core/types.js';
import type { AuditEntry, SuppressionEntry } from '../../src/store/suppressions.js';
import { enqueue, makeEvent, startAdminFixture, stubQueueControl, TEST_TOKEN, type AdminFixture } from '../admin/fixture.js';
import { runCli } from './helpers.js';

describe('CLI against a live admin API', () => {
  let admin: AdminFixture;
  let global: string[];

  beforeEach(async () => {
    admin = await startAdminFixture({ queueControl: stubQueueControl(async (queueId) => queueId === 'QUEUEA') });
    global = ['--admin-url', admin.url, '--token', TEST_TOKEN];
  });

  afterEach(async () => {
    await admin.close();
  });

  describe('events', () => {
    beforeEach(async () => {
      await admin.events.append([
        makeEvent({ time: '2026-01-01T00:00:00.000Z', recipient: 'a@example.com', text: '550-5.1.1 no such user\n550 5.1.1 bye' }),
        makeEvent({
          time: '2026-01-01T00:01:00.000Z',
          recipient: 'b@other.example',
          action: 'deferred',
          code: 451,
          enhancedCode: '4.7.1',
          reason: 'greylisted',
          text: '451 4.7.1 greylisted',
        }),
      ]);
    });

    it('prints an aligned table', async () => {
      const result = await runCli([...global, 'events']);
      expect(result.code).toBe(0);
      expect(result.stderr).toBe('');
      const lines = result.stdout.trimEnd().split('\n');
      expect(lines).toHaveLength(3);
      expect(lines[0]).toMatch(/^TIME\s+ACTION\s+RECIPIENT\s+CODE\s+REASON\s+MX\s+QUEUE ID\s+REPLY$/);
      expect(lines[1]).toContain('deferred  b@other.example');
      expect(lines[2]).toContain('550-5.1.1 no such user [+1 more line]');
      expect(lines[1]?.indexOf('greylisted')).toBe(lines[0]?.indexOf('REASON'));
    });

    it('prints the API JSON with --json', async () => {
      const result = await runCli([...global, 'events', '--json']);
      expect(result.code).toBe(0);
      const body = JSON.parse(result.stdout) as { events: DeliveryEvent[]; next: string | null };
      expect(body.events.map((event) => event.recipient)).toEqual(['b@other.example', 'a@example.com']);
      expect(body.next).toBeNull();
    });

    it('passes filters to the API', async () => {
      const byDomain = await runCli([...global, 'events', '--domain', 'other.example', '--json']);
      expect((JSON.parse(byDomain.stdout) as { events: DeliveryEvent[] }).events).toHaveLength(1);

      const byAction = await runCli([...global, 'events', '--action=bounced', '--recipient', 'A@example.com', '--json']);
      expect((JSON.parse(byAction.stdout) as { events: DeliveryEvent[] }).events.map((event) => event.reason)).toEqual(['userunknown']);

      const bounded = await runCli([...global, 'events', '--since', '2026-01-01T00:00:30Z', '--until', '2026-01-02', '--json']);
      expect((JSON.parse(bounded.stdout) as { events: DeliveryEvent[] }).events.map((event) => event.reason)).toEqual(['greylisted']);
    });

    it('accepts a relative --since', async () => {
      await admin.events.append([makeEvent({ time: new Date().toISOString(), recipient: 'now@example.com' })]);
      const result = await runCli([...global, 'events', '--since', '1h', '--json']);
      expect((JSON.parse(result.stdout) as { events: DeliveryEvent[] }).events.map((event) => event.recipient)).toEqual([
        'now@example.com',
      ]);
    });

    it('prints the cursor of the next page', async () => {
      const first = await runCli([...global, 'events', '--limit', '1']);
      const cursor = /--before (\d{19}[0-9a-f]{4})/.exec(first.stdout)?.[1];
      expect(cursor).toBeDefined();

      const second = await runCli([...global, 'events', '--limit', '1', '--before', cursor ?? '']);
      expect(second.stdout).toContain('a@example.com');
      expect(second.stdout).not.toContain('--before');
    });

    it('says so when nothing matches', async () => {
      const result = await runCli([...global, 'events', '--domain', 'nowhere.example']);
      expect(result.code).toBe(0);
      expect(result.stdout).toBe('no events match\n');
    });

    it('turns an invalid filter into a usage error', async () => {
      const result = await runCli([...global, 'events', '--action', 'bounce']);
      expect(result.code).toBe(2);
      expect(result.stderr).toContain('invalid action "bounce": expected one of delivered, deferred, bounced, expired, suppressed');
      expect(result.stderr).toContain('usage: bouncegate events');
    });

    it('reads URL and token from the environment', async () => {
      const result = await runCli(['events', '--json'], { BOUNCEGATE_ADMIN_URL: admin.url, BOUNCEGATE_ADMIN_TOKEN: TEST_TOKEN });
      expect(result.code).toBe(0);
      expect((JSON.parse(result.stdout) as { events: unknown[] }).events).toHaveLength(2);
    });

    it('keeps escape sequences from reply texts out of the table', async () => {
      await admin.events.append([makeEvent({ time: '2026-01-01T00:02:00.000Z', text: '550 \u001b[2Jcleared' })]);
      const result = await runCli([...global, 'events']);
      expect(result.stdout).not.toContain('\u001b');
      expect(result.stdout).toContain('550 ?[2Jcleared');
    });
  });

  describe('suppress', () => {
    it('add, list, show and remove an address', async () => {
      const added = await runCli([...global, 'suppress', 'add', 'User@Example.com', '--reason', 'userunknown', '--note', 'old ESP export']);
      expect(added.code).toBe(0);
      expect(added.stdout).toBe('added user@example.com on the suppression list (reason userunknown)\n');

      const listed = await runCli([...global, 'suppress', 'list']);
      expect(listed.code).toBe(0);
      expect(listed.stdout).toMatch(/^ADDRESS\s+STATUS\s+REASON\s+ORIGIN\s+FAILURES\s+UPDATED\s+NOTE\n/);
      expect(listed.stdout).toMatch(/user@example\.com\s+active\s+userunknown\s+manual\s+1\s+\S+\s+old ESP export\n/);

      const showResult = await runCli([...global, 'suppress', 'show', 'user@example.com']);
      expect(showResult.code).toBe(0);
      expect(showResult.stdout).toMatch(/^address:\s+user@example\.com$/m);
      expect(showResult.stdout).toMatch(/^reason:\s+userunknown$/m);
      expect(showResult.stdout).toContain('audit trail:');
      expect(showResult.stdout).toMatch(/add\s+cli:tester\s+userunknown\s+old ESP export/);

      const removed = await runCli([...global, 'suppress', 'remove', 'user@example.com', '--note', 'customer confirmed the mailbox']);
      expect(removed.code).toBe(0);
      expect(removed.stdout).toBe('removed user@example.com from the suppression list (was: userunknown)\n');
      expect(await admin.suppressions.get('user@example.com')).toBeNull();

      const trail = await admin.suppressions.history('user@example.com');
      expect(trail.map((entry) => [entry.change, entry.actor, entry.note])).toEqual([
        ['add', 'cli:tester', 'old ESP export'],
        ['remove', 'cli:tester', 'customer confirmed the mailbox'],
      ]);
    });

    it('add reports a replaced entry', async () => {
      await runCli([...global, 'suppress', 'add', 'a@example.com', '--reason', 'userunknown']);
      const result = await runCli([...global, 'suppress', 'add', 'a@example.com', '--reason', 'blocked']);
      expect(result.code).toBe(0);
      expect(result.stdout).toBe('replaced the entry of a@example.com on the suppression list (reason blocked)\n');
    });

    it('prints JSON with --json', async () => {
      const added = await runCli([...global, 'suppress', 'add', 'a@example.com', '--reason', 'userunknown', '--json']);
      expect((JSON.parse(added.stdout) as SuppressionEntry).address).toBe('a@example.com');

      const listed = await runCli([...global, 'suppress', 'list', '--domain', 'example.com', '--json']);
      const page = JSON.parse(listed.stdout) as { suppressions: SuppressionEntry[]; next: string | null };
      expect(page.suppressions.map((entry) => entry.address)).toEqual(['a@example.com']);
      expect(page.next).toBeNull();

      const showResult = await runCli([...global, 'suppress', 'show', 'a@example.com', '--json']);
      const detail = JSON.parse(showResult.stdout) as SuppressionEntry & { audit: AuditEntry[] };
      expect(detail.audit.map((entry) => entry.change)).toEqual(['add']);

      const removed = await runCli([...global, 'suppress', 'remove', 'a@example.com', '--note', 'ok', '--json']);
      expect((JSON.parse(removed.stdout) as SuppressionEntry).reason).toBe('userunknown');
    });

    it('list says so when empty', async () => {
      const result = await runCli([...global, 'suppress', 'list']);
      expect(result.stdout).toBe('no suppressed addresses match\n');
    });

    it('remove without --note is a usage error', async () => {
      await runCli([...global, 'suppress', 'add', 'a@example.com', '--reason', 'userunknown']);
      for (const args of [['suppress', 'remove', 'a@example.com'], ['suppress', 'remove', 'a@example.com', '--note', '  ']]) {
        const result = await runCli([...global, ...args]);
        expect(result.code, args.join(' ')).toBe(2);
        expect(result.stderr).toContain('--note is required');
        expect(result.stderr).toContain('fresh signal');
        expect(result.stderr).toContain('usage: bouncegate suppress remove ADDRESS --note TEXT');
      }
      expect(await admin.suppressions.get('a@example.com')).not.toBeNull();
    });

    it('add without --reason is a usage error', async () => {
      const result = await runCli([...global, 'suppress', 'add', 'a@example.com']);
      expect(result.code).toBe(2);
      expect(result.stderr).toContain('--reason is required');
    });

    it('remove of an absent address fails', async () => {
      const result = await runCli([...global, 'suppress', 'remove', 'nobody@example.com', '--note', 'x']);
      expect(result.code).toBe(1);
      expect(result.stderr).toBe('bouncegate: nobody@example.com is not on the suppression list; nothing removed\n');
    });

    it('show of a removed address prints its trail', async () => {
      await runCli([...global, 'suppress', 'add', 'a@example.com', '--reason', 'userunknown']);
      await runCli([...global, 'suppress', 'remove', 'a@example.com', '--note', 'mailbox restored']);

      const result = await runCli([...global, 'suppress', 'show', 'a@example.com']);
      expect(result.code).toBe(1);
      expect(result.stderr).toBe('bouncegate: a@example.com is not on the suppression list\n');
      expect(result.stdout).toContain('was on the list before');
      expect(result.stdout).toMatch(/remove\s+cli:tester\s+userunknown\s+mailbox restored/);
    });

    it('invalid address is a usage error', async () => {
      const result = await runCli([...global, 'suppress', 'add', 'not-an-address', '--reason', 'x']);
      expect(result.code).toBe(2);
      expect(result.stderr).toContain('invalid address "not-an-address"');
    });
  });

  describe('queue', () => {
    beforeEach(async () => {
      await enqueue(admin.queue, 'QUEUEA', [
        {
          recipient: 'slow@example.com',
          status: 'deferred',
          attempts: 3,
          nextAttemptAt: Date.parse('2026-01-01T03:00:00.000Z'),
          lastMx: 'mx.example.com',
          lastReply: {
            code: 421,
            enhancedCode: '4.3.2',
            text: '421 4.3.2 try later',
            stage: 'rcpt',
            local: false,
            localPermanent: false,
          },
        },
      ]);
    });

    it('prints waiting recipients', async () => {
      const result = await runCli([...global, 'queue']);
      expect(result.code).toBe(0);
      const lines = result.stdout.trimEnd().split('\n');
      expect(lines[0]).toMatch(/^QUEUE ID\s+RECIPIENT\s+STATUS\s+ATTEMPTS\s+NEXT ATTEMPT\s+LAST MX\s+LAST REPLY$/);
      expect(lines[1]).toMatch(/^QUEUEA\s+slow@example\.com\s+deferred\s+3\s+2026-01-01T03:00:00\.000Z\s+mx\.example\.com\s+421 4\.3\.2 try later$/);
      expect(lines[2]).toBe('1 of 1 waiting recipients shown');
    });

    it('prints JSON with --json', async () => {
      const result = await runCli([...global, 'queue', '--json']);
      const body = JSON.parse(result.stdout) as { queue: QueueItem[]; total: number };
      expect(body.total).toBe(1);
      expect(body.queue[0]?.lastReply).toEqual({ code: 421, enhancedCode: '4.3.2', text: '421 4.3.2 try later' });
    });

    it('retry schedules a known message', async () => {
      const result = await runCli([...global, 'queue', 'retry', 'QUEUEA']);
      expect(result.code).toBe(0);
      expect(result.stdout).toBe('scheduled QUEUEA for an immediate attempt\n');
    });

    it('retry of an unknown message fails', async () => {
      const result = await runCli([...global, 'queue', 'retry', 'NOSUCH']);
      expect(result.code).toBe(1);
      expect(result.stderr).toBe('bouncegate: queued message NOSUCH not found\n');
    });
  });

  it('wrong token fails with a hint', async () => {
    const result = await runCli(['--admin-url', admin.url, '--token', 'wrong-token-0000000000', 'queue']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('rejected the token (HTTP 401)');
  });
});
