import { eventIdFollows } from '../core/ids.js';
import { DELIVERY_EVENT_FIELDS, type DeliveryEvent } from '../core/types.js';

/**
 * Consecutive events of one write whose ids follow each other, stored as one LevelDB value under
 * the id of the first. The first member is complete. Each later member contains its id and the
 * fields that differ from the first. An attempt to ten recipients is one value instead of ten.
 */
export interface EventGroup {
  group: [DeliveryEvent, ...Member[]];
}

/** Value of one key in the events sublevel: one event, or a group whose first id is the key. */
export type StoredEvents = DeliveryEvent | EventGroup;

/**
 * Returns the values to store for events in id order. An event joins the group before it when its id
 * follows the previous member's (see eventIdFollows) and it has the first member's fields, so a
 * member never needs a field removed. `follows[i]`, when given, is eventIdFollows for `events[i]`.
 */
export function groupEvents(events: readonly DeliveryEvent[], follows?: readonly boolean[]): Array<{ key: string; value: StoredEvents }> {
  const stored: Array<{ key: string; value: StoredEvents }> = [];
  let first: DeliveryEvent | null = null;
  // The first member's field names, read when a second event may join it.
  let names: string[] | null = null;
  let inOrder = false;
  let members: EventGroup['group'] | null = null;
  let previous: DeliveryEvent | null = null;
  const close = (): void => {
    if (first && members) {
      stored.push({ key: first.id, value: members.length === 1 ? first : { group: members } });
    }
  };
  for (const [position, event] of events.entries()) {
    const follow = previous !== null && (follows ? follows[position] === true : eventIdFollows(previous.id, event.id));
    if (first && follow && names === null) {
      names = Object.keys(first);
      inOrder = names.length === DELIVERY_EVENT_FIELDS.length && names.every((name, index) => name === DELIVERY_EVENT_FIELDS[index]);
    }
    const diff = first && follow && names ? differences(first, names, inOrder, event) : null;
    if (diff && members) {
      members.push(diff);
    } else {
      close();
      first = event;
      names = null;
      members = [event];
    }
    previous = event;
  }
  close();
  return stored;
}

/** Returns the events of a stored value in id order. */
export function expandStored(value: StoredEvents): DeliveryEvent[] {
  if (!isGroup(value)) {
    return [value];
  }
  const [first, ...rest] = value.group;
  return [first, ...rest.map((member) => ({ ...first, ...member }))];
}

/** Tells a group from an event: an event always has an id, a group has none of its own. */
function isGroup(value: StoredEvents): value is EventGroup {
  return !('id' in value) && Array.isArray((value as Partial<EventGroup>).group);
}

/**
 * Returns the id and the fields of `event` that differ from `first`, whose own field names are
 * `names` (`inOrder` when they are DELIVERY_EVENT_FIELDS), or null when `event` does not have the
 * same fields in the same order.
 */
function differences(first: DeliveryEvent, names: readonly string[], inOrder: boolean, event: DeliveryEvent): Member | null {
  let count = 0;
  for (const name in event) {
    if (names[count] !== name) {
      return null;
    }
    count += 1;
  }
  if (count !== names.length) {
    return null;
  }
  const diff = inOrder ? differencesInOrder(first, event) : differencesByName(first, names, event);
  // JSON drops an undefined field, and the first member's value would then take its place.
  for (const name in diff) {
    if ((diff as Record<string, unknown>)[name] === undefined) {
      return null;
    }
  }
  return diff;
}

/** A later member of a group: its id and the fields that differ from the first member. */
type Member = Partial<DeliveryEvent> & { id: string };

/** Returns the differing fields of two events with DELIVERY_EVENT_FIELDS, compared by name. */
function differencesInOrder(first: DeliveryEvent, event: DeliveryEvent): Member {
  const diff: Member = { id: event.id };
  if (event.time !== first.time) diff.time = event.time;
  if (event.queueId !== first.queueId) diff.queueId = event.queueId;
  if (event.messageId !== first.messageId) diff.messageId = event.messageId;
  if (event.sender !== first.sender) diff.sender = event.sender;
  if (event.recipient !== first.recipient) diff.recipient = event.recipient;
  if (event.stage !== first.stage) diff.stage = event.stage;
  if (event.mx !== first.mx) diff.mx = event.mx;
  if (event.remoteIp !== first.remoteIp) diff.remoteIp = event.remoteIp;
  if (event.remotePort !== first.remotePort) diff.remotePort = event.remotePort;
  if (event.localIp !== first.localIp) diff.localIp = event.localIp;
  if (!sameValue(first.tls, event.tls)) diff.tls = event.tls;
  if (event.code !== first.code) diff.code = event.code;
  if (event.enhancedCode !== first.enhancedCode) diff.enhancedCode = event.enhancedCode;
  if (event.text !== first.text) diff.text = event.text;
  if (event.attempt !== first.attempt) diff.attempt = event.attempt;
  if (event.permanent !== first.permanent) diff.permanent = event.permanent;
  if (event.reason !== first.reason) diff.reason = event.reason;
  if (event.action !== first.action) diff.action = event.action;
  if (!sameValue(first.source, event.source)) diff.source = event.source;
  if (event.campaign !== first.campaign) diff.campaign = event.campaign;
  if (event.side !== first.side) diff.side = event.side;
  if (event.rule !== first.rule) diff.rule = event.rule;
  if (event.suppressed !== first.suppressed) diff.suppressed = event.suppressed;
  return diff;
}

/** Returns the differing fields of two events whose field names are `names`, in any order. */
function differencesByName(first: DeliveryEvent, names: readonly string[], event: DeliveryEvent): Member {
  const firstFields = first as unknown as Record<string, unknown>;
  const fields = event as unknown as Record<string, unknown>;
  const diff: Record<string, unknown> = { id: event.id };
  for (const name of names) {
    const value = fields[name];
    if (name !== 'id' && value !== firstFields[name] && !sameValue(firstFields[name], value)) {
      diff[name] = value;
    }
  }
  return diff as Member;
}

/** Tells whether two field values are equal: primitives by identity, flat objects such as `tls` and `source` field by field. */
function sameValue(left: unknown, right: unknown): boolean {
  if (left === right) {
    return true;
  }
  if (typeof left !== 'object' || typeof right !== 'object' || left === null || right === null) {
    return false;
  }
  const leftFields = left as Record<string, unknown>;
  const rightFields = right as Record<string, unknown>;
  const names = Object.keys(leftFields);
  if (names.length !== Object.keys(rightFields).length) {
    return false;
  }
  return names.every((name) => name in rightFields && leftFields[name] === rightFields[name]);
}
