import { describe, expect, it } from 'vitest';
import { createClassifier, DEFAULT_RULES_PATH } from '../../src/classify/classifier.js';
import { loadRuleFiles } from '../../src/classify/rules.js';
import { normalizeReplyText } from '../../src/core/normalize-text.js';
import { MAX_REPLY_TEXT, parseReply } from '../../src/core/reply.js';
import { parseDsn } from '../../src/dsn/parse.js';

const classifier = createClassifier(loadRuleFiles([DEFAULT_RULES_PATH]));

describe('hostile input stays linear', () => {
  it('returned part without a blank line', async () => {
    const raw = Buffer.from(`Subject: hello\r\n\r\nx\r\nContent-Type: message/rfc822\r\n${'a'.repeat(20)}\r\n`.repeat(1) + `${'a'.repeat(20)}\r\n`.repeat(5000));
    const started = performance.now();
    await parseDsn(raw, classifier).catch(() => null);
    expect(performance.now() - started).toBeLessThan(2000);
  });

  it('long reply normalised quickly', () => {
    const text = `550 5.1.1 ${'1.2.3.4550'.repeat(100_000)}`;
    const started = performance.now();
    normalizeReplyText(text);
    expect(performance.now() - started).toBeLessThan(500);
  });

  it('reply text is capped', () => {
    const reply = parseReply(`550 5.1.1 ${'x'.repeat(1_000_000)}`, 'rcpt');
    expect(reply.text.length).toBeLessThan(MAX_REPLY_TEXT + 100);
    expect(reply.text).toMatch(/more characters cut\]$/);
    expect(reply.enhancedCode).toBe('5.1.1');
  });
});
