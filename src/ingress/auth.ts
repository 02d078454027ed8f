import { createHash, scrypt, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';

const scryptAsync = promisify(scrypt) as (password: string, salt: Buffer, length: number) => Promise<Buffer>;

/** A configured AUTH user. */
export interface AuthUser {
  username: string;
  password: string;
}

const SCRYPT_PREFIX = 'scrypt$';

/**
 * Checks a password against a configured user. Passwords are plain text or
 * "scrypt$<salt-hex>$<hash-hex>" (scrypt with Node's default cost parameters). Comparison is constant-time; scrypt runs off the event loop.
 */
export async function verifyPassword(users: readonly AuthUser[], username: string, password: string): Promise<boolean> {
  const user = users.find((item) => item.username === username);
  if (!user) {
    // Spend comparable time for unknown users so the reply time does not reveal which names exist.
    equalDigests('x', password);
    return false;
  }
  if (user.password.startsWith(SCRYPT_PREFIX)) {
    const [, saltHex = '', hashHex = ''] = user.password.split('$');
    const expected = Buffer.from(hashHex, 'hex');
    if (expected.length === 0) {
      return false;
    }
    // Asynchronous, so a burst of AUTH attempts does not stall every other session.
    const actual = await scryptAsync(password, Buffer.from(saltHex, 'hex'), expected.length);
    return timingSafeEqual(actual, expected);
  }
  return equalDigests(user.password, password);
}

function equalDigests(expected: string, actual: string): boolean {
  const left = createHash('sha256').update(expected).digest();
  const right = createHash('sha256').update(actual).digest();
  return timingSafeEqual(left, right);
}
