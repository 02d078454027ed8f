import { describe, expect, it } from 'vitest';
import { sameDomainPart, splitAddress } from '../../src/core/address.js';

describe('sameDomainPart', () => {
  const cases: Array<[string, string]> = [
    ['a@example.com', 'bb@example.com'],
    ['a@example.com', 'a@example.org'],
    ['a@example.com', 'a@ample.com'],
    ['a@b@example.com', 'c@example.com'],
    ['a@b@example.com', 'a@b@other.com'],
    ['local', 'other'],
    ['local', 'x@'],
    ['', ''],
    ['@', ''],
    ['a@Example.com', 'a@example.com'],
    ['user@example.com', 'example.com'],
  ];

  it.each(cases)('agrees with splitAddress for %j and %j', (left, right) => {
    const expected = splitAddress(left).domain === splitAddress(right).domain;
    expect(sameDomainPart(left, right)).toBe(expected);
    expect(sameDomainPart(right, left)).toBe(expected);
  });
});
