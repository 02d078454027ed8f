import { describe, expect, it } from 'vitest';
import { buildEscalation } from '../../src/admin/escalation.js';
import { triage, type CrossDomainContext, type TriageInput } from '../../src/admin/triage.js';
import type { DeliveryEvent } from '../../src/core/types.js';
import { makeEvent } from './fixture.js';

const SINCE = Date.parse('2026-01-01T00:00:00.000Z');
const UNTIL = Date.parse('2026-01-08T00:00:00.000Z');
const ACCESS_DENIED = '550 5.4.1 Recipient address rejected: Access denied. AS(201806281) [DB5EUR03FT011.eop-EUR03.prod.protection.outlook.com]';

let sequence = 0;

/** Builds a stored event with a unique, time-ordered id. */
function event(minute: number, overrides: Partial<DeliveryEvent>): DeliveryEvent {
  sequence += 1;
  const time = SINCE + minute * 60_000;
  return {
    ...makeEvent({ time: new Date(time).toISOString(), mx: 'tenant-example.mail.protection.outlook.com', ...overrides }),
    id: `${String(time).padStart(13, '0')}${String(sequence).padStart(6, '0')}abcd`,
  };
}

function delivered(minute: number, recipient: string, mx = 'tenant-example.mail.protection.outlook.com'): DeliveryEvent {
  return event(minute, { recipient, action: 'delivered', code: 250, enhancedCode: '2.0.0', text: '250 2.0.0 OK', permanent: false, reason: 'delivered', side: null, suppressed: false, mx });
}

function accessDenied(minute: number, recipient: string, mx = 'tenant-example.mail.protection.outlook.com'): DeliveryEvent {
  return event(minute, { recipient, code: 550, enhancedCode: '5.4.1', text: ACCESS_DENIED, reason: 'userunknown', side: 'recipient', mx });
}

function input(events: DeliveryEvent[], extra: Partial<TriageInput> = {}): TriageInput {
  return { subject: { domain: 'tenant.example' }, since: SINCE, until: UNTIL, events, earlier: [], ...extra };
}

describe('triage', () => {
  it('single-bad-recipient names the failing event', () => {
    const bad = accessDenied(10, 'gone@tenant.example');
    const result = triage(input([delivered(1, 'a@tenant.example'), delivered(2, 'b@tenant.example'), bad]));
    expect(result.verdict).toBe('single-bad-recipient');
    expect(result.evidence.eventIds[0]).toBe(bad.id);
    expect(result.evidence.recipients).toEqual(['gone@tenant.example']);
    expect(result.evidence.sampleText).toBe(ACCESS_DENIED);
    expect(result.action).toMatch(/gone@tenant\.example/);
    expect(result.totals).toMatchObject({ events: 3, delivered: 2, bounced: 1, recipients: 3 });
  });

  it('directory-or-edge-block for many users at one MX', () => {
    const events = [
      delivered(1, 'a@tenant.example'),
      delivered(2, 'b@tenant.example'),
      accessDenied(3, 'x@tenant.example'),
      accessDenied(4, 'y@tenant.example'),
      event(5, { recipient: 'z@tenant.example', code: 550, enhancedCode: '5.1.10', text: '550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup', reason: 'userunknown' }),
    ];
    const result = triage(input(events));
    expect(result.verdict).toBe('directory-or-edge-block');
    expect(result.evidence.mx).toEqual(['tenant-example.mail.protection.outlook.com']);
    expect(result.evidence.recipients.sort()).toEqual(['x@tenant.example', 'y@tenant.example', 'z@tenant.example']);
    expect(result.evidence.counts.failingRecipients).toBe(3);
  });

  it('tenant-policy when one host repeats one rejection', () => {
    const text = (ip: string) => `550 5.7.513 Service unavailable, Client host [${ip}] blocked by tenant.example using Customer Block list (AS16012607)`;
    const events = ['a', 'b', 'c', 'd'].map((name, index) =>
      event(index, { recipient: `${name}@tenant.example`, code: 550, enhancedCode: '5.7.513', text: text(`192.0.2.${index + 1}`), reason: 'filtered', side: 'recipient' }),
    );
    const result = triage(input(events));
    expect(result.verdict).toBe('tenant-policy');
    expect(result.evidence.text).toBe('550 5.7.513 Service unavailable, Client host [<ip>] blocked by <host> using Customer Block list (<id>)');
    expect(result.evidence.eventIds).toHaveLength(4);
    expect(result.action).toMatch(/Escalate/);
  });

  it('domain-migration when delivered contacts now fail', () => {
    const earlier = [delivered(-5000, 'old1@tenant.example', 'mx.oldhost.example'), delivered(-4000, 'old2@tenant.example', 'mx.oldhost.example')];
    const events = [accessDenied(1, 'old1@tenant.example'), accessDenied(2, 'old2@tenant.example'), delivered(3, 'new@tenant.example')];
    const result = triage(input(events, { earlier }));
    expect(result.verdict).toBe('domain-migration');
    expect(result.evidence.recipients.sort()).toEqual(['old1@tenant.example', 'old2@tenant.example']);
    expect(result.evidence.counts.mxChanged).toBe(1);
    expect(result.summary).toContain('mx.oldhost.example');
  });

  it('sender-side for reputation and authentication reasons', () => {
    const events = [
      event(1, { recipient: 'a@tenant.example', code: 550, enhancedCode: '5.7.606', text: '550 5.7.606 Access denied, banned sending IP [198.51.100.222].', reason: 'blocked', side: 'sender' }),
      event(2, { recipient: 'b@tenant.example', code: 550, enhancedCode: '5.7.509', text: '550 5.7.509 Access denied, sending domain [EXAMPLE.NET] does not pass DMARC verification', reason: 'authfailure', side: 'sender' }),
      delivered(3, 'c@tenant.example'),
    ];
    const result = triage(input(events));
    expect(result.verdict).toBe('sender-side');
    expect(result.action).toMatch(/SPF, DKIM and DMARC/);
    expect(result.evidence.counts.blocked).toBe(1);
    expect(result.evidence.counts.authfailure).toBe(1);
  });

  it('sender-side for failures rising across domains', () => {
    const crossDomain: CrossDomainContext = { failingDomains: 12, failureRate: 0.4, previousFailureRate: 0.05, events: 500, previousEvents: 480 };
    const events = [
      event(1, { recipient: 'a@tenant.example', code: 554, enhancedCode: '5.7.1', text: '554 5.7.1 Message rejected', reason: 'undefined', side: 'message' }),
      event(2, { recipient: 'b@tenant.example', code: 554, enhancedCode: '5.7.1', text: '554 5.7.1 Message rejected', reason: 'undefined', side: 'message' }),
    ];
    expect(triage(input(events, { crossDomain })).verdict).toBe('sender-side');
    expect(triage(input(events, { crossDomain: { ...crossDomain, previousEvents: 10 } })).verdict).not.toBe('sender-side');
  });

  it('greylisting retries do not blame our side', () => {
    const greylisted = (minute: number) =>
      event(minute, { recipient: 'later@tenant.example', code: 451, enhancedCode: '4.7.1', text: '451 4.7.1 Greylisted, try again later', permanent: false, action: 'deferred', reason: 'blocked', side: 'sender', rule: 'greylisting', suppressed: false });
    const events = [delivered(1, 'a@tenant.example'), greylisted(2), greylisted(7), greylisted(17), greylisted(37), accessDenied(40, 'gone@tenant.example')];
    const result = triage(input(events));
    expect(result.verdict).not.toBe('sender-side');
    expect(result.verdict).toBe('single-bad-recipient');
  });

  it('healthy with deliveries only', () => {
    const result = triage(input([delivered(1, 'a@tenant.example'), delivered(2, 'b@tenant.example')]));
    expect(result.verdict).toBe('healthy');
    expect(result.evidence.counts.deliveries).toBe(2);
  });

  it('insufficient-data without events', () => {
    const result = triage(input([]));
    expect(result.verdict).toBe('insufficient-data');
    expect(result.summary).toContain('no events in the window');
  });

  it('insufficient-data for one failure and nothing else', () => {
    expect(triage(input([accessDenied(1, 'gone@tenant.example')])).verdict).toBe('insufficient-data');
  });
});

describe('buildEscalation', () => {
  it('packages the newest permanent failure', () => {
    const older = accessDenied(1, 'first@tenant.example');
    const newest = { ...accessDenied(2, 'second@tenant.example'), localIp: '203.0.113.7', remoteIp: '40.107.22.1', sender: 'news@sender.example' };
    const packet = buildEscalation('tenant.example', [delivered(0, 'a@tenant.example'), older, newest]);
    expect(packet).not.toBeNull();
    expect(packet?.bounceText).toBe(ACCESS_DENIED);
    expect(packet?.eventId).toBe(newest.id);
    expect(packet?.sampleRecipients).toEqual(['second@tenant.example', 'first@tenant.example']);
    expect(packet?.relatedEventIds).toEqual([older.id]);
    expect(packet?.text).toContain('  Time:             2026-01-01 00:02:00 UTC');
    expect(packet?.text).toContain(`  Reply:            ${ACCESS_DENIED}`);
    expect(packet?.text).toContain('  Sender domain:    sender.example');
    expect(packet?.text).toContain('  Envelope sender:  news@sender.example');
    expect(packet?.text).toContain('  Our sending IP:   203.0.113.7');
    expect(packet?.text).toContain('  Your MX IP:       40.107.22.1');
    expect(packet?.text).toContain('The same reply was recorded 2 times.');
  });

  it('indents every line of a multi-line reply', () => {
    const reply = '550-5.7.1 first line\n550 5.7.1 second line';
    const packet = buildEscalation('tenant.example', [event(1, { recipient: 'a@tenant.example', text: reply })]);
    expect(packet?.text).toContain('  Reply:            550-5.7.1 first line\n    550 5.7.1 second line\n');
  });

  it('returns null without failures', () => {
    expect(buildEscalation('tenant.example', [delivered(1, 'a@tenant.example')])).toBeNull();
  });
});
