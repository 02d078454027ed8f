import { describe, expect, it } from 'vitest';
import { Database } from '../../src/store/db.js';
import { useTempDatabase } from '../helpers/database.js';

describe('Database.write', () => {
  const temp = useTempDatabase();

  it('writes what sublevels read back', async () => {
    const { db } = temp;
    const records = db.sublevel<{ n: number; text: string }>('records');
    const bodies = db.level.sublevel<string, Buffer>('bodies', { valueEncoding: 'buffer' });
    const body = Buffer.from([0, 1, 2, 255, 13, 10, 46]);
    await db.write([
      { type: 'put', sublevel: records, key: 'a\u00001', value: { n: 1, text: 'grüße ✉' } },
      { type: 'put', sublevel: records, key: 'b', value: { n: 2, text: '' } },
      { type: 'put', sublevel: bodies, key: 'Q1', value: body },
    ]);

    expect(await records.get('a\u00001')).toEqual({ n: 1, text: 'grüße ✉' });
    expect(await records.get('b')).toEqual({ n: 2, text: '' });
    expect(await bodies.get('Q1')).toEqual(body);
    expect(await records.keys().all()).toEqual(['a\u00001', 'b']);
    expect(await bodies.keys().all()).toEqual(['Q1']);
  });

  it('deletes keys in the same batch as puts', async () => {
    const { db } = temp;
    const records = db.sublevel<string>('records');
    await records.put('old', 'x');
    await db.write(
      [
        { type: 'del', sublevel: records, key: 'old' },
        { type: 'put', sublevel: records, key: 'new', value: 'y' },
      ],
      { sync: true },
    );

    expect(await records.get('old')).toBeUndefined();
    expect(await records.get('new')).toBe('y');
  });

  it('writes nothing when an operation is invalid', async () => {
    const { db } = temp;
    const records = db.sublevel<string>('records');
    const write = db.write([
      { type: 'put', sublevel: records, key: 'first', value: 'x' },
      { type: 'put', sublevel: records, key: 'second' },
    ]);

    await expect(write).rejects.toThrow(/"!records!second" has no value/);
    expect(await records.get('first')).toBeUndefined();
  });

  it('leaves the database closable after many batches', async () => {
    const { db } = temp;
    const records = db.sublevel<number>('records');
    for (let round = 0; round < 200; round += 1) {
      await db.write([{ type: 'put', sublevel: records, key: String(round).padStart(3, '0'), value: round }]);
    }
    await db.write([]);

    expect(await records.values().all()).toHaveLength(200);
    await db.close();
    temp.db = await Database.open(temp.path);
    expect(await temp.db.sublevel<number>('records').get('199')).toBe(199);
  });
});
