import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createClassifier, DEFAULT_RULES_PATH, sampleReply } from '../../src/classify/classifier.js';
import { loadRuleFiles, parseRules } from '../../src/classify/rules.js';
import { BouncegateError } from '../../src/core/errors.js';
import { parseReply } from '../../src/core/reply.js';

const VALID_RULE = ['- name: frozen', '  text: frozen', '  reason: suspend', '  side: recipient', '  suppress: true', '  sample: "550 Mailbox frozen"'];

const tempDir = mkdtempSync(join(tmpdir(), 'bouncegate-rules-'));
afterAll(() => rmSync(tempDir, { recursive: true, force: true }));

function writeRules(name: string, lines: string[]): string {
  const path = join(tempDir, name);
  writeFileSync(path, `${lines.join('\n')}\n`);
  return path;
}

function loadError(lines: string[]): BouncegateError {
  try {
    parseRules(lines.join('\n'), 'operator.yaml');
  } catch (error) {
    if (error instanceof BouncegateError) {
      return error;
    }
    throw error;
  }
  throw new Error('expected parseRules to throw');
}

describe('every shipped rule', () => {
  const shipped = loadRuleFiles([DEFAULT_RULES_PATH]);
  const classifier = createClassifier(shipped);

  it('file has rules', () => {
    expect(shipped.rules.length).toBeGreaterThan(50);
  });

  it.each(shipped.rules.map((rule) => [rule.name, rule] as const))('sample of %s matches its own rule', (_name, rule) => {
    expect(rule.sample, 'sample').not.toBeNull();
    const sample = rule.sample!;
    const explained = classifier.explain(sampleReply(sample), sample.mx);

    expect(explained.rule.name, explained.why).toBe(rule.name);
  });
});

describe('loadRuleFiles', () => {
  it('earlier files win', () => {
    const operator = writeRules('operator.yaml', [...VALID_RULE.slice(0, 2), '  code: 5xx', ...VALID_RULE.slice(2)]);
    const rules = loadRuleFiles([operator, DEFAULT_RULES_PATH]);
    const result = createClassifier(rules).classify(parseReply('550 5.1.1 <jdoe@example.org>: frozen account', 'rcpt'), null);

    expect(result.rule).toBe('frozen');
    expect(rules.files).toEqual([operator, DEFAULT_RULES_PATH]);
  });

  it('missing file names the path', () => {
    const missing = join(tempDir, 'nope.yaml');
    expect(() => loadRuleFiles([missing])).toThrowError(new RegExp(`Cannot read rule file ${missing.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
  });

  it('errors carry the rules code', () => {
    const path = writeRules('broken.yaml', ['- name: x']);
    try {
      loadRuleFiles([path]);
      expect.unreachable('loadRuleFiles should throw');
    } catch (error) {
      expect(error).toBeInstanceOf(BouncegateError);
      expect((error as BouncegateError).code).toBe('BOUNCEGATE_RULES_INVALID');
      expect((error as BouncegateError).message).toContain(path);
    }
  });
});

describe('rule validation', () => {
  it('unknown reason lists the allowed names', () => {
    const error = loadError(VALID_RULE.map((line) => line.replace('reason: suspend', 'reason: frozen-mailbox')));

    expect(error.message).toContain('operator.yaml');
    expect(error.message).toContain('rule 0 "frozen" (line 1), field "reason"');
    expect(error.message).toContain('"frozen-mailbox" is not a known reason; allowed: userunknown');
  });

  it('alias reasons are accepted', () => {
    const [rule] = parseRules(VALID_RULE.map((line) => line.replace('reason: suspend', 'reason: ratelimited')).join('\n'), 'operator.yaml');

    expect(rule?.reason).toBe('speeding');
  });

  it('invalid side lists the sides', () => {
    const error = loadError(VALID_RULE.map((line) => line.replace('side: recipient', 'side: them')));

    expect(error.message).toContain('field "side": expected one of recipient, sender, message, network');
  });

  it('invalid regex is named', () => {
    const error = loadError(VALID_RULE.map((line) => line.replace('text: frozen', "text: '(frozen'")));

    expect(error.message).toContain('field "text": invalid regular expression');
  });

  it('invalid enhanced code pattern is named', () => {
    const error = loadError([...VALID_RULE, '  enhancedCode: "5.1.x"']);

    expect(error.message).toContain('field "enhancedCode"');
    expect(error.message).toContain('expected an enhanced status code or prefix such as "5.1.1"');
  });

  it('invalid code pattern is named', () => {
    const error = loadError([...VALID_RULE, '  code: 650']);

    expect(error.message).toContain('field "code"');
  });

  it('unknown field is named', () => {
    const error = loadError([...VALID_RULE, '  supress: true']);

    expect(error.message).toContain('Unrecognized key: "supress"');
  });

  it('missing sample is named', () => {
    const error = loadError(VALID_RULE.slice(0, -1));

    expect(error.message).toContain('field "sample"');
  });

  it('rule without match fields is rejected', () => {
    const error = loadError(VALID_RULE.filter((line) => !line.includes('text:')));

    expect(error.message).toContain('a rule needs at least one match field');
  });

  it('duplicate names are rejected', () => {
    const error = loadError([...VALID_RULE, ...VALID_RULE]);

    expect(error.message).toContain('rule 1 "frozen" (line 7), field "name": "frozen" is already used by rule 0');
  });

  it('top level must be a list', () => {
    const error = loadError(['name: frozen', 'reason: suspend']);

    expect(error.message).toContain('expected a list of rules at the top level');
  });

  it('YAML syntax error gives the line', () => {
    const error = loadError(['- name: [frozen', '  reason: suspend']);

    expect(error.message).toMatch(/YAML syntax error at line \d+, column \d+/);
  });

  it('all problems are listed', () => {
    const error = loadError([
      ...VALID_RULE.map((line) => line.replace('reason: suspend', 'reason: nope')),
      ...VALID_RULE.map((line) => line.replace('name: frozen', 'name: second').replace('side: recipient', 'side: nobody')),
    ]);

    expect(error.message).toContain('rule 0 "frozen"');
    expect(error.message).toContain('rule 1 "second"');
  });
});
