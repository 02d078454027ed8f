import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { createClassifier, DEFAULT_RULES_PATH, type ExplainingClassifier } from '../classify/classifier.js';
import { loadRuleFiles, STAGES } from '../classify/rules.js';
import { BouncegateError } from '../core/errors.js';
import { parseReply } from '../core/reply.js';
import type { Stage } from '../core/types.js';

/** Streams of one command run, injected so tests can drive the command without a process. */
export interface CommandIo {
  stdin: NodeJS.ReadableStream;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

const USAGE = `usage: bouncegate classify [REPLY] [--mx HOST] [--stage STAGE] [--json] [--rules FILE]...

Classifies an SMTP reply with the bounce rules and says which rule matched and why.
With REPLY, classifies it; without, reads one reply per line from stdin, either plain text or a JSON
object {"reply": "...", "mx": "...", "stage": "..."} (use JSON for multi-line replies).

  --mx HOST      MX host that sent the reply, for provider rules (default: none)
  --stage STAGE  SMTP step of the reply: ${STAGES.join(', ')} (default: rcpt)
  --json         print one JSON object per reply
  --rules FILE   rule file tried before the shipped rules; repeat to add more, first file first
`;

/** One reply to classify with its context. */
interface Input {
  reply: string;
  mx: string | null;
  stage: Stage;
}

/**
 * Runs `bouncegate classify`. Returns the exit code: 0 on success, 1 when the rules cannot be loaded or
 * an input line is invalid, 2 on bad usage. Works offline: it reads only rule files.
 */
export async function runClassify(args: string[], io: CommandIo): Promise<number> {
  let options: { mx?: string; stage?: string; json?: boolean; rules?: string[]; help?: boolean };
  let positionals: string[];
  try {
    const parsed = parseArgs({
      args,
      allowPositionals: true,
      strict: true,
      options: {
        mx: { type: 'string' },
        stage: { type: 'string' },
        json: { type: 'boolean' },
        rules: { type: 'string', multiple: true },
        help: { type: 'boolean', short: 'h' },
      },
    });
    options = parsed.values;
    positionals = parsed.positionals;
  } catch (error) {
    return usageError(io, (error as Error).message);
  }

  if (options.help) {
    io.stdout.write(USAGE);
    return 0;
  }
  if (positionals.length > 1) {
    return usageError(io, `expected at most one REPLY argument, got ${positionals.length}; quote the reply`);
  }
  const stage = options.stage ?? 'rcpt';
  if (!isStage(stage)) {
    return usageError(io, `invalid --stage "${stage}"; expected one of ${STAGES.join(', ')}`);
  }

  let classifier: ExplainingClassifier;
  try {
    classifier = createClassifier(loadRuleFiles([...(options.rules ?? []), DEFAULT_RULES_PATH]));
  } catch (error) {
    io.stderr.write(`bouncegate classify: ${describeError(error)}\n`);
    return 1;
  }

  const mx = options.mx ?? null;
  const json = options.json ?? false;
  const reply = positionals[0];
  if (reply !== undefined) {
    if (!REPLY_START.test(reply.trimStart())) {
      io.stderr.write(`bouncegate classify: ${JSON.stringify(reply.slice(0, 80))} is not an SMTP reply: it must start with a 3-digit code such as "550 5.1.1 ..."\n`);
      return 1;
    }
    writeResult(io, classifier, { reply, mx, stage }, json);
    return 0;
  }

  let failed = false;
  let lineNumber = 0;
  for await (const line of createInterface({ input: io.stdin, crlfDelay: Infinity })) {
    lineNumber++;
    if (line.trim() === '') {
      continue;
    }
    const read = readInputLine(line, { mx, stage });
    const input = typeof read !== 'string' && !REPLY_START.test(read.reply.trimStart()) ? 'not an SMTP reply: it must start with a 3-digit code' : read;
    if (typeof input === 'string') {
      io.stderr.write(`bouncegate classify: stdin line ${lineNumber}: ${input}\n`);
      failed = true;
      continue;
    }
    writeResult(io, classifier, input, json);
  }
  return failed ? 1 : 0;
}

/** A reply starts with its basic code (RFC 5321 §4.2). */
const REPLY_START = /^[2-5]\d\d(?:[ -]|$)/;

/** Reads one stdin line: a JSON object when it starts with "{", else the reply text. Returns an error message for invalid lines. */
function readInputLine(line: string, defaults: { mx: string | null; stage: Stage }): Input | string {
  if (!line.trimStart().startsWith('{')) {
    return { reply: line, ...defaults };
  }

  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (error) {
    return `invalid JSON: ${(error as Error).message}`;
  }
  if (typeof value !== 'object' || value === null || typeof (value as { reply?: unknown }).reply !== 'string') {
    return 'expected a JSON object with a string "reply"';
  }

  const object = value as { reply: string; mx?: unknown; stage?: unknown };
  const mx = typeof object.mx === 'string' ? object.mx : defaults.mx;
  const stage = object.stage === undefined ? defaults.stage : object.stage;
  if (typeof stage !== 'string' || !isStage(stage)) {
    return `invalid "stage" ${JSON.stringify(stage)}; expected one of ${STAGES.join(', ')}`;
  }
  return { reply: object.reply, mx, stage };
}

function writeResult(io: CommandIo, classifier: ExplainingClassifier, input: Input, json: boolean): void {
  const reply = parseReply(input.reply, input.stage);
  const { classification, rule, why } = classifier.explain(reply, input.mx);

  if (json) {
    const record = {
      reply: input.reply,
      mx: input.mx,
      stage: input.stage,
      code: reply.code,
      enhancedCode: reply.enhancedCode,
      permanent: classification.permanent,
      reason: classification.reason,
      side: classification.side,
      suppress: classification.suppress,
      rule: classification.rule,
      ruleSource: rule.line === null ? rule.source : `${rule.source}:${rule.line}`,
      why,
    };
    io.stdout.write(`${JSON.stringify(record)}\n`);
    return;
  }

  const codes = [reply.code ?? 'no code', reply.enhancedCode].filter((part) => part !== '').join(' ');
  const outcome = [classification.reason, `${classification.side} side`, classification.permanent ? 'permanent' : 'transient', classification.suppress ? 'suppress' : 'no suppression'];
  io.stdout.write(`${codes}: ${outcome.join(', ')}\n  ${why}\n`);
}

function isStage(value: string): value is Stage {
  return (STAGES as readonly string[]).includes(value);
}

function usageError(io: CommandIo, message: string): number {
  io.stderr.write(`bouncegate classify: ${message}\n${USAGE}`);
  return 2;
}

function describeError(error: unknown): string {
  if (error instanceof BouncegateError) {
    return `${error.code}: ${error.message}`;
  }
  return error instanceof Error ? error.message : String(error);
}
