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

const EVENT_ID_TIME_DIGITS = 13;
const EVENT_ID_COUNTER_DIGITS = 6;

/** Random tag of this process, so ids of two processes sharing a millisecond never collide. */
const PROCESS_TAG = randomBytes(2).toString('hex');

/**
 * Creates an event id that sorts by the event's time: 13 digits of ms since the epoch, a 6-digit
 * counter and a per-process tag. The counter never resets, so two events of one process with the
 * same millisecond get different ids even when their times arrive out of order.
 */
export function newEventId(now: number = Date.now()): string {
  sequence = (sequence + 1) % 1_000_000;
  return `${String(Math.max(0, Math.floor(now))).padStart(EVENT_ID_TIME_DIGITS, '0')}${String(sequence).padStart(EVENT_ID_COUNTER_DIGITS, '0')}${PROCESS_TAG}`;
}

/**
 * Makes the later event ids of this process take counters above the counter of `id`, the newest
 * id in the store. Otherwise a restarted relay whose clock went back could create ids in a
 * millisecond of the previous process that sort between the ids of one of its groups or index runs.
 * After the counter wraps at 1,000,000 that can happen again.
 */
export function continueEventIdsAfter(id: string): void {
  const counter = counterOf(id);
  if (Number.isInteger(counter) && counter > sequence) {
    sequence = counter;
  }
}

/** Returns the smallest event id at or after a time, for range scans. */
export function eventIdFloor(millis: number): string {
  return `${String(Math.max(0, millis)).padStart(13, '0')}000000`;
}

/**
 * Tells whether `id` is the event id that this process created right after `previous` within the
 * same millisecond (same time and tag, counter one higher). Then no other id of this process sorts
 * between the two. An id of another process from the same millisecond could.
 */
export function eventIdFollows(previous: string, id: string): boolean {
  const length = EVENT_ID_TIME_DIGITS + EVENT_ID_COUNTER_DIGITS;
  if (id.length !== previous.length || id.length <= length) {
    return false;
  }
  // Compares character codes instead of substrings, because this runs several times per event.
  for (let position = 0; position < id.length; position += 1) {
    if (position === EVENT_ID_TIME_DIGITS) {
      position = length;
    }
    if (id.charCodeAt(position) !== previous.charCodeAt(position)) {
      return false;
    }
  }
  return counterOf(id) === counterOf(previous) + 1;
}

/** Reads the counter digits of an event id, or returns NaN when one of them is not a digit. */
function counterOf(id: string): number {
  let counter = 0;
  for (let position = EVENT_ID_TIME_DIGITS; position < EVENT_ID_TIME_DIGITS + EVENT_ID_COUNTER_DIGITS; position += 1) {
    const digit = id.charCodeAt(position) - 48;
    if (digit < 0 || digit > 9) {
      return Number.NaN;
    }
    counter = counter * 10 + digit;
  }
  return counter;
}

/** Tells whether two event ids were created by the same process (their tags are equal). */
export function sameEventIdTag(left: string, right: string): boolean {
  const length = EVENT_ID_TIME_DIGITS + EVENT_ID_COUNTER_DIGITS;
  return left.length === right.length && left.slice(length) === right.slice(length);
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
