import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EscalationPacket } from '../../src/admin/escalation.js';
import type { Segment } from '../../src/admin/segment-routes.js';
import type { TriageResult } from '../../src/admin/triage.js';
import type { DeliveryEvent } from '../../src/core/types.js';
import { verifySignature } from '../../src/webhooks/signature.js';
import { runCli } from '../cli/helpers.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';
import { makeTempDir } from '../helpers/tmp.js';
import { startTestRelay, submit, TEST_TOKEN, waitFor, waitForEvent, type TestRelay } from './harness.js';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const ARTIFACTS = join(REPO, 'test-artifacts');
const auth = { Authorization: `Bearer ${TEST_TOKEN}` };

/** The Exchange Online rejection of a recipient that Directory-Based Edge Blocking does not know. */
const ACCESS_DENIED =
  '550 5.4.1 Recipient address rejected: Access denied. AS(201806281) [DB5EUR03FT011.eop-EUR03.prod.protection.outlook.com]';

/**
 * Two copies of one rejection that differ in the recipient and the front-end host. The template is
 * the corpus reply when the corpus is present, else the same reply written here.
 */
function sameRejectionTwice(first: string, second: string): [string, string] {
  const dir = process.env.BOUNCEGATE_CORPUS ?? join(REPO, '..', 'shared', 'corpus');
  let template = '550 5.4.1 [user@example.com]: Recipient address rejected: Access denied [BL2NAM02FT061.eop-nam02.prod.protection.outlook.com]';
  const file = join(dir, 'replies.jsonl');
  if (existsSync(file)) {
    const replies = readFileSync(file, 'utf8')
      .split('\n')
      .filter((line) => line.trim() !== '')
      .map((line) => (JSON.parse(line) as { reply: string }).reply);
    const found = replies.find((reply) => reply.startsWith('550 5.4.1 [user@example.com]') && !reply.includes('\n'));
    template = found ?? template;
  } else {
    console.log(`Corpus not found at ${dir}: the segment test uses its own copy of the 5.4.1 reply instead of replies.jsonl.`);
  }
  return [
    template.replace('user@example.com', first),
    template.replace('user@example.com', second).replace('BL2NAM02FT061.eop-nam02', 'AM4PEPF00027A5F.eop-EUR04'),
  ];
}

async function api<T>(relay: TestRelay, path: string, init: RequestInit = {}): Promise<{ status: number; body: T }> {
  const response = await fetch(`http://127.0.0.1:${relay.admin.port}${path}`, { ...init, headers: { ...auth, ...(init.headers ?? {}) } });
  const text = await response.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // Text responses (CSV, plain text, metrics) stay strings.
  }
  return { status: response.status, body: body as T };
}

function cli(relay: TestRelay, args: string[]) {
  return runCli(['--admin-url', `http://127.0.0.1:${relay.admin.port}`, '--token', TEST_TOKEN, ...args]);
}

describe('operator features against a live relay', () => {
  let upstream: Upstream;
  let relay: TestRelay;
  const [aliceReply, bobReply] = sameRejectionTwice('alice@acme.example', 'bob@acme.example');

  beforeAll(async () => {
    upstream = await startUpstream({
      recipients: {
        'gone@tenant.example': ACCESS_DENIED,
        'alice@acme.example': aliceReply,
        'bob@acme.example': bobReply,
      },
      onRecipient: (recipient, attempt) => (recipient.startsWith('grey') && attempt === 1 ? '451 4.7.1 Greylisted, try again later' : null),
    });
    relay = await startTestRelay({ relay: { smarthost: `127.0.0.1:${upstream.port}` }, retry: { schedule: [3600], maxAge: 86_400 } });
    mkdirSync(ARTIFACTS, { recursive: true });
  });

  afterAll(async () => {
    await relay?.destroy();
    await upstream?.close();
  });

  it('triages one 5.4.1 recipient among deliveries', async () => {
    await submit(relay, { from: 'app@sender.example', to: ['ok1@tenant.example', 'ok2@tenant.example', 'gone@tenant.example'] });
    const bounced = await waitForEvent(relay, 'gone@tenant.example', 'bounced');
    await waitForEvent(relay, 'ok1@tenant.example', 'delivered');
    await waitForEvent(relay, 'ok2@tenant.example', 'delivered');

    const { status, body } = await api<TriageResult>(relay, '/api/triage?domain=tenant.example');
    expect(status).toBe(200);
    expect(body.verdict).toBe('single-bad-recipient');
    expect(body.evidence.eventIds).toContain(bounced.id);
    expect(body.evidence.recipients).toEqual(['gone@tenant.example']);
    expect(body.evidence.sampleText).toBe(ACCESS_DENIED);
    expect(body.totals.delivered).toBe(2);
    expect(body.action).toContain('gone@tenant.example');
    writeFileSync(join(ARTIFACTS, 'triage-5.4.1.json'), `${JSON.stringify(body, null, 2)}\n`);

    const viaCli = await cli(relay, ['triage', '--domain', 'tenant.example']);
    expect(viaCli.code).toBe(0);
    expect(viaCli.stdout).toMatch(/^verdict:\s+single-bad-recipient$/m);
    expect(viaCli.stdout).toContain(bounced.id);
  });

  it('builds the escalation packet with the exact bounce text', async () => {
    const bounced = await waitForEvent(relay, 'gone@tenant.example', 'bounced');

    const json = await api<EscalationPacket>(relay, '/api/escalate?domain=tenant.example&format=json');
    expect(json.status).toBe(200);
    expect(json.body.bounceText).toBe(ACCESS_DENIED);
    expect(json.body.time).toBe(bounced.time);
    expect(json.body.senderDomain).toBe('sender.example');
    expect(json.body.envelopeSender).toBe('app@sender.example');
    expect(json.body.sendingIp).toBe(bounced.localIp);
    expect(json.body.sendingIp).toMatch(/^127\./);
    expect(json.body.remoteIp).toBe('127.0.0.1');
    expect(json.body.remoteMx).toBe(bounced.mx);
    expect(json.body.sampleRecipients).toEqual(['gone@tenant.example']);
    expect(json.body.eventId).toBe(bounced.id);

    const text = await api<string>(relay, '/api/escalate?domain=tenant.example&format=text');
    expect(text.status).toBe(200);
    expect(text.body).toContain(`Reply:            ${ACCESS_DENIED}`);
    expect(text.body).toContain(`Time:             ${bounced.time.replace('T', ' ').replace(/\.\d{3}Z$/, ' UTC')}`);
    expect(text.body).toContain('Envelope sender:  app@sender.example');
    expect(text.body).toContain(`Our sending IP:   ${bounced.localIp}`);
    writeFileSync(join(ARTIFACTS, 'escalation-5.4.1.txt'), text.body);

    const viaCli = await cli(relay, ['escalate', '--domain', 'tenant.example']);
    expect(viaCli.code).toBe(0);
    expect(viaCli.stdout).toBe(text.body);
  });

  it('shows the full history of a recipient and a message', async () => {
    const bounced = await waitForEvent(relay, 'gone@tenant.example', 'bounced');

    const recipient = await api<{ events: DeliveryEvent[]; suppression: { reason: string } | null }>(relay, '/api/history/recipient/GONE%40tenant.example');
    expect(recipient.status).toBe(200);
    expect(recipient.body.events.map((event) => event.id)).toContain(bounced.id);
    expect(recipient.body.suppression?.reason).toBe('userunknown');

    const message = await api<{ message: { sender: string }; recipients: Array<{ recipient: string; status: string }>; events: DeliveryEvent[] }>(
      relay,
      `/api/history/message/${bounced.queueId}`,
    );
    expect(message.status).toBe(200);
    expect(message.body.message.sender).toBe('app@sender.example');
    expect(message.body.recipients.map((state) => [state.recipient, state.status])).toEqual([
      ['ok1@tenant.example', 'delivered'],
      ['ok2@tenant.example', 'delivered'],
      ['gone@tenant.example', 'bounced'],
    ]);
    expect(message.body.events.length).toBeGreaterThanOrEqual(3);

    const viaCli = await cli(relay, ['history', 'gone@tenant.example']);
    expect(viaCli.code).toBe(0);
    expect(viaCli.stdout).toContain('550 5.4.1 Recipient address rejected: Access denied');
  });

  it('groups two copies of one rejection by normalised text', async () => {
    await submit(relay, { from: 'app@sender.example', to: ['alice@acme.example', 'bob@acme.example'] });
    await waitForEvent(relay, 'alice@acme.example', 'bounced');
    await waitForEvent(relay, 'bob@acme.example', 'bounced');

    const { status, body } = await api<{ segments: Segment[] }>(relay, '/api/segments?by=text');
    expect(status).toBe(200);
    const matching = body.segments.filter((segment) => segment.value.includes('Recipient address rejected: Access denied [<host>]'));
    expect(matching).toHaveLength(1);
    expect(matching[0]?.value).toBe('550 5.4.1 [<address>]: Recipient address rejected: Access denied [<host>]');
    expect(matching[0]?.bounced).toBe(2);

    const byDomain = await api<{ segments: Segment[] }>(relay, '/api/segments?by=domain');
    expect(byDomain.body.segments.find((segment) => segment.value === 'acme.example')?.bounced).toBe(2);

    const viaCli = await cli(relay, ['segments', '--by', 'text', '--json']);
    expect(viaCli.code).toBe(0);
    const parsed = JSON.parse(viaCli.stdout) as { segments: Segment[] };
    expect(parsed.segments.some((segment) => segment.value === matching[0]?.value && segment.bounced === 2)).toBe(true);
  });

  it('round-trips suppressions through CSV', async () => {
    await waitFor(async () => ((await relay.suppressions.get('bob@acme.example')) ? true : undefined));
    const exported = await api<string>(relay, '/api/suppressions/export?format=csv');
    expect(exported.status).toBe(200);
    const lines = exported.body.trimEnd().split('\r\n');
    expect(lines[0]).toBe('address,reason,status,origin,createdAt,updatedAt,expiresAt,count,note,lastTime,lastCode,lastEnhancedCode,lastMx,lastRemoteIp,lastText');
    expect(lines.some((line) => line.startsWith('gone@tenant.example,userunknown,active,delivery,'))).toBe(true);

    const before = await relay.suppressions.list({ limit: 100 });
    for (const entry of before.suppressions) {
      await relay.suppressions.remove(entry.address, 'round trip test', 'test');
    }
    expect((await relay.suppressions.list({ limit: 100 })).suppressions).toHaveLength(0);

    const imported = await api<{ imported: number; added: number }>(relay, '/api/suppressions/import', {
      method: 'POST',
      headers: { 'Content-Type': 'text/csv' },
      body: exported.body,
    });
    expect(imported.status).toBe(200);
    expect(imported.body.imported).toBe(before.suppressions.length);
    expect(imported.body.added).toBe(before.suppressions.length);

    const after = await relay.suppressions.list({ limit: 100 });
    const essentials = (entries: typeof after.suppressions) =>
      entries.map((entry) => [entry.address, entry.reason, entry.status, entry.origin, entry.createdAt, entry.count, entry.last.text, entry.last.code]);
    expect(essentials(after.suppressions)).toEqual(essentials(before.suppressions));
    expect(await relay.suppressions.findActive('gone@tenant.example')).not.toBeNull();

    const dir = makeTempDir();
    try {
      const file = join(dir.path, 'list.csv');
      const exportCli = await cli(relay, ['suppress', 'export', '--format', 'csv', '--output', file]);
      expect(exportCli.code).toBe(0);
      expect(readFileSync(file, 'utf8').split('\r\n')[0]).toBe(lines[0]);
      const importCli = await cli(relay, ['suppress', 'import', file]);
      expect(importCli.code).toBe(0);
      expect(importCli.stdout).toBe(`imported ${before.suppressions.length} entries: 0 added, ${before.suppressions.length} replaced\n`);
    } finally {
      dir.remove();
    }

    const audit = await api<{ audit: Array<{ change: string; actor: string }> }>(relay, '/api/audit?limit=5');
    expect(audit.body.audit[0]?.actor).toBe('cli:tester');
  });

  it('holds, releases and deletes queued mail', async () => {
    const first = await submit(relay, { from: 'app@sender.example', to: ['grey1@slow.example'] });
    const queueId = first.response.split(' ').pop() ?? '';
    await waitForEvent(relay, 'grey1@slow.example', 'deferred');

    const summary = await api<{ groups: Array<{ domain: string; recipients: number; topReply: { sample: string } | null }> }>(relay, '/api/queue/summary');
    const slow = summary.body.groups.find((group) => group.domain === 'slow.example');
    expect(slow?.recipients).toBe(1);
    expect(slow?.topReply?.sample).toBe('451 4.7.1 Greylisted, try again later');

    const held = await api<{ held: boolean; recipients: string[] }>(relay, `/api/queue/${queueId}/hold`, { method: 'POST' });
    expect(held.status).toBe(200);
    expect(held.body).toEqual({ queueId, held: true, recipients: ['grey1@slow.example'] });
    const due = await relay.queue.dueRecipients(Number.MAX_SAFE_INTEGER, 100);
    expect(due.filter((entry) => entry.queueId === queueId)).toEqual([]);
    const [record] = await relay.queue.getRecipients(queueId);
    expect(record?.status).toBe('deferred');
    expect(record?.nextAttemptAt).toBeNull();
    const listing = await api<{ queue: Array<{ queueId: string; held: boolean; nextAttemptAt: string | null }> }>(relay, '/api/queue');
    expect(listing.body.queue.find((item) => item.queueId === queueId)).toMatchObject({ held: true, nextAttemptAt: null });

    const retryHeld = await api<unknown>(relay, `/api/queue/${queueId}/retry`, { method: 'POST' });
    expect(retryHeld.status).toBe(409);

    const released = await cli(relay, ['queue', 'release', queueId]);
    expect(released.code).toBe(0);
    expect(released.stdout).toBe(`released ${queueId} (1 waiting recipients)\n`);
    const delivered = await waitForEvent(relay, 'grey1@slow.example', 'delivered');
    expect(delivered.attempt).toBe(2);

    const second = await submit(relay, { from: 'app@sender.example', to: ['grey2@slow.example'] });
    const doomed = second.response.split(' ').pop() ?? '';
    await waitForEvent(relay, 'grey2@slow.example', 'deferred');
    // A small body is stored in LevelDB with its queue record, not in a spool file.
    expect(existsSync(join(relay.dataDir, 'spool', doomed))).toBe(false);
    expect((await relay.queue.getBody(doomed))?.toString('utf8')).toContain('X-Bouncegate-Queue-Id: ' + doomed);

    const missingNote = await api<{ error: { field: string } }>(relay, `/api/queue/${doomed}`, { method: 'DELETE' });
    expect(missingNote.status).toBe(400);
    expect(missingNote.body.error.field).toBe('note');

    const deleted = await cli(relay, ['queue', 'delete', doomed, '--note', 'duplicate send']);
    expect(deleted.code).toBe(0);
    const expired = await waitForEvent(relay, 'grey2@slow.example', 'expired');
    expect(expired.reason).toBe('deleted-by-operator');
    expect(expired.text).toBe('deleted from the queue by cli:tester: duplicate send');
    expect(await relay.queue.getBody(doomed)).toBeNull();
    const [finished] = await relay.queue.getRecipients(doomed);
    expect(finished?.status).toBe('expired');
    expect(finished?.nextAttemptAt).toBeNull();
  });

  it('streams a live event over SSE', async () => {
    const controller = new AbortController();
    const response = await fetch(`http://127.0.0.1:${relay.admin.port}/api/events/stream?domain=live.example`, {
      headers: auth,
      signal: controller.signal,
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');

    const reader = response.body!.getReader();
    const decoder = new TextDecoder();
    const received = (async () => {
      let buffer = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) {
          throw new Error('stream ended before an event arrived');
        }
        buffer += decoder.decode(value, { stream: true });
        const match = /event: delivery\ndata: (.+)\n\n/.exec(buffer);
        if (match?.[1]) {
          return JSON.parse(match[1]) as DeliveryEvent;
        }
      }
    })();

    // The CLI stream connects at its own pace, so messages go out until both streams have one.
    let tailDone = false;
    const tail = cli(relay, ['tail', '--domain', 'live.example', '--count', '1', '--json']).finally(() => {
      tailDone = true;
    });
    let first: DeliveryEvent | undefined;
    void received.then((event) => {
      first = event;
    });
    for (let index = 0; index < 40 && !(tailDone && first); index += 1) {
      await submit(relay, { from: 'app@sender.example', to: [`user${index}@live.example`] });
      await new Promise((resolve) => setTimeout(resolve, 250));
    }

    const event = await received;
    expect(event.recipient).toBe('user0@live.example');
    expect(event.action).toBe('delivered');
    controller.abort();

    const tailed = await tail;
    expect(tailed.code).toBe(0);
    const line = JSON.parse(tailed.stdout.trim()) as DeliveryEvent;
    expect(line.recipient).toMatch(/^user\d+@live\.example$/);
    expect(line.action).toBe('delivered');
  });

  it('signs webhook deliveries', async () => {
    const received: Array<{ headers: IncomingMessage['headers']; body: string }> = [];
    const receiver: Server = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
      req.on('end', () => {
        received.push({ headers: req.headers, body });
        res.statusCode = 204;
        res.end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
      const created = await api<{ id: string; secret: string; events: string[] }>(relay, '/api/webhooks', {
        method: 'POST',
        body: JSON.stringify({ url, events: ['bounced'] }),
      });
      expect(created.status).toBe(201);
      expect(created.body.secret).toMatch(/^[A-Za-z0-9_-]{43}$/);

      await relay.suppressions.remove('gone@tenant.example', 'webhook test sends again', 'test');
      await submit(relay, { from: 'app@sender.example', to: ['gone@tenant.example', 'fine@hooks.example'] });

      const delivery = await waitFor(async () => received.find((item) => (JSON.parse(item.body) as DeliveryEvent).action === 'bounced'));
      const timestamp = String(delivery.headers['x-bouncegate-timestamp']);
      const signature = String(delivery.headers['x-bouncegate-signature']);
      expect(verifySignature(created.body.secret, timestamp, delivery.body, signature)).toBe(true);
      expect(verifySignature('another-secret-of-some-length', timestamp, delivery.body, signature)).toBe(false);
      expect(delivery.headers['x-bouncegate-event']).toBe('bounced, suppressed');
      expect((JSON.parse(delivery.body) as DeliveryEvent).recipient).toBe('gone@tenant.example');
      expect(received.every((item) => (JSON.parse(item.body) as DeliveryEvent).action === 'bounced')).toBe(true);

      const listed = await cli(relay, ['webhooks', '--json']);
      expect((JSON.parse(listed.stdout) as { webhooks: Array<{ id: string; secret?: string }> }).webhooks).toEqual([
        expect.objectContaining({ id: created.body.id }),
      ]);
      expect(listed.stdout).not.toContain(created.body.secret);
      const removed = await cli(relay, ['webhooks', 'remove', created.body.id]);
      expect(removed.code).toBe(0);
    } finally {
      await new Promise((resolve) => receiver.close(resolve));
    }
  });

  it('exposes Prometheus metrics', async () => {
    const unauthorized = await fetch(`http://127.0.0.1:${relay.admin.port}/metrics`);
    expect(unauthorized.status).toBe(401);

    const { status, body } = await api<string>(relay, '/metrics');
    expect(status).toBe(200);
    const samples = new Map<string, number>();
    for (const line of body.trimEnd().split('\n')) {
      if (line.startsWith('#')) {
        expect(line).toMatch(/^# (HELP|TYPE) [a-z_]+ .+$/);
        continue;
      }
      const match = /^([a-z_]+(?:\{[^}]*\})?) (-?[0-9.e+]+|\+Inf|NaN)$/.exec(line);
      expect(match, line).not.toBeNull();
      samples.set(match?.[1] ?? '', Number(match?.[2]));
    }
    expect(samples.get('bouncegate_events_total{action="bounced",reason="userunknown",domain_class="other"}')).toBeGreaterThanOrEqual(3);
    expect(samples.get('bouncegate_events_total{action="delivered",reason="delivered",domain_class="other"}')).toBeGreaterThanOrEqual(2);
    expect(samples.get('bouncegate_delivery_latency_seconds_count')).toBeGreaterThanOrEqual(2);
    expect(samples.get('bouncegate_suppressions')).toBeGreaterThanOrEqual(2);
    expect(samples.has('bouncegate_queue_recipients{state="due"}')).toBe(true);
    expect(samples.has('bouncegate_queue_oldest_age_seconds')).toBe(true);
  });
});
