import { describe, expect, it } from 'vitest';
import { ConcurrencyLimiter } from '../../src/delivery/limiter.js';

// Lets granted acquire() promises run their continuations.
async function settle(): Promise<void> {
  await new Promise((resolve) => setImmediate(resolve));
}

describe('ConcurrencyLimiter', () => {
  it('caps the total number of slots', async () => {
    const limiter = new ConcurrencyLimiter(2, 10);
    const first = await limiter.acquire('a.example');
    await limiter.acquire('b.example');

    let thirdGranted = false;
    const third = limiter.acquire('c.example').then((release) => {
      thirdGranted = true;
      return release;
    });
    await settle();

    expect(limiter.active()).toBe(2);
    expect(thirdGranted).toBe(false);
    expect(limiter.tryAcquire('d.example')).toBeNull();

    first();
    await third;
    expect(thirdGranted).toBe(true);
    expect(limiter.active()).toBe(2);
  });

  it('caps the slots of one domain', async () => {
    const limiter = new ConcurrencyLimiter(10, 2);
    const first = limiter.tryAcquire('example.com');
    const second = limiter.tryAcquire('EXAMPLE.com');

    expect(first).not.toBeNull();
    expect(second).not.toBeNull();
    expect(limiter.tryAcquire('example.com')).toBeNull();
    expect(limiter.tryAcquire('other.example')).not.toBeNull();
    expect(limiter.active()).toBe(3);

    first?.();
    expect(limiter.tryAcquire('example.com')).not.toBeNull();
  });

  it('compares domains as A-labels', () => {
    const limiter = new ConcurrencyLimiter(10, 1);

    expect(limiter.tryAcquire('bücher.example')).not.toBeNull();
    expect(limiter.tryAcquire('xn--bcher-kva.example')).toBeNull();
  });

  it('serves waiters of a domain in arrival order', async () => {
    const limiter = new ConcurrencyLimiter(10, 1);
    const holder = await limiter.acquire('example.com');
    const order: number[] = [];
    const waiters = [1, 2, 3].map((n) =>
      limiter.acquire('example.com').then((release) => {
        order.push(n);
        release();
      }),
    );

    holder();
    await Promise.all(waiters);

    expect(order).toEqual([1, 2, 3]);
    expect(limiter.active()).toBe(0);
  });

  it('lets another domain pass a domain at its limit', async () => {
    const limiter = new ConcurrencyLimiter(2, 1);
    const busy = await limiter.acquire('busy.example');
    const other = await limiter.acquire('other.example');
    const granted: string[] = [];
    void limiter.acquire('busy.example').then(() => granted.push('busy'));
    void limiter.acquire('free.example').then(() => granted.push('free'));

    other();
    await settle();

    expect(granted).toEqual(['free']);
    busy();
    await settle();
    expect(granted).toEqual(['free', 'busy']);
  });

  it('ignores a second release', async () => {
    const limiter = new ConcurrencyLimiter(1, 1);
    const release = await limiter.acquire('example.com');

    release();
    const next = limiter.tryAcquire('example.com');
    release();

    expect(next).not.toBeNull();
    expect(limiter.active()).toBe(1);
    expect(limiter.tryAcquire('example.com')).toBeNull();
  });

  it('rejects a limit below one', () => {
    expect(() => new ConcurrencyLimiter(0, 1)).toThrow(expect.objectContaining({ code: 'BOUNCEGATE_CONFIG_INVALID' }));
    expect(() => new ConcurrencyLimiter(1, 1.5)).toThrow(expect.objectContaining({ code: 'BOUNCEGATE_CONFIG_INVALID' }));
  });
});
