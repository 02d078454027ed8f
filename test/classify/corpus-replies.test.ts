import { afterAll, describe, expect, it } from 'vitest';
import { createClassifier, DEFAULT_RULES_PATH } from '../../src/classify/classifier.js';
import { loadRuleFiles } from '../../src/classify/rules.js';
import { parseReply } from '../../src/core/reply.js';
import type { Stage } from '../../src/core/types.js';
import { corpusDir, readReplies, type ReplyCase } from '../helpers/corpus.js';

// Share of corpus replies whose reason must match; permanence and suppression must match on every line.
const MIN_REASON_RATE = 0.97;

const present = corpusDir() !== null;
const cases: ReplyCase[] = present ? readReplies() : [];
const classifier = createClassifier(loadRuleFiles([DEFAULT_RULES_PATH]));
const reasonHits: boolean[] = [];

describe.skipIf(!present)('corpus replies', () => {
  it.each(cases.map((entry, index) => [index + 1, entry.reply.split('\n')[0]?.slice(0, 70) ?? '', entry] as const))(
    'line %i: %s',
    (_line, _summary, entry) => {
      const result = classifier.classify(parseReply(entry.reply, entry.stage as Stage), null);
      reasonHits.push(result.reason === entry.reason);

      expect(result.permanent, 'permanent').toBe(entry.permanent);
      expect(result.suppress, 'suppress').toBe(entry.suppress);
    },
  );

  afterAll(() => {
    const rate = reasonHits.filter(Boolean).length / reasonHits.length;
    console.log(`replies.jsonl: reason right on ${reasonHits.filter(Boolean).length}/${reasonHits.length} (${(rate * 100).toFixed(1)}%)`);
  });

  it('reason rate meets the target', () => {
    const hits = cases.filter((entry) => classifier.classify(parseReply(entry.reply, entry.stage as Stage), null).reason === entry.reason);

    expect(hits.length / cases.length).toBeGreaterThanOrEqual(MIN_REASON_RATE);
  });
});
