import { eventIdFollows } from '../core/ids.js';
import type { DeliveryEvent } from '../core/types.js';

/**
 * Consecutive events of one write whose ids follow each other, stored as one LevelDB value under
 * the id of the first. The first member is complete. Each later member contains its id and the
 * fields that differ from the first. An attempt to ten recipients is one value instead of ten.
 */
export interface EventGroup {
  group: [DeliveryEvent, ...Array<Partial<DeliveryEvent> & { id: string }>];
}

/** Value of one key in the events sublevel: one event, or a group whose first id is the key. */
export type StoredEvents = DeliveryEvent | EventGroup;

/**
 * Returns the values to store for events in id order. Events join the group before them when their
 * id follows the previous member's (see eventIdFollows) and they have the same fields as its first
 * member, so a member never needs a field removed.
 */
export function groupEvents(events: readonly DeliveryEvent[]): Array<{ key: string; value: StoredEvents }> {
  const stored: Array<{ key: string; value: StoredEvents }> = [];
  let first: DeliveryEvent | null = null;
  let members: EventGroup['group'] | null = null;
  let previous: DeliveryEvent | null = null;
  const close = (): void => {
    if (first && members) {
      stored.push({ key: first.id, value: members.length === 1 ? first : { group: members } });
    }
  };
  for (const event of events) {
    const diff = first && previous && eventIdFollows(previous.id, event.id) ? differences(first, event) : null;
    if (diff && members) {
      members.push(diff);
    } else {
      close();
      first = event;
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

/** Returns the id and the fields of `event` that differ from `first`, or null when their fields are not the same set. */
function differences(first: DeliveryEvent, event: DeliveryEvent): (Partial<DeliveryEvent> & { id: string }) | null {
  const diff: Record<string, unknown> = { id: event.id };
  const firstFields = first as unknown as Record<string, unknown>;
  const fields = event as unknown as Record<string, unknown>;
  let count = 0;
  for (const name in fields) {
    count += 1;
    if (!(name in firstFields)) {
      return null;
    }
    if (name !== 'id' && !sameValue(firstFields[name], fields[name])) {
      // JSON drops an undefined field, and the first member's value would then take its place.
      if (fields[name] === undefined) {
        return null;
      }
      diff[name] = fields[name];
    }
  }
  return count === Object.keys(firstFields).length ? (diff as Partial<DeliveryEvent> & { id: string }) : null;
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
