import { createHmac, timingSafeEqual } from 'node:crypto';

/** Header that carries the Unix time (seconds) at which a delivery was signed. */
export const TIMESTAMP_HEADER = 'X-Bouncegate-Timestamp';
/** Header that carries `sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">`. */
export const SIGNATURE_HEADER = 'X-Bouncegate-Signature';

/** Returns the signature header value of a body signed at `timestamp` (Unix seconds). */
export function signPayload(secret: string, timestamp: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`, 'utf8').digest('hex')}`;
}

/** Checks a signature header value in constant time; receivers can use it as the reference. */
export function verifySignature(secret: string, timestamp: string, body: string, signature: string): boolean {
  const expected = Buffer.from(signPayload(secret, timestamp, body));
  const given = Buffer.from(signature);
  return expected.length === given.length && timingSafeEqual(expected, given);
}
