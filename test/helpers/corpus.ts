import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** One line of replies.jsonl: a real SMTP reply and the classification it should get. */
export interface ReplyCase {
  reply: string;
  stage: string;
  permanent: boolean;
  reason: string;
  suppress: boolean;
  provider?: string;
}

/** The expected result for one recipient of a corpus bounce (fields as documented in expected.json). */
export interface ExpectedBounce {
  recipient: string | null;
  status: string | null;
  /** True when status is a Sisimai-internal code: only its class digit is compared. */
  status_pseudo: boolean;
  replycode: number | null;
  reason: string;
  action: string | null;
}

/** The expected results for one corpus message; `bounces: []` means the message is not a bounce. */
export interface ExpectedFile {
  family: string;
  bounces: ExpectedBounce[];
  note?: string;
}

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

let reported = false;

/**
 * Returns the corpus folder (BOUNCEGATE_CORPUS, by default shared/corpus in the folder that contains
 * the repository), or null after printing why the corpus suites are skipped.
 */
export function corpusDir(): string | null {
  const dir = process.env['BOUNCEGATE_CORPUS'] ?? join(REPO_ROOT, '..', 'shared', 'corpus');
  if (existsSync(join(dir, 'replies.jsonl')) && existsSync(join(dir, 'dsn', 'expected.json'))) {
    return dir;
  }
  if (!reported) {
    reported = true;
    console.log(
      `Corpus not found at ${dir} (replies.jsonl and dsn/expected.json): skipping the corpus test suites. Set BOUNCEGATE_CORPUS to the corpus folder to run them.`,
    );
  }
  return null;
}

/** Reads replies.jsonl from the corpus; throws when the corpus is absent. */
export function readReplies(): ReplyCase[] {
  const text = readFileSync(join(requireCorpus(), 'replies.jsonl'), 'utf8');
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as ReplyCase);
}

/** Reads dsn/expected.json from the corpus; the keys of `files` are paths relative to the dsn folder. */
export function readDsnExpected(): { files: Record<string, ExpectedFile> } {
  const text = readFileSync(join(requireCorpus(), 'dsn', 'expected.json'), 'utf8');
  return JSON.parse(text) as { files: Record<string, ExpectedFile> };
}

/** Reads one corpus message by its path relative to the dsn folder. */
export function readDsnFile(relativePath: string): Buffer {
  return readFileSync(join(requireCorpus(), 'dsn', relativePath));
}

function requireCorpus(): string {
  const dir = corpusDir();
  if (dir === null) {
    throw new Error('The corpus folder is missing; guard the suite with corpusDir() before reading it');
  }
  return dir;
}
