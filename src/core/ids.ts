import { randomBytes } from 'node:crypto';
import type { QueueId } from './types.js';

const QUEUE_ID_RANDOM_BYTES = 5;
let sequence = 0;

/**
 * Creates a queue id: 9 base-36 characters of the acceptance time in ms, then 8 random base-32
 * characters. Ids sort by acceptance time and are safe as file names.
 */
export function newQueueId(now: number = Date.now()): QueueId {
  const time = now.toString(36).toUpperCase().padStart(9, '0');
  const random = base32(pooledRandomBytes(QUEUE_ID_RANDOM_BYTES));
  return `${time}${random}` as QueueId;
}

/** Random bytes fetched from the CSPRNG in blocks: one call per block instead of one per id. */
const RANDOM_BLOCK_BYTES = 4096;
let randomBlock = Buffer.alloc(0);
let randomOffset = 0;

/** Returns `length` random bytes from the current block. The slice stays valid after later calls. */
export function pooledRandomBytes(length: number): Buffer {
  if (randomOffset + length > randomBlock.length) {
    randomBlock = randomBytes(RANDOM_BLOCK_BYTES);
    randomOffset = 0;
  }
  const slice = randomBlock.subarray(randomOffset, randomOffset + length);
  randomOffset += length;
  return slice;
}

/** Random tag of this process, so ids of two processes sharing a millisecond never collide. */
const PROCESS_TAG = randomBytes(2).toString('hex');

/**
 * Creates an event id that sorts by the event's time: 13 digits of ms since the epoch, a 6-digit
 * counter and a per-process tag. The counter never resets, so two events of one process with the
 * same millisecond get different ids even when their times arrive out of order.
 */
export function newEventId(now: number = Date.now()): string {
  sequence = (sequence + 1) % 1_000_000;
  return `${String(Math.max(0, Math.floor(now))).padStart(13, '0')}${String(sequence).padStart(6, '0')}${PROCESS_TAG}`;
}

/** Returns the smallest event id at or after a time, for range scans. */
export function eventIdFloor(millis: number): string {
  return `${String(Math.max(0, millis)).padStart(13, '0')}000000`;
}

/** Returns the ms timestamp encoded in an event id. */
export function eventIdTime(id: string): number {
  return Number(id.slice(0, 13));
}

const BASE32 = 'ABCDEFGHJKMNPQRSTVWXYZ0123456789';

function base32(bytes: Buffer): string {
  let out = '';
  let value = 0;
  let bits = 0;
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += BASE32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) {
    out += BASE32[(value << (5 - bits)) & 31];
  }
  return out;
}
