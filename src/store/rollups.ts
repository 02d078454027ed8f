import { domainOf, sameDomainPart } from '../core/address.js';
import type { Action, DeliveryEvent } from '../core/types.js';
import { SEP } from './db.js';
import { normalizeReplyText } from '../core/normalize-text.js';

/** Keys that events are counted by in the hourly rollups. */
export const ROLLUP_DIMENSIONS = ['domain', 'mx', 'text', 'reason', 'campaign', 'source'] as const;

/** One dimension of the hourly rollups. */
export type RollupDimension = (typeof ROLLUP_DIMENSIONS)[number];

/** Event counts by action. */
export type ActionCounts = Record<Action, number>;

/** Counts of one value of a dimension, e.g. one recipient domain. */
export type SegmentRow = { value: string } & ActionCounts;

/** Counts of every value of a dimension within one hour. */
export interface TimelineBucket {
  /** ISO-8601 UTC start of the hour. */
  hour: string;
  values: Record<string, ActionCounts>;
}

/** Value recorded for an event that has no MX host, campaign or submission source. */
export const NONE_VALUE = '(none)';

const HOUR_MS = 3_600_000;

/** Returns counts of zero for every action. */
export function emptyCounts(): ActionCounts {
  return { delivered: 0, deferred: 0, bounced: 0, expired: 0, suppressed: 0 };
}

/** Adds two sets of counts into a new one. */
export function addCounts(left: ActionCounts, right: ActionCounts): ActionCounts {
  return {
    delivered: left.delivered + right.delivered,
    deferred: left.deferred + right.deferred,
    bounced: left.bounced + right.bounced,
    expired: left.expired + right.expired,
    suppressed: left.suppressed + right.suppressed,
  };
}

/** Returns the rollup hour of a time: "YYYY-MM-DDTHH" in UTC, which sorts in time order. */
export function hourKey(millis: number): string {
  return new Date(millis).toISOString().slice(0, 13);
}

/** Returns the value an event is counted under for one dimension. */
export function dimensionValue(event: DeliveryEvent, dimension: RollupDimension): string {
  switch (dimension) {
    case 'domain':
      return domainOf(event.recipient) || NONE_VALUE;
    case 'mx':
      return event.mx?.toLowerCase() ?? NONE_VALUE;
    case 'text':
      return normalizeReplyText(event.text) || NONE_VALUE;
    case 'reason':
      return event.reason || NONE_VALUE;
    case 'campaign':
      return event.campaign ?? NONE_VALUE;
    case 'source':
      return event.source?.user ?? event.source?.ip ?? NONE_VALUE;
  }
}

/**
 * Returns a string that two events share only when rollupEntries gives both the same keys: their
 * hour, recipient domain and the raw values behind the other dimensions. It takes no reply text
 * normalisation, so the events of one attempt, which differ in recipient only, are grouped cheaply
 * and their keys built once.
 */
export function rollupSignature(event: DeliveryEvent): string {
  const hour = Math.floor((Date.parse(event.time) || Date.now()) / HOUR_MS);
  return JSON.stringify([hour, domainOf(event.recipient), event.mx, event.text, event.reason, event.campaign, event.source?.user, event.source?.ip]);
}

/**
 * Tells whether two events have the same rollup signature, without building it: times in the same
 * hour, equal raw recipient domains and equal values behind the other dimensions. False does not
 * mean that the signatures differ.
 */
export function sameRollupSignature(left: DeliveryEvent, right: DeliveryEvent): boolean {
  return (
    sameIsoHour(left.time, right.time) &&
    left.mx === right.mx &&
    left.text === right.text &&
    left.reason === right.reason &&
    left.campaign === right.campaign &&
    left.source?.user === right.source?.user &&
    left.source?.ip === right.source?.ip &&
    sameDomainPart(left.recipient, right.recipient)
  );
}

/** Length of a UTC time from `toISOString()` between the years 0 and 9999: "YYYY-MM-DDTHH:MM:SS.sssZ". */
const ISO_TIME_LENGTH = 24;
/** Length of the "YYYY-MM-DDTHH" part of such a time. */
const ISO_HOUR_LENGTH = 13;

/** Tells whether two times are equal or are both `toISOString()` times of the same UTC hour. */
function sameIsoHour(left: string, right: string): boolean {
  if (left === right) {
    return true;
  }
  if (left.length !== ISO_TIME_LENGTH || right.length !== ISO_TIME_LENGTH || !left.endsWith('Z') || !right.endsWith('Z')) {
    return false;
  }
  for (let position = 0; position < ISO_HOUR_LENGTH; position += 1) {
    if (left.charCodeAt(position) !== right.charCodeAt(position)) {
      return false;
    }
  }
  return true;
}

/** Returns the daily rollup day of a time: "YYYY-MM-DD" in UTC. */
export function dayKey(millis: number): string {
  return new Date(millis).toISOString().slice(0, 10);
}

/**
 * Returns the rollup keys that an event adds one to: `<hour>\0<dimension>\0<value>` and
 * `<day>\0<dimension>\0<value>` for every dimension. Hour and day keys never share a prefix, because
 * an hour key has "T" where a day key has the separator.
 */
export function rollupEntries(event: DeliveryEvent): string[] {
  const time = Date.parse(event.time) || Date.now();
  const hour = hourKey(time);
  const day = dayKey(time);
  const keys: string[] = [];
  for (const dimension of ROLLUP_DIMENSIONS) {
    const value = dimensionValue(event, dimension).replaceAll(SEP, '');
    keys.push(`${hour}${SEP}${dimension}${SEP}${value}`, `${day}${SEP}${dimension}${SEP}${value}`);
  }
  return keys;
}
