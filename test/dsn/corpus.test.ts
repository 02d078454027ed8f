import { afterAll, describe, expect, it } from 'vitest';
import { splitMailbox } from '../../src/dsn/mbox.js';
import { parseDsn } from '../../src/dsn/parse.js';
import type { ParsedBounce } from '../../src/dsn/types.js';
import { corpusDir, readDsnExpected, readDsnFile, type ExpectedBounce, type ExpectedFile } from '../helpers/corpus.js';
import { shippedClassifier } from './helpers.js';

// Target rates over all expected bounce records of the corpus.
const MIN_RECIPIENT_RATE = 0.99;
const MIN_STATUS_RATE = 0.97;
const MIN_REASON_RATE = 0.93;

/** One expected record and whether each field came out right; recipient is null when not scored. */
interface FieldResult {
  file: string;
  recipient: boolean | null;
  status: boolean;
  reason: boolean;
  detail: string;
}

const present = corpusDir() !== null;
const files: [string, ExpectedFile][] = present ? Object.entries(readDsnExpected().files) : [];
const results: FieldResult[] = [];
const nonBounceFailures: string[] = [];

function sameAddress(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}

function statusMatches(expected: ExpectedBounce, got: ParsedBounce | undefined): boolean {
  if (got === undefined) {
    return false;
  }
  if (expected.status_pseudo) {
    return got.status?.[0] === expected.status?.[0];
  }
  return got.status === expected.status;
}

function score(file: string, expected: ExpectedBounce[], got: ParsedBounce[]): void {
  expected.forEach((want, index) => {
    const match = (want.recipient === null ? undefined : got.find((bounce) => sameAddress(bounce.recipient, want.recipient!))) ?? got[index];
    const recipient = want.recipient === null ? null : match !== undefined && sameAddress(match.recipient, want.recipient);
    const result: FieldResult = {
      file,
      recipient,
      status: statusMatches(want, match),
      reason: match?.reason === want.reason,
      detail: `want ${want.recipient} ${want.status} ${want.reason}, got ${match?.recipient} ${match?.status} ${match?.reason} (${match?.rule})`,
    };
    results.push(result);
  });
}

function rate(field: 'recipient' | 'status' | 'reason'): { hits: number; total: number; value: number } {
  const scored = results.filter((result) => result[field] !== null);
  const hits = scored.filter((result) => result[field] === true).length;
  return { hits, total: scored.length, value: scored.length === 0 ? 0 : hits / scored.length };
}

describe.skipIf(!present)('DSN corpus', () => {
  describe('each file', () => {
    it.each(files)('%s', async (file, expected) => {
      const messages = splitMailbox(readDsnFile(file));
      const parsed = await Promise.all(messages.map((message) => parseDsn(message, shippedClassifier)));
      const bounces = parsed.flatMap((result) => result.bounces);

      if (expected.bounces.length === 0) {
        const failures = bounces.filter((bounce) => bounce.action === 'failed' || bounce.permanent);
        if (failures.length > 0) {
          nonBounceFailures.push(file);
        }
        expect(failures, 'failures reported for a message that is not a bounce').toEqual([]);
        return;
      }

      score(file, expected.bounces, bounces);
      expect(bounces.length, 'records found').toBeGreaterThan(0);
    });
  });

  describe('aggregate', () => {
    afterAll(() => {
      const misses = results.filter((result) => result.recipient === false || !result.status || !result.reason);
      console.log(
        [
          `DSN corpus: ${results.length} bounce records in ${files.length} files`,
          `  recipient ${rate('recipient').hits}/${rate('recipient').total} (${(rate('recipient').value * 100).toFixed(1)}%)`,
          `  status    ${rate('status').hits}/${rate('status').total} (${(rate('status').value * 100).toFixed(1)}%)`,
          `  reason    ${rate('reason').hits}/${rate('reason').total} (${(rate('reason').value * 100).toFixed(1)}%)`,
          `  non-bounces reported as failures: ${nonBounceFailures.length}`,
          ...misses.map((miss) => `  miss ${miss.file}: ${miss.detail}`),
        ].join('\n'),
      );
    });

    it('recipient rate meets the target', () => {
      expect(rate('recipient').value).toBeGreaterThanOrEqual(MIN_RECIPIENT_RATE);
    });

    it('status rate meets the target', () => {
      expect(rate('status').value).toBeGreaterThanOrEqual(MIN_STATUS_RATE);
    });

    it('reason rate meets the target', () => {
      expect(rate('reason').value).toBeGreaterThanOrEqual(MIN_REASON_RATE);
    });

    it('no non-bounce is a failure', () => {
      expect(nonBounceFailures).toEqual([]);
    });
  });
});
