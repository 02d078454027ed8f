import { afterEach, beforeEach } from 'vitest';
import { Database } from '../../src/store/db.js';
import { makeTempDir } from './tmp.js';

/** A database in a temp folder; `db` is replaced before each test. */
export interface TempDatabase {
  db: Database;
  path: string;
}

/** Opens a Database in a new temp folder before each test, and closes and deletes it after. */
export function useTempDatabase(): TempDatabase {
  const state = {} as TempDatabase & { remove: () => void };

  beforeEach(async () => {
    const dir = makeTempDir();
    state.path = dir.path;
    state.remove = () => dir.remove();
    state.db = await Database.open(dir.path);
  });

  afterEach(async () => {
    await state.db.close();
    state.remove();
  });

  return state;
}
