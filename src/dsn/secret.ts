import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** File in the data folder that keeps the generated VERP key across restarts. */
export const VERP_SECRET_FILE = 'verp-secret';

/**
 * Returns the configured VERP key, else the one stored in the data folder, else a new random key
 * written there with mode 0600. The key must outlive restarts, or bounces of mail sent before the
 * restart no longer verify.
 */
export function loadOrCreateVerpSecret(dataDir: string, configured: string | null): string {
  if (configured) {
    return configured;
  }
  const path = join(dataDir, VERP_SECRET_FILE);
  if (existsSync(path)) {
    return readFileSync(path, 'utf8').trim();
  }
  const secret = randomBytes(32).toString('base64url');
  writeFileSync(path, `${secret}\n`, { mode: 0o600, flag: 'wx' });
  return secret;
}
