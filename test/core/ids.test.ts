import { describe, expect, it } from 'vitest';
import { eventIdFollows, newEventId, sameEventIdTag } from '../../src/core/ids.js';

describe('event ids', () => {
  it('follow within one millisecond', () => {
    const first = newEventId(1_700_000_000_000);
    const second = newEventId(1_700_000_000_000);
    const third = newEventId(1_700_000_000_000);
    expect(eventIdFollows(first, second)).toBe(true);
    expect(eventIdFollows(second, third)).toBe(true);
    expect(eventIdFollows(first, third)).toBe(false);
    expect(eventIdFollows(second, first)).toBe(false);
  });

  it('stop following across time, tag or form', () => {
    const id = '1700000000000000041abcd';
    const cases: Array<[string, boolean]> = [
      ['1700000000000000042abcd', true],
      ['1700000000001000042abcd', false],
      ['1700000000000000042abce', false],
      ['1700000000000000043abcd', false],
      ['1700000000000000042abcdx', false],
      ['17000000000000000x2abcd', false],
      ['1700000000000000041abcd', false],
    ];
    for (const [next, follows] of cases) {
      expect(eventIdFollows(id, next), next).toBe(follows);
    }
    expect(eventIdFollows('1700000000000999999abcd', '1700000000000000000abcd')).toBe(false);
    expect(eventIdFollows('1700000000000000009abcd', '1700000000000000010abcd')).toBe(true);
    expect(sameEventIdTag(id, '1700000000001000042abcd')).toBe(true);
  });
});
