import { describe, expect, it } from 'vitest';
import { checkCidrList, createAddressMatcher } from '../../src/config/cidr.js';

describe('createAddressMatcher', () => {
  const matches = createAddressMatcher(['127.0.0.0/8', '10.1.0.0/16', '2001:db8::/32', '192.0.2.7']);

  it('matches addresses inside the blocks', () => {
    for (const address of ['127.0.0.1', '10.1.255.3', '2001:db8::25', '192.0.2.7', '::ffff:10.1.2.3']) {
      expect(matches(address), address).toBe(true);
    }
  });

  it('rejects outside and invalid addresses', () => {
    for (const address of ['10.2.0.1', '192.0.2.8', '2001:db9::1', '::ffff:10.2.0.1', 'not-an-ip', '']) {
      expect(matches(address), address).toBe(false);
    }
  });

  it('repeats results for cached addresses', () => {
    const addresses = Array.from({ length: 5000 }, (_, index) => `10.${index % 3}.${(index >> 8) & 255}.${index & 255}`);
    const first = addresses.map(matches);
    const second = addresses.map(matches);
    expect(second).toEqual(first);
    expect(first.filter(Boolean)).toHaveLength(addresses.filter((address) => address.startsWith('10.1.')).length);
  });
});

describe('checkCidrList', () => {
  it('names the first invalid entry', () => {
    expect(checkCidrList(['127.0.0.1/8', '::1/128'])).toBeNull();
    expect(checkCidrList(['10.0.0.0/8', '10.0.0.0/33'])).toMatch(/"10\.0\.0\.0\/33"/);
  });
});
