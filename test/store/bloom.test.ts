import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BloomFilter } from '../../src/store/bloom.js';
import { Database } from '../../src/store/db.js';
import { SuppressionStore } from '../../src/store/suppressions.js';
import { makeTempDir } from '../helpers/tmp.js';

describe('bloom filter', () => {
  it('never misses an added key', () => {
    const filter = new BloomFilter(10_000);
    for (let i = 0; i < 10_000; i += 1) {
      filter.add(`user${i}@example.com`);
    }
    for (let i = 0; i < 10_000; i += 1) {
      expect(filter.mightContain(`user${i}@example.com`)).toBe(true);
    }
  });

  it('keeps false positives near one percent', () => {
    const filter = new BloomFilter(1_000_000);
    for (let i = 0; i < 1_000_000; i += 1) {
      filter.add(`user${i}@example.com`);
    }
    let falsePositives = 0;
    for (let i = 0; i < 100_000; i += 1) {
      if (filter.mightContain(`other${i}@example.net`)) {
        falsePositives += 1;
      }
    }
    expect(falsePositives / 100_000).toBeLessThan(0.02);
  });
});

describe('suppression store with filter', () => {
  let dir: ReturnType<typeof makeTempDir>;
  let db: Database;

  beforeEach(async () => {
    dir = makeTempDir();
    db = await Database.open(dir.path);
  });

  afterEach(async () => {
    await db.close();
    dir.remove();
  });

  it('finds entries stored before and after the build', async () => {
    const store = new SuppressionStore(db, { caseSensitiveLocalPart: false });
    await store.addManual('before@example.com', 'userunknown', null, 'test');
    const building = store.buildFilter();
    await store.addManual('during@example.com', 'userunknown', null, 'test');
    await building;
    await store.addManual('after@example.com', 'userunknown', null, 'test');

    expect((await store.findActive('Before@example.com'))?.address).toBe('before@example.com');
    expect((await store.findActive('during@example.com'))?.address).toBe('during@example.com');
    expect((await store.findActive('after@example.com'))?.address).toBe('after@example.com');
    expect(await store.findActive('absent@example.com')).toBeNull();
  });
});
