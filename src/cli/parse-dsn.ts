import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { createClassifier, DEFAULT_RULES_PATH } from '../classify/classifier.js';
import { loadRuleFiles } from '../classify/rules.js';
import type { Classifier } from '../core/classification.js';
import { BouncegateError } from '../core/errors.js';
import { splitMailbox } from '../dsn/mbox.js';
import { parseDsn } from '../dsn/parse.js';
import type { DsnKind, ParsedBounce, ParsedDsn } from '../dsn/types.js';
import type { CommandIo } from './classify.js';

const USAGE = `usage: bouncegate parse-dsn FILE... [--json] [--rules FILE]...

Parses bounce messages (one message per file, or an mbox file of several) and prints each failed
recipient with its status, reply code and bounce reason.

  --json        print one JSON object per file: {"file", "kind", "bounces": [...]}
  --rules FILE  rule file tried before the shipped rules; repeat to add more, first file first
`;

// When an mbox contains several messages, the file's kind is the first of these that any message has.
const KIND_PRIORITY: readonly DsnKind[] = ['bounce', 'delay', 'feedback', 'autoreply', 'not-bounce'];

/**
 * Runs `bouncegate parse-dsn`. Returns the exit code: 0 when every file parsed, 1 when a file could not
 * be read or parsed (the others are still printed) or the rules cannot be loaded, 2 on bad usage.
 */
export async function runParseDsn(args: string[], io: CommandIo): Promise<number> {
  let options: { json?: boolean; rules?: string[]; help?: boolean };
  let files: string[];
  try {
    const parsed = parseArgs({
      args,
      allowPositionals: true,
      strict: true,
      options: {
        json: { type: 'boolean' },
        rules: { type: 'string', multiple: true },
        help: { type: 'boolean', short: 'h' },
      },
    });
    options = parsed.values;
    files = parsed.positionals;
  } catch (error) {
    return usageError(io, (error as Error).message);
  }

  if (options.help) {
    io.stdout.write(USAGE);
    return 0;
  }
  if (files.length === 0) {
    return usageError(io, 'missing FILE: name at least one bounce message');
  }

  let classifier: Classifier;
  try {
    classifier = createClassifier(loadRuleFiles([...(options.rules ?? []), DEFAULT_RULES_PATH]));
  } catch (error) {
    io.stderr.write(`bouncegate parse-dsn: ${describeError(error)}\n`);
    return 1;
  }

  let failed = false;
  for (const file of files) {
    let results: ParsedDsn[];
    try {
      results = await parseFile(file, classifier);
    } catch (error) {
      failed = true;
      io.stderr.write(`bouncegate parse-dsn: ${file}: ${describeError(error)}\n`);
      if (options.json) {
        io.stdout.write(`${JSON.stringify({ file, error: describeError(error), bounces: [] })}\n`);
      }
      continue;
    }
    writeFileResult(io, file, results, options.json ?? false);
  }
  return failed ? 1 : 0;
}

async function parseFile(file: string, classifier: Classifier): Promise<ParsedDsn[]> {
  const raw = await readFile(file);
  const results: ParsedDsn[] = [];
  for (const message of splitMailbox(raw)) {
    results.push(await parseDsn(message, classifier));
  }
  return results;
}

function writeFileResult(io: CommandIo, file: string, results: readonly ParsedDsn[], json: boolean): void {
  const kind = KIND_PRIORITY.find((candidate) => results.some((result) => result.kind === candidate)) ?? 'not-bounce';
  const bounces = results.flatMap((result) => result.bounces);
  const originalMessageId = results.find((result) => result.originalMessageId !== null)?.originalMessageId ?? null;
  const originalQueueId = results.find((result) => result.originalQueueId !== null)?.originalQueueId ?? null;

  if (json) {
    const record = {
      file,
      kind,
      originalMessageId,
      originalQueueId,
      bounces: bounces.map((bounce) => ({
        recipient: bounce.recipient,
        status: bounce.status,
        replycode: bounce.replycode,
        reason: bounce.reason,
        action: bounce.action,
        diagnostic: bounce.diagnostic,
      })),
    };
    io.stdout.write(`${JSON.stringify(record)}\n`);
    return;
  }

  const original = originalMessageId === null ? '' : `, original message <${originalMessageId}>`;
  const queue = originalQueueId === null ? '' : `, queue id ${originalQueueId}`;
  io.stdout.write(`${file}: ${kind}, ${bounces.length} recipient${bounces.length === 1 ? '' : 's'}${original}${queue}\n`);
  for (const bounce of bounces) {
    io.stdout.write(describeBounce(bounce));
  }
}

function describeBounce(bounce: ParsedBounce): string {
  const fields = [
    bounce.recipient || '(no recipient)',
    bounce.status ?? '-',
    bounce.replycode ?? '-',
    bounce.reason,
    bounce.action ?? '-',
    bounce.suppress ? 'suppress' : 'no suppression',
  ];
  const diagnostic = bounce.diagnostic === '' ? '' : `\n      ${bounce.diagnostic.slice(0, 300)}`;
  return `  ${fields.join('  ')}${diagnostic}\n`;
}

function usageError(io: CommandIo, message: string): number {
  io.stderr.write(`bouncegate parse-dsn: ${message}\n${USAGE}`);
  return 2;
}

function describeError(error: unknown): string {
  if (error instanceof BouncegateError) {
    return `${error.code}: ${error.message}`;
  }
  return error instanceof Error ? error.message : String(error);
}
