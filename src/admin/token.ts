import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { BouncegateError } from '../core/errors.js';

/** File name of the generated admin token inside the data folder. */
export const TOKEN_FILE_NAME = 'admin-token';
/** Random bytes in a generated token; 32 bytes give 43 base64url characters. */
const TOKEN_BYTES = 32;
/** Shortest token accepted from the token file, matching the minimum of `admin.token` in the config. */
const MIN_TOKEN_LENGTH = 16;

/** Returns the path of the token file in a data folder. */
export function tokenFilePath(dataDir: string): string {
  return join(dataDir, TOKEN_FILE_NAME);
}

/**
 * Returns the admin token: the configured one, else the one stored in `<dataDir>/admin-token`, else a
 * new random token written there with mode 0600. `created` is true only in the last case, so the
 * caller can show the new token once. The token itself is never logged.
 */
export function loadOrCreateToken(
  dataDir: string,
  configured: string | null,
  logger: Logger,
): { token: string; created: boolean } {
  if (configured !== null) {
    return { token: configured, created: false };
  }

  const path = tokenFilePath(dataDir);
  const stored = readTokenFile(path, logger);
  if (stored !== null) {
    return { token: stored, created: false };
  }

  const token = randomBytes(TOKEN_BYTES).toString('base64url');
  mkdirSync(dataDir, { recursive: true });
  try {
    // "wx" fails when the file appeared since the read, so two starts never overwrite each other's token.
    writeFileSync(path, `${token}\n`, { mode: 0o600, flag: 'wx' });
  } catch (error) {
    if (isErrorCode(error, 'EEXIST')) {
      return loadOrCreateToken(dataDir, configured, logger);
    }
    throw new BouncegateError('BOUNCEGATE_CONFIG_INVALID', `cannot write the admin token file ${path}: ${describe(error)}`, {
      cause: error,
    });
  }
  logger.info({ path }, 'generated admin token');
  return { token, created: true };
}

/** Reads a token file; returns null when it does not exist. */
function readTokenFile(path: string, logger: Logger): string | null {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if (isErrorCode(error, 'ENOENT')) {
      return null;
    }
    throw new BouncegateError('BOUNCEGATE_CONFIG_INVALID', `cannot read the admin token file ${path}: ${describe(error)}`, {
      cause: error,
    });
  }

  const token = text.trim();
  if (token.length < MIN_TOKEN_LENGTH || /\s/.test(token)) {
    throw new BouncegateError(
      'BOUNCEGATE_CONFIG_INVALID',
      `the admin token file ${path} must contain one token of at least ${MIN_TOKEN_LENGTH} characters without spaces; ` +
        'delete the file to generate a new token, or set admin.token in the config',
    );
  }

  const mode = statSync(path).mode & 0o777;
  if ((mode & 0o077) !== 0) {
    logger.warn({ path, mode: mode.toString(8) }, 'admin token file is readable by other users; run chmod 600 on it');
  }
  return token;
}

function isErrorCode(error: unknown, code: string): boolean {
  return error instanceof Error && (error as NodeJS.ErrnoException).code === code;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
