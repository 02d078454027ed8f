import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createClassifier, DEFAULT_RULES_PATH } from '../../src/classify/classifier.js';
import { loadRuleFiles } from '../../src/classify/rules.js';

/** The classifier built from the shipped rules, shared by the DSN tests. */
export const shippedClassifier = createClassifier(loadRuleFiles([DEFAULT_RULES_PATH]));

/** Absolute path of a file under test/fixtures/dsn. */
export function dsnFixturePath(name: string): string {
  return join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'dsn', name);
}

/** Reads a file under test/fixtures/dsn. */
export function readDsnFixture(name: string): Buffer {
  return readFileSync(dsnFixturePath(name));
}
