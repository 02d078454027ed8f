import { fileURLToPath } from 'node:url';
import type { SuppressionRule } from '../config/schema.js';
import type { Classification, Classifier } from '../core/classification.js';
import { isPermanent, localFailure, parseReply, type Reply } from '../core/reply.js';
import type { Stage } from '../core/types.js';
import { flattenReplyText, matchConditions } from './match.js';
import { compileOverrides, type Rule, type RuleSample, type RuleSet } from './rules.js';

/**
 * Absolute path of the shipped rule file. Resolved from this module two folders up, which is the
 * repository root both for src/classify/ under tsx and for dist/classify/ after tsc.
 */
export const DEFAULT_RULES_PATH: string = fileURLToPath(new URL('../../config/bounce-rules.yaml', import.meta.url));

/** The rule that decided a classification, for audits and the `classify` command. */
export interface RuleSummary {
  name: string;
  /** The rule file, or "suppression.rules" for an operator rule from the config, or "built-in". */
  source: string;
  index: number;
  line: number | null;
  note: string | null;
}

/** A classifier that also explains which rule matched and why. */
export interface ExplainingClassifier extends Classifier {
  explain(reply: Reply, mx: string | null): { classification: Classification; rule: RuleSummary; why: string };
}

// Steps of an SMTP session before RCPT TO. A server's reply to one of them cannot be about a
// recipient, so it never suppresses one, whatever rule matched.
const BEFORE_RECIPIENT: ReadonlySet<Stage> = new Set(['connect', 'greeting', 'ehlo', 'starttls', 'auth', 'mail']);

// Decides a reply that no rule matches, so a rule set without catch-all rules still classifies.
const NO_MATCH_RULE: Rule = {
  name: 'no-rule-matched',
  source: 'built-in',
  index: 0,
  line: null,
  conditions: { codes: null, enhancedCodes: null, text: null, mx: null, stages: null, local: null, unless: [] },
  reason: 'undefined',
  side: 'recipient',
  suppress: false,
  sample: null,
  note: 'no rule matched the reply',
};

/**
 * Builds a classifier from loaded rule files. Operator rules (`suppression.rules` of the config) are
 * tried first, then the rules in file order, and the first match decides. Permanence comes from the
 * basic code alone (5xx permanent, 4xx transient), or from `localPermanent` for a local failure. A
 * rule's `suppress` applies only to a permanent outcome, and never to a server's reply to a command
 * before RCPT TO.
 */
export function createClassifier(rules: RuleSet, overrides?: SuppressionRule[] | null): ExplainingClassifier {
  const ordered: readonly Rule[] = [...compileOverrides(overrides ?? []), ...rules.rules];

  function classify(reply: Reply, mx: string | null): { classification: Classification; matched: Rule; reasons: string[] } {
    const flatText = flattenReplyText(reply.text);
    let matched: Rule = NO_MATCH_RULE;
    let reasons: string[] = ['no rule matched'];

    for (const rule of ordered) {
      const result = matchConditions(rule.conditions, reply, mx, flatText);
      if (result) {
        matched = rule;
        reasons = result;
        break;
      }
    }

    const permanent = isPermanent(reply);
    const beforeRecipient = !reply.local && BEFORE_RECIPIENT.has(reply.stage);
    const classification: Classification = {
      reason: matched.reason,
      side: matched.side,
      permanent,
      suppress: matched.suppress && permanent && !beforeRecipient,
      rule: matched.name,
    };
    return { classification, matched, reasons };
  }

  // The explanation text is built only when asked for: delivery classifies every failed reply.
  return {
    classify: (reply, mx) => classify(reply, mx).classification,
    explain(reply, mx) {
      const { classification, matched, reasons } = classify(reply, mx);
      return { classification, rule: summarize(matched), why: describeDecision(reply, matched, reasons, classification) };
    },
  };
}

/** Builds the reply value a rule's sample stands for, so tests and tools can run it through a classifier. */
export function sampleReply(sample: RuleSample): Reply {
  if (sample.local) {
    return localFailure(sample.stage, sample.reply, { enhancedCode: sample.enhancedCode, permanent: sample.permanent });
  }
  return parseReply(sample.reply, sample.stage);
}

function summarize(rule: Rule): RuleSummary {
  return { name: rule.name, source: rule.source, index: rule.index, line: rule.line, note: rule.note };
}

function describeDecision(reply: Reply, rule: Rule, reasons: string[], classification: Classification): string {
  const where = rule.line === null ? rule.source : `${rule.source}:${rule.line}`;
  const matched = rule === NO_MATCH_RULE ? 'no rule matched' : `rule "${rule.name}" (${where}) matched: ${reasons.join('; ')}`;

  let permanence: string;
  if (reply.local) {
    permanence = classification.permanent ? 'permanent local failure' : 'transient local failure';
  } else if (reply.code === null) {
    permanence = 'no reply code, so not permanent';
  } else {
    permanence = classification.permanent ? `permanent because ${reply.code} is 5xx` : `not permanent because ${reply.code} is not 5xx`;
  }

  let suppression: string;
  if (classification.suppress) {
    suppression = 'the recipient is suppressed';
  } else if (rule.suppress && !classification.permanent) {
    suppression = 'the rule would suppress, but only a permanent failure does';
  } else if (rule.suppress) {
    suppression = `the rule would suppress, but a reply at the ${reply.stage} stage names no recipient`;
  } else {
    suppression = 'the rule does not suppress';
  }

  return `${matched}. Reason ${classification.reason} (${classification.side} side), ${permanence}; ${suppression}.`;
}
