import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { captureLogger, enqueue, makeEvent, startAdminFixture, TEST_TOKEN, type AdminFixture } from '../admin/fixture.js';
import { createQueueControl } from '../../src/queue/control.js';
import { MessageBodies } from '../../src/spool/bodies.js';
import { Spool } from '../../src/spool/spool.js';
import { WebhookDispatcher } from '../../src/webhooks/dispatcher.js';
import { WebhookStore } from '../../src/webhooks/store.js';
import { Database } from '../../src/store/db.js';
import { EventStore } from '../../src/store/events.js';
import { makeTempDir } from '../helpers/tmp.js';
import { runCli } from './helpers.js';

describe('CLI operator commands', () => {
  it('help lists the operator commands', async () => {
    const result = await runCli(['help']);
    expect(result.code).toBe(0);
    for (const command of [
      'history ADDRESS|QUEUE_ID',
      'segments',
      'triage',
      'escalate --domain DOMAIN',
      'tail',
      'suppress import FILE',
      'suppress export',
      'suppress confirm ADDRESS',
      'suppress discard ADDRESS --note TEXT',
      'suppress audit',
      'queue summary',
      'queue hold QUEUE_ID',
      'queue release QUEUE_ID',
      'queue delete QUEUE_ID --note TEXT',
      'webhooks [list]',
      'webhooks add URL --events TYPES',
      'webhooks remove ID',
    ]) {
      expect(result.stdout, command).toContain(`  ${command}`);
    }
  });

  it('checks required options before calling the API', async () => {
    const target = ['--admin-url', 'http://127.0.0.1:9', '--token', 'unused-token-000000'];
    expect((await runCli([...target, 'triage'])).stderr).toContain('give exactly one of --domain and --mx');
    expect((await runCli([...target, 'queue', 'delete', 'QA'])).stderr).toContain('--note is required');
    expect((await runCli([...target, 'suppress', 'discard', 'a@example.com'])).stderr).toContain('--note is required');
    expect((await runCli([...target, 'escalate'])).code).toBe(2);
    expect((await runCli([...target, 'tail', '--count', '0'])).stderr).toContain('invalid --count "0"');
    expect((await runCli([...target, 'webhooks', 'add', 'http://x.example/'])).stderr).toContain('--events is required');
  });
});

describe('CLI operator commands against a live admin API', () => {
  let admin: AdminFixture;
  let global: string[];
  let dir: ReturnType<typeof makeTempDir>;
  let webhookDb: Database;
  let dispatcher: WebhookDispatcher;

  beforeEach(async () => {
    dir = makeTempDir();
    webhookDb = await Database.open(join(dir.path, 'hooks'));
    dispatcher = new WebhookDispatcher({
      store: new WebhookStore(webhookDb),
      events: new EventStore(webhookDb, { caseSensitiveLocalPart: false }),
      logger: captureLogger().logger,
    });
    await dispatcher.start();
    // The queue control needs the fixture's stores, so the fixture starts first with a late-bound control.
    let control: ReturnType<typeof createQueueControl> | null = null;
    admin = await startAdminFixture({
      webhooks: dispatcher,
      queueControl: {
        retryNow: async (id) => control?.retryNow(id) ?? false,
        hold: async (id) => control?.hold(id) ?? null,
        release: async (id) => control?.release(id) ?? null,
        remove: async (id, note, actor) => control?.remove(id, note, actor) ?? null,
      },
    });
    control = createQueueControl({ queue: admin.queue, events: admin.events, bodies: new MessageBodies(new Spool(dir.path), admin.queue, 0), runner: { retryNow: async () => true, wake: () => {}, invalidate: () => {} } });
    global = ['--admin-url', admin.url, '--token', TEST_TOKEN];
  });

  afterEach(async () => {
    await admin.close();
    await dispatcher.stop();
    await webhookDb.close();
    dir.remove();
  });

  it('queue hold, release and delete', async () => {
    await enqueue(admin.queue, 'QA', [{ recipient: 'a@example.com', status: 'deferred', lastMx: 'mx.example.com' }]);

    const held = await runCli([...global, 'queue', 'hold', 'QA']);
    expect(held).toEqual({ code: 0, stdout: 'held QA (1 waiting recipients)\n', stderr: '' });
    const summary = await runCli([...global, 'queue', 'summary']);
    expect(summary.stdout).toMatch(/^DOMAIN\s+LAST MX\s+WAITING\s+HELD/);
    expect(summary.stdout).toMatch(/example\.com\s+mx\.example\.com\s+1\s+1/);
    const retry = await runCli([...global, 'queue', 'retry', 'QA']);
    expect(retry.code).toBe(1);
    expect(retry.stderr).toContain('is on hold');

    expect((await runCli([...global, 'queue', 'release', 'QA'])).stdout).toBe('released QA (1 waiting recipients)\n');
    const deleted = await runCli([...global, 'queue', 'delete', 'QA', '--note', 'test cleanup', '--json']);
    expect(JSON.parse(deleted.stdout)).toEqual({ queueId: 'QA', held: false, recipients: ['a@example.com'], deleted: true });
    const history = await runCli([...global, 'history', 'QA']);
    expect(history.code).toBe(0);
    expect(history.stdout).toMatch(/a@example\.com\s+expired/);
    expect(history.stdout).toContain('deleted from the queue by cli:tester: test cleanup');

    const missing = await runCli([...global, 'queue', 'hold', 'NOSUCH']);
    expect(missing).toEqual({ code: 1, stdout: '', stderr: 'bouncegate: queued message NOSUCH not found\n' });
  });

  it('suppress confirm, discard, audit and filters', async () => {
    const failure = { time: '2026-01-01T00:00:00.000Z', code: 550, enhancedCode: '5.1.1', text: 'x', mx: null, remoteIp: null, queueId: null };
    await admin.suppressions.recordFailure('p1@example.com', failure, { reason: 'userunknown', origin: 'dsn', status: 'pending' });
    await admin.suppressions.recordFailure('p2@example.com', failure, { reason: 'userunknown', origin: 'dsn', status: 'pending' });

    const pending = await runCli([...global, 'suppress', 'list', '--status', 'pending', '--origin', 'dsn', '--json']);
    expect((JSON.parse(pending.stdout) as { suppressions: unknown[] }).suppressions).toHaveLength(2);
    expect((await runCli([...global, 'suppress', 'list', '--older-than', '1d', '--json'])).stdout).toContain('"suppressions": []');

    expect((await runCli([...global, 'suppress', 'confirm', 'p1@example.com'])).stdout).toBe('confirmed p1@example.com: it now blocks mail (reason userunknown)\n');
    expect((await runCli([...global, 'suppress', 'confirm', 'p1@example.com'])).stderr).toContain('already active');
    expect((await runCli([...global, 'suppress', 'discard', 'p2@example.com', '--note', 'auto-reply'])).stdout).toBe('discarded the pending entry of p2@example.com\n');

    const audit = await runCli([...global, 'suppress', 'audit', '--limit', '2']);
    expect(audit.code).toBe(0);
    const lines = audit.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^TIME\s+CHANGE\s+ADDRESS\s+ACTOR\s+REASON\s+NOTE$/);
    expect(lines[1]).toMatch(/discard\s+p2@example\.com\s+cli:tester\s+userunknown\s+auto-reply/);
    expect(lines[2]).toMatch(/confirm\s+p1@example\.com\s+cli:tester/);
    expect(lines[3]).toMatch(/^more changes: repeat with --before \d{19}[0-9a-f]{4}$/);
  });

  it('suppress import reports invalid rows', async () => {
    const file = join(dir.path, 'bad.csv');
    writeFileSync(file, 'address,reason\r\nbroken,userunknown\r\n');
    const result = await runCli([...global, 'suppress', 'import', file]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('row 2: address "broken" must have a local part');
  });

  it('segments, triage, escalate and history read the API', async () => {
    const now = Date.now();
    await admin.events.append([
      makeEvent({ time: new Date(now - 60_000).toISOString(), recipient: 'ok@tenant.example', action: 'delivered', reason: 'delivered', code: 250, text: '250 ok', permanent: false }),
      makeEvent({ time: new Date(now - 30_000).toISOString(), recipient: 'gone@tenant.example', enhancedCode: '5.4.1', text: '550 5.4.1 Recipient address rejected: Access denied' }),
    ]);
    const segments = await runCli([...global, 'segments', '--by', 'domain']);
    expect(segments.stdout).toMatch(/^BOUNCED\s+DEFERRED\s+EXPIRED\s+SUPPRESSED\s+DELIVERED\s+DOMAIN\n1\s+0\s+0\s+0\s+1\s+tenant\.example\n$/);

    const triage = await runCli([...global, 'triage', '--domain', 'tenant.example', '--json']);
    expect(JSON.parse(triage.stdout).verdict).toBe('single-bad-recipient');

    const escalate = await runCli([...global, 'escalate', '--domain', 'tenant.example', '--json']);
    expect(JSON.parse(escalate.stdout).bounceText).toBe('550 5.4.1 Recipient address rejected: Access denied');
    expect((await runCli([...global, 'escalate', '--domain', 'quiet.example'])).stderr).toContain('no failure recorded for quiet.example');

    const history = await runCli([...global, 'history', 'gone@tenant.example']);
    expect(history.stdout).toMatch(/^recipient:\s+gone@tenant\.example$/m);
    expect(history.stdout).toMatch(/^events:\s+delivered 0, deferred 0, bounced 1, expired 0, suppressed 0$/m);
  });

  it('webhooks add, list and remove', async () => {
    const added = await runCli([...global, 'webhooks', 'add', 'https://hooks.example.com/bounces', '--events', 'bounced,dsn']);
    expect(added.code).toBe(0);
    const id = /registered webhook ([0-9a-f-]{36}) for bounced, dsn/.exec(added.stdout)?.[1];
    expect(id).toBeDefined();
    expect(added.stdout).toMatch(/secret \(shown only now; verify X-Bouncegate-Signature with it\): [A-Za-z0-9_-]{43}\n$/);

    const listed = await runCli([...global, 'webhooks']);
    expect(listed.stdout).toMatch(new RegExp(`${id}\\s+bounced,dsn\\s+\\S+\\s+https://hooks.example.com/bounces`));
    const refused = await runCli([...global, 'webhooks', 'add', 'http://169.254.169.254/', '--events', 'bounced']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('link-local');

    expect((await runCli([...global, 'webhooks', 'remove', id ?? ''])).stdout).toBe(`removed webhook ${id}\n`);
    expect((await runCli([...global, 'webhooks', 'remove', id ?? ''])).stderr).toBe(`bouncegate: webhook ${id} not found\n`);
  });
});
