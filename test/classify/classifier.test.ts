import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { createClassifier, DEFAULT_RULES_PATH } from '../../src/classify/classifier.js';
import { loadRuleFiles, parseRules } from '../../src/classify/rules.js';
import { localFailure, parseReply } from '../../src/core/reply.js';
import type { Stage } from '../../src/core/types.js';

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'classify');

interface ReplyFixture {
  case: string;
  reply: string;
  stage?: Stage;
  mx?: string;
  permanent: boolean;
  reason: string;
  suppress: boolean;
}

const shipped = loadRuleFiles([DEFAULT_RULES_PATH]);
const classifier = createClassifier(shipped);
const fixtures = parse(readFileSync(join(FIXTURES, 'replies.yaml'), 'utf8')) as ReplyFixture[];

describe('shipped rules on written replies', () => {
  it.each(fixtures.map((fixture) => [fixture.case, fixture] as const))('%s', (_name, fixture) => {
    const result = classifier.classify(parseReply(fixture.reply, fixture.stage ?? 'rcpt'), fixture.mx ?? null);

    expect(result.permanent, 'permanent').toBe(fixture.permanent);
    expect(result.suppress, 'suppress').toBe(fixture.suppress);
    expect(result.reason, `reason (rule ${result.rule})`).toBe(fixture.reason);
  });
});

describe('classifier permanence', () => {
  it('local failure uses localPermanent', () => {
    const permanent = classifier.classify(localFailure('dns', 'example.net publishes a null MX', { enhancedCode: '5.1.10', permanent: true }), null);
    const transient = classifier.classify(localFailure('connect', 'connect to mx.example.org[198.51.100.7]:25 timed out', { enhancedCode: '4.4.1' }), null);

    expect(permanent.permanent).toBe(true);
    expect(permanent.suppress).toBe(true);
    expect(transient.permanent).toBe(false);
    expect(transient.reason).toBe('networkerror');
  });

  it('suppress only for permanent outcomes', () => {
    const transient = classifier.classify(parseReply('450 4.1.1 <jdoe@example.org>: Recipient address rejected: User unknown in local recipient table', 'rcpt'), null);

    expect(transient.reason).toBe('userunknown');
    expect(transient.permanent).toBe(false);
    expect(transient.suppress).toBe(false);
  });

  it('2xx reply is delivered', () => {
    const result = classifier.classify(parseReply('250 2.0.0 Ok: queued as 4Xy1Z2', 'eod'), null);

    expect(result.reason).toBe('delivered');
    expect(result.permanent).toBe(false);
    expect(result.suppress).toBe(false);
  });
});

describe('operator overrides', () => {
  it('override wins over the shipped rules', () => {
    const withOverride = createClassifier(shipped, [{ enhancedCode: '5.1.1', suppress: false, reason: 'filtered' }]);
    const result = withOverride.classify(parseReply('550 5.1.1 <jdoe@example.org>: User unknown', 'rcpt'), null);

    expect(result.rule).toBe('suppression.rules[0]');
    expect(result.reason).toBe('filtered');
    expect(result.suppress).toBe(false);
  });

  it('override text matches case-insensitively', () => {
    const withOverride = createClassifier(shipped, [{ text: 'MAILBOX IS FROZEN', suppress: true, reason: 'suspend' }]);
    const result = withOverride.classify(parseReply('550 Mailbox is frozen by the administrator', 'rcpt'), null);

    expect(result.reason).toBe('suspend');
    expect(result.side).toBe('recipient');
    expect(result.suppress).toBe(true);
  });

  it('override suppress needs a permanent reply', () => {
    const withOverride = createClassifier(shipped, [{ text: 'frozen', suppress: true, reason: 'suspend' }]);
    const result = withOverride.classify(parseReply('450 Mailbox is frozen, try later', 'rcpt'), null);

    expect(result.suppress).toBe(false);
  });

  it('override prefix stops at part boundaries', () => {
    const withOverride = createClassifier(shipped, [{ enhancedCode: '5.1.1', suppress: false, reason: 'onhold' }]);
    const result = withOverride.classify(parseReply('550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup', 'rcpt'), null);

    expect(result.rule).not.toBe('suppression.rules[0]');
  });

  it('override alias reason is read as its 5.1 name', () => {
    const withOverride = createClassifier(shipped, [{ text: 'too big', suppress: false, reason: 'emailtoolarge' }]);
    const result = withOverride.classify(parseReply('552 Message too big', 'eod'), null);

    expect(result.reason).toBe('mesgtoobig');
  });

  it('invalid override reason is rejected', () => {
    expect(() => createClassifier(shipped, [{ suppress: true, reason: 'nosuchreason' }])).toThrowError(/suppression\.rules\[0\], field "reason": "nosuchreason" is not a known reason/);
  });

  it('invalid override regex is rejected', () => {
    expect(() => createClassifier(shipped, [{ text: '(unclosed', suppress: true, reason: 'suspend' }])).toThrowError(/suppression\.rules\[0\], field "text": invalid regular expression/);
  });
});

describe('explain', () => {
  it('names the rule and the matched conditions', () => {
    const explained = classifier.explain(parseReply('550 5.4.1 Recipient address rejected: Access denied', 'rcpt'), 'example-org.mail.protection.outlook.com');

    expect(explained.rule.name).toBe('microsoft-dbeb-recipient-not-found');
    expect(explained.rule.source).toBe(DEFAULT_RULES_PATH);
    expect(explained.why).toContain('enhanced code 5.4.1 matches 5.4.1');
    expect(explained.why).toContain('the recipient is suppressed');
  });

  it('reports no match for an empty rule set', () => {
    const empty = createClassifier({ rules: [], files: [] });
    const explained = empty.explain(parseReply('550 whatever', 'rcpt'), null);

    expect(explained.classification.reason).toBe('undefined');
    expect(explained.rule.name).toBe('no-rule-matched');
    expect(explained.classification.suppress).toBe(false);
  });
});

describe('rule conditions', () => {
  const rules = parseRules(
    [
      '- name: google-only',
      '  mx: "*.google.com"',
      '  code: 5xx',
      '  reason: blocked',
      '  side: sender',
      '  suppress: false',
      '  sample: { reply: "550 blocked", mx: mx.l.google.com }',
      '- name: range',
      '  enhancedCode: "5.7.606-649"',
      '  reason: blocked',
      '  side: sender',
      '  suppress: false',
      '  sample: "550 5.7.620 banned"',
      '- name: any-class',
      '  enhancedCode: x.2.2',
      '  unless:',
      '    - text: permanent',
      '  reason: mailboxfull',
      '  side: recipient',
      '  suppress: false',
      '  sample: "452 4.2.2 full"',
    ].join('\n'),
    'inline.yaml',
  );
  const custom = createClassifier({ rules, files: ['inline.yaml'] });

  it('mx glob matches subdomains only', () => {
    expect(custom.classify(parseReply('550 no', 'rcpt'), 'alt1.gmail-smtp-in.l.google.com').rule).toBe('google-only');
    expect(custom.classify(parseReply('550 no', 'rcpt'), 'google.com').rule).toBe('no-rule-matched');
    expect(custom.classify(parseReply('550 no', 'rcpt'), null).rule).toBe('no-rule-matched');
  });

  it('enhanced code range matches its details', () => {
    expect(custom.classify(parseReply('550 5.7.606 banned', 'rcpt'), null).rule).toBe('range');
    expect(custom.classify(parseReply('550 5.7.649 banned', 'rcpt'), null).rule).toBe('range');
    expect(custom.classify(parseReply('550 5.7.650 banned', 'rcpt'), null).rule).toBe('no-rule-matched');
  });

  it('x class matches both classes', () => {
    expect(custom.classify(parseReply('452 4.2.2 full', 'rcpt'), null).rule).toBe('any-class');
    expect(custom.classify(parseReply('552 5.2.2 full', 'rcpt'), null).rule).toBe('any-class');
  });

  it('unless exception blocks the rule', () => {
    expect(custom.classify(parseReply('552 5.2.2 full, permanent', 'rcpt'), null).rule).toBe('no-rule-matched');
  });

  it('text spans wrapped reply lines', () => {
    const result = classifier.classify(
      parseReply('550-5.1.1 The email account that you tried to reach does not exist. Please try\n550-5.1.1 double-checking the recipient\'s email address.\n550 5.1.1 https://support.google.com/mail/?p=NoSuchUser - gsmtp', 'rcpt'),
      null,
    );
    expect(result.reason).toBe('userunknown');
  });
});

describe('DEFAULT_RULES_PATH', () => {
  it('points at the shipped rule file', () => {
    expect(DEFAULT_RULES_PATH.endsWith(join('config', 'bounce-rules.yaml'))).toBe(true);
    expect(existsSync(DEFAULT_RULES_PATH)).toBe(true);
  });
});
