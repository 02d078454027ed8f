import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { MAX_NORMALIZED_LENGTH, normalizeReplyText } from '../../src/core/normalize-text.js';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

describe('normalizeReplyText', () => {
  const pairs: Array<[string, string, string]> = [
    [
      'Exchange Online 5.4.1 with different front ends',
      '550 5.4.1 Recipient address rejected: Access denied. AS(201806281) [DB5EUR03FT011.eop-EUR03.prod.protection.outlook.com]',
      '550 5.4.1 Recipient address rejected: Access denied. AS(201806282) [AM4PEPF00027A5F.eop-EUR04.prod.protection.outlook.com]',
    ],
    [
      'Postfix user unknown for two recipients',
      '550 5.1.1 <alice@example.com>: Recipient address rejected: User unknown in virtual mailbox table',
      '550 5.1.1 <bob@example.org>: Recipient address rejected: User unknown in virtual mailbox table',
    ],
    [
      'Microsoft banned IP with a timestamp and id',
      '451 4.7.650 The mail server [192.0.2.25] has been temporarily rate limited due to IP reputation. (S775) [DB5PEPF00014B8F.eurprd02.prod.outlook.com 2024-03-01T04:05:06.789Z 08DC3912ABCDEF01]',
      '451 4.7.650 The mail server [198.51.100.9] has been temporarily rate limited due to IP reputation. (S775) [AM0PR02CA0001.eurprd02.prod.outlook.com 2025-11-30T23:59:59.001Z 08DC24ABCDEF0123]',
    ],
    [
      'Gmail multi-line reply with a tracking id',
      '550-5.1.1 The email account that you tried to reach does not exist.\n550 5.1.1 https://support.google.com/mail/?p=NoSuchUser a640c23a62f3a-a9e8b0c1d2e3f4si1234567.45 - gsmtp',
      '550-5.1.1 The email account that you tried to reach does not exist.\r\n550 5.1.1 https://support.google.com/mail/?p=NoSuchUser 41be03b00d2f7-5d8c1e2a3b4c5si987654.12 - gsmtp',
    ],
    [
      'IPv6 client addresses',
      '550 5.7.25 Access denied, the sending IPv6 address [2001:db8::25] must have a reverse DNS record.',
      '550 5.7.25 Access denied, the sending IPv6 address [2001:db8:1:2::99] must have a reverse DNS record.',
    ],
  ];

  for (const [name, left, right] of pairs) {
    it(`groups ${name}`, () => {
      expect(normalizeReplyText(left)).toBe(normalizeReplyText(right));
    });
  }

  it('keeps the codes and the wording', () => {
    expect(normalizeReplyText('550 5.4.1 [user@example.com]: Recipient address rejected: Access denied [BL2NAM02FT061.eop-nam02.prod.protection.outlook.com]')).toBe(
      '550 5.4.1 [<address>]: Recipient address rejected: Access denied [<host>]',
    );
  });

  it('joins continuation lines without their codes', () => {
    expect(normalizeReplyText('450-4.2.1 The user is receiving mail too quickly.\n450 4.2.1 Try again later.')).toBe(
      '450 4.2.1 The user is receiving mail too quickly. Try again later.',
    );
  });

  it('keeps enhanced codes inside brackets', () => {
    expect(normalizeReplyText('553 sorry, that domain isn\'t in my list of allowed rcpthosts (#5.7.1)')).toBe(
      "553 sorry, that domain isn't in my list of allowed rcpthosts (#5.7.1)",
    );
  });

  it('replaces numbers in brackets and RFC 5322 dates', () => {
    expect(normalizeReplyText('421 4.7.0 [192.0.2.22      18] try later at Tue, 07 May 2024 10:11:12 +0000')).toBe('421 4.7.0 [<ip> <n>] try later at <time>');
  });

  it('keeps different rejections apart', () => {
    expect(normalizeReplyText('550 5.1.1 User unknown')).not.toBe(normalizeReplyText('550 5.2.2 Mailbox full'));
  });

  it('caps the length', () => {
    expect(normalizeReplyText(`550 5.7.1 ${'blocked '.repeat(100)}`)).toHaveLength(MAX_NORMALIZED_LENGTH);
  });

  it('normalises every corpus reply stably', () => {
    const dir = process.env.BOUNCEGATE_CORPUS ?? join(REPO, '..', 'shared', 'corpus');
    const file = join(dir, 'replies.jsonl');
    if (!existsSync(file)) {
      console.log(`Corpus not found at ${dir}: skipping the normalisation check over replies.jsonl; the fixture replies above still run.`);
      return;
    }
    const replies = readFileSync(file, 'utf8')
      .split('\n')
      .filter((line) => line.trim() !== '')
      .map((line) => (JSON.parse(line) as { reply: string }).reply);
    expect(replies.length).toBeGreaterThan(0);
    for (const reply of replies) {
      const normalized = normalizeReplyText(reply);
      expect(normalized, reply).not.toBe('');
      expect(normalizeReplyText(normalized), reply).toBe(normalized);
      expect(normalized, reply).not.toMatch(/\b\d{1,3}(\.\d{1,3}){3}\b/);
      expect(normalized, reply).not.toMatch(/\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/);
      expect(normalized.startsWith(reply.slice(0, 3)), reply).toBe(true);
    }

    const userAtExample = replies.find((reply) => reply.startsWith('550 5.4.1 [user@example.com]'));
    if (userAtExample) {
      expect(normalizeReplyText(userAtExample)).toBe(normalizeReplyText(userAtExample.replace('user@example.com', 'someone.else@tenant.example')));
    }
  });
});
