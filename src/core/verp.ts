import { createHmac, timingSafeEqual } from 'node:crypto';

/** Local-part prefix of VERP return paths. */
const PREFIX = 'bounce+';
/** Hex digits of the HMAC kept in the address: 64 bits, enough that guessing one is hopeless. */
const MAC_HEX_DIGITS = 16;

/** The original recipient a VERP address stands for. */
export interface VerpTarget {
  queueId: string;
  index: number;
}

/**
 * Builds the return path for one recipient of one message: `bounce+<queueId>.<index>.<mac>@<domain>`.
 * The HMAC-SHA256 over queue id and index means a forged bounce cannot name a recipient it did not
 * receive the address for, so it cannot suppress an arbitrary address.
 */
export function verpAddress(target: VerpTarget, domain: string, secret: string): string {
  return `${PREFIX}${target.queueId}.${target.index}.${mac(target, secret)}@${domain}`;
}

/** Decodes and verifies a VERP address; returns null when it is not one of ours or its MAC is wrong. */
export function parseVerpAddress(address: string, domain: string, secret: string): VerpTarget | null {
  const at = address.lastIndexOf('@');
  if (at < 0 || address.slice(at + 1).toLowerCase() !== domain.toLowerCase()) {
    return null;
  }
  const local = address.slice(0, at);
  if (!local.toLowerCase().startsWith(PREFIX)) {
    return null;
  }
  const match = /^([0-9A-Za-z]{1,64})\.(\d{1,5})\.([0-9a-f]+)$/i.exec(local.slice(PREFIX.length));
  if (!match) {
    return null;
  }
  // Queue ids are upper case; some MTAs lowercase the whole return path.
  const target = { queueId: (match[1] ?? '').toUpperCase(), index: Number(match[2]) };
  const expected = Buffer.from(mac(target, secret), 'utf8');
  const given = Buffer.from((match[3] ?? '').toLowerCase(), 'utf8');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    return null;
  }
  return target;
}

function mac(target: VerpTarget, secret: string): string {
  return createHmac('sha256', secret).update(`${target.queueId}.${target.index}`).digest('hex').slice(0, MAC_HEX_DIGITS);
}
