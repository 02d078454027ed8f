import { describe, expect, it } from 'vitest';
import { splitMailbox } from '../../src/dsn/mbox.js';
import { parseDsn } from '../../src/dsn/parse.js';
import { readDsnFixture, shippedClassifier } from './helpers.js';

async function parseFixture(name: string) {
  return parseDsn(readDsnFixture(name), shippedClassifier);
}

describe('delivery-status report', () => {
  it('reads every recipient', async () => {
    const result = await parseFixture('postfix-two-recipients.eml');

    expect(result.kind).toBe('bounce');
    expect(result.bounces.map((bounce) => bounce.recipient)).toEqual(['alice@dest.example', 'bob@other.example']);
  });

  it('classifies each recipient', async () => {
    const [alice, bob] = (await parseFixture('postfix-two-recipients.eml')).bounces;

    expect(alice?.status).toBe('5.1.1');
    expect(alice?.replycode).toBe(550);
    expect(alice?.reason).toBe('userunknown');
    expect(alice?.suppress).toBe(true);
    expect(bob?.status).toBe('5.2.2');
    expect(bob?.reason).toBe('mailboxfull');
    expect(bob?.suppress).toBe(false);
  });

  it('unfolds folded fields', async () => {
    const [alice] = (await parseFixture('postfix-two-recipients.eml')).bounces;

    expect(alice?.diagnostic).toBe('550 5.1.1 <alice@dest.example>: Recipient address rejected: User unknown in virtual mailbox table');
  });

  it('keeps the per-recipient fields', async () => {
    const result = await parseFixture('postfix-two-recipients.eml');
    const [alice] = result.bounces;

    expect(alice?.action).toBe('failed');
    expect(alice?.remoteMta).toBe('mx.dest.example');
    expect(alice?.lastAttemptDate).toBe('Tue, 14 May 2024 10:02:11 +0200 (CEST)');
    expect(alice?.originalRecipient).toBe('Alice@dest.example');
    expect(result.reportingMta).toBe('mx1.relay.example');
  });

  it('reads the returned headers', async () => {
    const result = await parseFixture('postfix-two-recipients.eml');

    expect(result.originalMessageId).toBe('weekly-2024-20@sender.example');
    expect(result.originalQueueId).toBe('01HXQ3W9Z8K2M4N6P8R0T2V4X6');
    expect(result.originalHeaders['subject']).toBe('Weekly news');
  });
});

describe('global delivery-status report', () => {
  it('reads UTF-8 recipients', async () => {
    const result = await parseFixture('global-report.eml');

    expect(result.bounces.map((bounce) => bounce.recipient)).toEqual(['jörg@xn--bcher-kva.example', 'annaé@example.com']);
  });

  it('classifies its records', async () => {
    const [jorg, anna] = (await parseFixture('global-report.eml')).bounces;

    expect(jorg?.reason).toBe('userunknown');
    expect(jorg?.suppress).toBe(true);
    expect(anna?.action).toBe('delayed');
    expect(anna?.permanent).toBe(false);
  });

  it('reads global headers', async () => {
    const result = await parseFixture('global-report.eml');

    expect(result.originalMessageId).toBe('gruesse-1@sender.example');
    expect(result.originalQueueId).toBe('01HXQ4A0B1C2D3E4F5G6H7J8K9');
  });
});

describe('plain-text bounces', () => {
  it('qmail notice yields each recipient', async () => {
    const result = await parseFixture('qmail.eml');

    expect(result.kind).toBe('bounce');
    expect(result.bounces.map((bounce) => bounce.recipient)).toEqual(['carol@dest.example', 'dave@gone.example']);
  });

  it('qmail codes are read from the text', async () => {
    const [carol, dave] = (await parseFixture('qmail.eml')).bounces;

    expect(carol?.replycode).toBe(550);
    expect(carol?.status).toBe('5.1.1');
    expect(carol?.reason).toBe('userunknown');
    expect(dave?.status).toBe('5.1.2');
    expect(dave?.reason).toBe('hostunknown');
    expect(dave?.suppress).toBe(true);
  });

  it('qmail returned copy gives the queue id', async () => {
    const result = await parseFixture('qmail.eml');

    expect(result.originalMessageId).toBe('20240603071454.4409.qmail@sender.example');
    expect(result.originalQueueId).toBe('01HZB7K3M5N7P9Q1R3S5T7V9W1');
  });

  it('Exim notice with X-Failed-Recipients', async () => {
    const result = await parseFixture('exim.eml');
    const [erin] = result.bounces;

    expect(result.bounces).toHaveLength(1);
    expect(erin?.recipient).toBe('erin@dest.example');
    expect(erin?.replycode).toBe(550);
    expect(erin?.reason).toBe('blocked');
    expect(erin?.suppress).toBe(false);
    expect(result.originalMessageId).toBe('exim-test-1@sender.example');
  });
});

describe('messages that are not failures', () => {
  it('auto-reply is never a failure', async () => {
    const result = await parseFixture('autoreply.eml');

    expect(result.kind).toBe('autoreply');
    expect(result.bounces).toHaveLength(1);
    expect(result.bounces[0]?.recipient).toBe('frank@dest.example');
    expect(result.bounces[0]?.reason).toBe('vacation');
    expect(result.bounces[0]?.suppress).toBe(false);
    expect(result.originalMessageId).toBe('weekly-2024-20@sender.example');
  });

  it('ARF report is feedback', async () => {
    const result = await parseFixture('arf.eml');

    expect(result.kind).toBe('feedback');
    expect(result.bounces[0]?.recipient).toBe('grace@isp.example');
    expect(result.bounces[0]?.reason).toBe('feedback');
    expect(result.bounces[0]?.suppress).toBe(false);
    expect(result.originalQueueId).toBe('01HXQ3W9Z8K2M4N6P8R0T2V4X7');
  });

  it('ordinary mail is not a bounce', async () => {
    const result = await parseFixture('plain-mail.eml');

    expect(result.kind).toBe('not-bounce');
    expect(result.bounces).toEqual([]);
  });

  it('delay report is a delay', async () => {
    const result = await parseFixture('delayed.eml');
    const [ivan] = result.bounces;

    expect(result.kind).toBe('delay');
    expect(ivan?.action).toBe('delayed');
    expect(ivan?.status).toBe('4.4.1');
    expect(ivan?.permanent).toBe(false);
    expect(ivan?.suppress).toBe(false);
  });

  it('success report keeps delivered records', async () => {
    const result = await parseFixture('delivered.eml');

    expect(result.kind).toBe('not-bounce');
    expect(result.bounces[0]?.reason).toBe('delivered');
    expect(result.bounces[0]?.action).toBe('delivered');
    expect(result.bounces[0]?.suppress).toBe(false);
  });
});

describe('nested and stored bounces', () => {
  it('bounce attached to a message is read', async () => {
    const result = await parseFixture('forwarded-bounce.eml');

    expect(result.bounces.map((bounce) => bounce.recipient)).toEqual(['mallory@dest.example']);
    expect(result.bounces[0]?.reason).toBe('userunknown');
    expect(result.bounces[0]?.suppress).toBe(true);
    expect(result.originalMessageId).toBe('hello-mallory@sender.example');
  });

  it('mbox splits into messages', async () => {
    const messages = splitMailbox(readDsnFixture('two-bounces.mbox'));
    const results = await Promise.all(messages.map((message) => parseDsn(message, shippedClassifier)));

    expect(messages).toHaveLength(2);
    expect(results.flatMap((result) => result.bounces.map((bounce) => bounce.recipient))).toEqual([
      'erin@dest.example',
      'carol@dest.example',
      'dave@gone.example',
    ]);
  });

  it('single message passes through splitMailbox', () => {
    const raw = readDsnFixture('exim.eml');

    expect(splitMailbox(raw)).toEqual([raw]);
  });
});
