import { chmodSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadOrCreateToken } from '../../src/admin/server.js';
import { BouncegateError } from '../../src/core/errors.js';
import { makeTempDir } from '../helpers/tmp.js';
import { captureLogger } from './fixture.js';

describe('loadOrCreateToken', () => {
  let dir: ReturnType<typeof makeTempDir>;

  beforeEach(() => {
    dir = makeTempDir();
  });

  afterEach(() => {
    dir.remove();
  });

  it('uses the configured token', () => {
    const { logger } = captureLogger();
    const result = loadOrCreateToken(dir.path, 'configured-token-123456', logger);
    expect(result).toEqual({ token: 'configured-token-123456', created: false });
  });

  it('creates a token file with mode 0600', () => {
    const { logger, raw } = captureLogger();
    const dataDir = join(dir.path, 'data');
    const result = loadOrCreateToken(dataDir, null, logger);

    expect(result.created).toBe(true);
    expect(result.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const path = join(dataDir, 'admin-token');
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(readFileSync(path, 'utf8').trim()).toBe(result.token);
    expect(raw.join('\n')).not.toContain(result.token);
  });

  it('reuses the token file', () => {
    const { logger } = captureLogger();
    const first = loadOrCreateToken(dir.path, null, logger);
    const second = loadOrCreateToken(dir.path, null, logger);
    expect(second).toEqual({ token: first.token, created: false });
  });

  it('rejects a token file that is too short', () => {
    writeFileSync(join(dir.path, 'admin-token'), 'short\n', { mode: 0o600 });
    expect(() => loadOrCreateToken(dir.path, null, captureLogger().logger)).toThrow(BouncegateError);
    expect(() => loadOrCreateToken(dir.path, null, captureLogger().logger)).toThrow(/delete the file/);
  });

  it('warns about a token file others can read', () => {
    const path = join(dir.path, 'admin-token');
    writeFileSync(path, 'readable-token-0123456789\n');
    chmodSync(path, 0o644);
    const { logger, logs, raw } = captureLogger();

    const result = loadOrCreateToken(dir.path, null, logger);
    expect(result.token).toBe('readable-token-0123456789');
    expect(logs.filter((line) => line.level === 40)).toHaveLength(1);
    expect(raw.join('\n')).not.toContain(result.token);
  });
});
