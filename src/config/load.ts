import { existsSync, readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { BouncegateError } from '../core/errors.js';
import { checkCidrList } from './cidr.js';
import { configSchema, type Config } from './schema.js';

/** Path used when neither --config nor BOUNCEGATE_CONFIG is given. */
export const DEFAULT_CONFIG_PATH = 'config/bouncegate.yaml';

/**
 * Reads, validates and freezes the YAML config. A missing file at the default path yields the
 * embedded defaults; a missing file that was asked for by name is an error. Relative `dataDir` and
 * TLS paths are resolved against the current directory.
 */
export function loadConfig(path?: string): Config {
  const explicit = path ?? process.env.BOUNCEGATE_CONFIG;
  const file = explicit ?? DEFAULT_CONFIG_PATH;

  let raw: unknown = {};
  if (existsSync(file)) {
    try {
      raw = parseYaml(readFileSync(file, 'utf8')) ?? {};
    } catch (error) {
      throw new BouncegateError('BOUNCEGATE_CONFIG_INVALID', `config ${file} is not valid YAML: ${(error as Error).message}`, {
        cause: error,
      });
    }
  } else if (explicit !== undefined) {
    throw new BouncegateError('BOUNCEGATE_CONFIG_NOT_FOUND', `config file ${file} not found; pass an existing file with --config or BOUNCEGATE_CONFIG`);
  }
  return parseConfig(raw, file);
}

/** Validates a config object; errors name the key, the value found and what is allowed. */
export function parseConfig(raw: unknown, origin = 'config'): Config {
  const result = configSchema.safeParse(raw);
  if (!result.success) {
    const lines = result.error.issues.map((issue) => describeIssue(issue, raw));
    throw new BouncegateError('BOUNCEGATE_CONFIG_INVALID', `invalid config in ${origin}:\n  ${lines.join('\n  ')}`);
  }

  const config = result.data;
  const cidrProblem = checkCidrList(config.clients.allow);
  if (cidrProblem) {
    throw new BouncegateError('BOUNCEGATE_CONFIG_INVALID', `invalid config in ${origin}:\n  clients.allow: ${cidrProblem}`);
  }
  for (const [index, rule] of (config.suppression.rules ?? []).entries()) {
    if (rule.text === undefined) {
      continue;
    }
    try {
      new RegExp(rule.text, 'i');
    } catch {
      throw new BouncegateError(
        'BOUNCEGATE_CONFIG_INVALID',
        `invalid config in ${origin}:\n  suppression.rules.${index}.text: ${JSON.stringify(rule.text)} is not a valid regular expression`,
      );
    }
  }

  if (config.bounce.verp && !config.bounce.domain) {
    throw new BouncegateError(
      'BOUNCEGATE_CONFIG_INVALID',
      `invalid config in ${origin}:\n  bounce.verp: true needs bounce.domain, the domain whose MX points at the bounce listener`,
    );
  }

  config.dataDir = isAbsolute(config.dataDir) ? config.dataDir : resolve(config.dataDir);
  config.classification.ruleFiles = config.classification.ruleFiles.map((file) => resolve(file));
  return deepFreeze(config);
}

function describeIssue(issue: z.core.$ZodIssue, raw: unknown): string {
  const key = issue.path.map(String).join('.') || '(top level)';
  const found = valueAt(raw, issue.path);
  const value = found === undefined ? '' : ` (found ${JSON.stringify(found)})`;
  if (issue.code === 'unrecognized_keys') {
    const prefix = issue.path.length ? `${key}.` : '';
    return `${issue.keys.map((name) => `${prefix}${name}`).join(', ')}: unknown key; check the spelling against config/bouncegate.yaml`;
  }
  if (issue.code === 'invalid_value') {
    return `${key}${value}: allowed values are ${issue.values.map((item) => JSON.stringify(item)).join(', ')}`;
  }
  return `${key}${value}: ${issue.message}`;
}

function valueAt(raw: unknown, path: PropertyKey[]): unknown {
  let current = raw;
  for (const part of path) {
    if (current === null || typeof current !== 'object') {
      return undefined;
    }
    current = (current as Record<PropertyKey, unknown>)[part];
  }
  return current;
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const child of Object.values(value)) {
      deepFreeze(child);
    }
    Object.freeze(value);
  }
  return value;
}
