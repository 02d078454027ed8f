import { readFileSync } from 'node:fs';
import { LineCounter, parseDocument, isSeq } from 'yaml';
import { z } from 'zod';
import { BouncegateError } from '../core/errors.js';
import type { SuppressionRule } from '../config/schema.js';
import type { FaultSide, Stage } from '../core/types.js';
import { CODE_PATTERN, ENHANCED_CODE_PATTERN, type RuleConditions } from './match.js';
import { canonicalReason, defaultSide, describeAllowedReasons, type Reason } from './reasons.js';

/** Every stage a reply can carry, in the order of an SMTP transaction. */
export const STAGES: readonly Stage[] = [
  'connect',
  'greeting',
  'ehlo',
  'starttls',
  'auth',
  'mail',
  'rcpt',
  'data',
  'eod',
  'dns',
  'queue',
  'submit',
  'dsn',
];

const SIDES: readonly FaultSide[] = ['recipient', 'sender', 'message', 'network'];

// Maximum number of problems one error message lists. The rest are only counted.
const MAX_LISTED_ISSUES = 10;

/** The reply a rule was written for. A plain string in the file is a server reply at the RCPT stage. */
export interface RuleSample {
  reply: string;
  stage: Stage;
  mx: string | null;
  /** Whether the sample is a local failure, which no server sent, so its text has no code. */
  local: boolean;
  /** For a local sample: the RFC 3463 code the failure carries (enhancedCode) and whether it is permanent. */
  enhancedCode: string;
  permanent: boolean;
}

/** One classification rule, compiled. */
export interface Rule {
  name: string;
  /** The file the rule came from, or "suppression.rules" for an operator rule from the config. */
  source: string;
  /** Position of the rule in its source, from 0. */
  index: number;
  /** Line of the rule in its file, from 1, or null for operator rules. */
  line: number | null;
  conditions: RuleConditions;
  reason: Reason;
  side: FaultSide;
  suppress: boolean;
  sample: RuleSample | null;
  note: string | null;
}

/** Ordered rules from one or more files: the first rule that matches a reply decides. */
export interface RuleSet {
  rules: readonly Rule[];
  files: readonly string[];
}

const oneOrMany = <T extends z.ZodType>(item: T, message: string) =>
  z.union([item, z.array(item).min(1)], { error: message }).transform((value) => (Array.isArray(value) ? value : [value]));

const reasonSchema = z.string().transform((value, context) => {
  const reason = canonicalReason(value);
  if (reason === null) {
    context.addIssue({ code: 'custom', message: `"${value}" is not a known reason; allowed: ${describeAllowedReasons()}` });
    return z.NEVER;
  }
  return reason;
});

const stageSchema = z.enum(STAGES as [Stage, ...Stage[]], { error: `expected one of ${STAGES.join(', ')}` });

const regexSchema = z.string().min(1).superRefine((value, context) => {
  try {
    new RegExp(value, 'i');
  } catch (error) {
    context.addIssue({ code: 'custom', message: `invalid regular expression: ${(error as Error).message}` });
  }
});

const codeSchema = z
  .union([z.number().int(), z.string()])
  .transform((value) => String(value).toLowerCase())
  .refine((value) => CODE_PATTERN.test(value), 'expected a reply code such as 550, "55x" or "5xx"');

const enhancedCodeSchema = z
  .string()
  .regex(ENHANCED_CODE_PATTERN, 'expected an enhanced status code or prefix such as "5.1.1", "5.7", "x.1.1" or "5.7.606-649"');

const sampleSchema = z.union(
  [
    z.string().min(1),
    z
      .object({
        reply: z.string().min(1),
        stage: stageSchema.optional(),
        mx: z.string().min(1).optional(),
        local: z.boolean().optional(),
        enhancedCode: z.string().regex(/^([245]\.\d{1,3}\.\d{1,3})?$/, 'expected an enhanced status code such as "4.4.1", or ""').optional(),
        permanent: z.boolean().optional(),
      })
      .strict(),
  ],
  { error: 'expected the sample reply as a string, or an object {reply, stage?, mx?, local?, enhancedCode?, permanent?}' },
);

// The match fields, shared by rules and by the exceptions listed in a rule's `unless`.
const conditionFields = {
  code: oneOrMany(codeSchema, 'expected a reply code such as 550 or "5xx", or a list of them').optional(),
  enhancedCode: oneOrMany(enhancedCodeSchema, 'expected an enhanced code pattern such as "5.1.1" or "5.7", or a list of them').optional(),
  text: regexSchema.optional(),
  mx: oneOrMany(z.string().min(1), 'expected an MX host glob such as "*.google.com", or a list of them').optional(),
  stage: oneOrMany(stageSchema, `expected a stage (${STAGES.join(', ')}) or a list of them`).optional(),
  local: z.boolean().optional(),
};

const MATCH_FIELDS = ['code', 'enhancedCode', 'text', 'mx', 'stage', 'local'] as const;

const hasMatchField = (conditions: Record<string, unknown>) => MATCH_FIELDS.some((field) => conditions[field] !== undefined);

const exceptionSchema = z
  .object(conditionFields)
  .strict()
  .refine(hasMatchField, { message: 'an exception needs at least one match field: code, enhancedCode, text, mx, stage or local' });

const ruleSchema = z
  .object({
    name: z.string().regex(/^[a-z0-9][a-z0-9.-]*$/, 'expected lowercase letters, digits, "." and "-"'),
    ...conditionFields,
    unless: z.array(exceptionSchema).min(1).optional(),
    reason: reasonSchema,
    side: z.enum(SIDES as [FaultSide, ...FaultSide[]], { error: `expected one of ${SIDES.join(', ')}` }),
    suppress: z.boolean(),
    sample: sampleSchema,
    note: z.string().optional(),
  })
  .strict()
  .refine(hasMatchField, { message: 'a rule needs at least one match field: code, enhancedCode, text, mx, stage or local' });

type RuleInput = z.output<typeof ruleSchema>;
type ConditionInput = z.output<typeof exceptionSchema>;

/**
 * Loads rule files in order: rules of an earlier file are tried before those of a later one, so operator
 * files go in front of the shipped file. Throws BOUNCEGATE_RULES_INVALID naming the file, the rule and
 * the field when a file cannot be read or a rule is invalid.
 */
export function loadRuleFiles(paths: string[]): RuleSet {
  const rules: Rule[] = [];
  for (const path of paths) {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (error) {
      throw new BouncegateError('BOUNCEGATE_RULES_INVALID', `Cannot read rule file ${path}: ${(error as Error).message}`, {
        cause: error,
      });
    }
    rules.push(...parseRules(text, path));
  }
  return { rules, files: [...paths] };
}

/**
 * Parses the YAML text of one rule file (a list of rules). `source` names the file in errors and in
 * each rule's summary.
 */
export function parseRules(text: string, source: string): Rule[] {
  const lineCounter = new LineCounter();
  const document = parseDocument(text, { lineCounter, prettyErrors: false });
  const firstError = document.errors[0];
  if (firstError) {
    const position = lineCounter.linePos(firstError.pos[0]);
    const where = ` at line ${position.line}, column ${position.col}`;
    throw new BouncegateError('BOUNCEGATE_RULES_INVALID', `Invalid rule file ${source}: YAML syntax error${where}: ${firstError.message}`, {
      cause: firstError,
    });
  }

  const contents = document.contents;
  if (!isSeq(contents)) {
    throw new BouncegateError(
      'BOUNCEGATE_RULES_INVALID',
      `Invalid rule file ${source}: expected a list of rules at the top level (each item "- name: ..."), found ${contents === null ? 'an empty document' : 'something else'}`,
    );
  }

  const items: unknown[] = document.toJS() as unknown[];
  const problems: string[] = [];
  const rules: Rule[] = [];
  const names = new Map<string, number>();

  items.forEach((item, index) => {
    const node = contents.items[index] as { range?: [number, number, number] } | undefined;
    const line = node?.range ? lineCounter.linePos(node.range[0]).line : null;
    const label = describeRule(index, item, line);

    const parsed = ruleSchema.safeParse(item);
    if (!parsed.success) {
      for (const issue of parsed.error.issues) {
        const field = issue.path.length > 0 ? `field "${issue.path.join('.')}"` : 'rule';
        problems.push(`${label}, ${field}: ${issue.message}`);
      }
      return;
    }

    const previous = names.get(parsed.data.name);
    if (previous !== undefined) {
      problems.push(`${label}, field "name": "${parsed.data.name}" is already used by rule ${previous}; names must be unique in a file`);
      return;
    }
    names.set(parsed.data.name, index);
    rules.push(compileRule(parsed.data, source, index, line));
  });

  if (problems.length > 0) {
    const listed = problems.slice(0, MAX_LISTED_ISSUES);
    const more = problems.length > listed.length ? `\n  ... and ${problems.length - listed.length} more` : '';
    throw new BouncegateError('BOUNCEGATE_RULES_INVALID', `Invalid rule file ${source}:\n  ${listed.join('\n  ')}${more}`);
  }
  return rules;
}

/**
 * Compiles the config's `suppression.rules` into rules that go in front of the rule files. Each one
 * matches an enhanced code prefix, a text pattern or both, and takes the usual side of its reason.
 * Throws BOUNCEGATE_RULES_INVALID for an unknown reason or an invalid regular expression.
 */
export function compileOverrides(overrides: readonly SuppressionRule[]): Rule[] {
  return overrides.map((override, index) => {
    const label = `suppression.rules[${index}]`;
    const reason = canonicalReason(override.reason);
    if (reason === null) {
      throw new BouncegateError(
        'BOUNCEGATE_RULES_INVALID',
        `Invalid operator rule ${label}, field "reason": "${override.reason}" is not a known reason; allowed: ${describeAllowedReasons()}`,
      );
    }

    let text: RegExp | null = null;
    if (override.text !== undefined) {
      try {
        text = new RegExp(override.text, 'i');
      } catch (error) {
        throw new BouncegateError(
          'BOUNCEGATE_RULES_INVALID',
          `Invalid operator rule ${label}, field "text": invalid regular expression: ${(error as Error).message}`,
          { cause: error },
        );
      }
    }

    return {
      name: label,
      source: 'suppression.rules',
      index,
      line: null,
      conditions: {
        codes: null,
        enhancedCodes: override.enhancedCode === undefined ? null : [override.enhancedCode],
        text,
        mx: null,
        stages: null,
        local: null,
        unless: [],
      },
      reason,
      side: defaultSide(reason),
      suppress: override.suppress,
      sample: null,
      note: null,
    };
  });
}

function compileRule(input: RuleInput, source: string, index: number, line: number | null): Rule {
  return {
    name: input.name,
    source,
    index,
    line,
    conditions: compileConditions(input, input.unless ?? []),
    reason: input.reason,
    side: input.side,
    suppress: input.suppress,
    sample: compileSample(input.sample),
    note: input.note ?? null,
  };
}

function compileConditions(input: ConditionInput, unless: readonly ConditionInput[]): RuleConditions {
  return {
    codes: input.code ?? null,
    enhancedCodes: input.enhancedCode ?? null,
    text: input.text === undefined ? null : new RegExp(input.text, 'i'),
    mx: input.mx ?? null,
    stages: input.stage ?? null,
    local: input.local ?? null,
    unless: unless.map((exception) => compileConditions(exception, [])),
  };
}

function compileSample(sample: RuleInput['sample']): RuleSample {
  if (typeof sample === 'string') {
    return { reply: sample, stage: 'rcpt', mx: null, local: false, enhancedCode: '', permanent: false };
  }
  return {
    reply: sample.reply,
    stage: sample.stage ?? 'rcpt',
    mx: sample.mx ?? null,
    local: sample.local ?? false,
    enhancedCode: sample.enhancedCode ?? '',
    permanent: sample.permanent ?? false,
  };
}

function describeRule(index: number, item: unknown, line: number | null): string {
  const name = typeof item === 'object' && item !== null && 'name' in item ? (item as { name: unknown }).name : undefined;
  const named = typeof name === 'string' ? ` "${name}"` : '';
  const at = line === null ? '' : ` (line ${line})`;
  return `rule ${index}${named}${at}`;
}
