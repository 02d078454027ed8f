import { mkdirSync } from 'node:fs';
import { Level } from 'level';
import { BouncegateError } from '../core/errors.js';

/** Key separator inside composite keys; below every printable character so prefixes sort first. */
export const SEP = '\x00';
/** Upper bound for a prefix range scan: `${prefix}${SEP}` .. `${prefix}${SEP}${HIGH}`. */
export const HIGH = '\xff';

/** A sublevel as `write` needs it: its key prefix. Its value encoding comes from `valueEncoding()`. */
interface SublevelLike {
  readonly prefix: string;
}

/** A put or delete of one key in a sublevel, written with others in one atomic batch. */
export interface BatchOperation {
  type: 'put' | 'del';
  sublevel: SublevelLike;
  key: string;
  value?: unknown;
}

/** The part of classic-level's chained batch that `write` uses: abstract-level's private interface. */
interface NativeBatch {
  _put(key: string, value: string | Uint8Array): void;
  _del(key: string): void;
  _write(options: { sync: boolean }): Promise<void>;
  close(): Promise<void>;
}

/** The encoder of a sublevel's values, as abstract-level's `valueEncoding()` returns it. */
interface ValueEncoder {
  encode(value: unknown): string | Uint8Array;
}

/** The relay's LevelDB database. One process owns it; other tools go through the admin API. */
export class Database {
  readonly level: Level<string, unknown>;
  private readonly encoders = new WeakMap<SublevelLike, ValueEncoder>();

  private constructor(level: Level<string, unknown>) {
    this.level = level;
  }

  /** Opens (creating if needed) the database folder. */
  static async open(path: string): Promise<Database> {
    mkdirSync(path, { recursive: true });
    const level = new Level<string, unknown>(path, { valueEncoding: 'json' });
    try {
      await level.open();
    } catch (error) {
      throw new BouncegateError(
        'BOUNCEGATE_STORE_FAILED',
        `cannot open the LevelDB store at ${path}: ${describe(error)}. Is another bouncegate process using this dataDir?`,
        { cause: error },
      );
    }
    return new Database(level);
  }

  /** Returns a JSON-valued sublevel. */
  sublevel<V>(name: string) {
    return this.level.sublevel<string, V>(name, { valueEncoding: 'json' });
  }

  /**
   * Writes operations in one atomic batch, synced to disk when `sync` is set. Keys are prefixed and
   * values encoded here, then handed to classic-level's native batch one by one. abstract-level's
   * array `batch()` copies and checks every operation and makes the native side read it property by
   * property, which took about twice as long for the 80 writes of ten delivery events.
   * NOTE: `_put`, `_del` and `_write` are abstract-level's interface for implementations, not its
   * public one; test/store/db-write.test.ts fails if an upgrade changes them.
   */
  async write(operations: readonly BatchOperation[], options: { sync?: boolean } = {}): Promise<void> {
    if (operations.length === 0) {
      return;
    }
    const batch = this.level.batch() as unknown as NativeBatch;
    try {
      for (const operation of operations) {
        const key = operation.sublevel.prefix + operation.key;
        if (operation.type === 'del') {
          batch._del(key);
        } else if (operation.value === undefined || operation.value === null) {
          throw new TypeError(`invalid batch operation: the put of key ${JSON.stringify(key)} has no value`);
        } else {
          batch._put(key, this.encoderOf(operation.sublevel).encode(operation.value));
        }
      }
      await batch._write({ sync: options.sync ?? false });
    } finally {
      await batch.close();
    }
  }

  private encoderOf(sublevel: SublevelLike): ValueEncoder {
    let encoder = this.encoders.get(sublevel);
    if (!encoder) {
      encoder = (sublevel as unknown as { valueEncoding(): ValueEncoder }).valueEncoding();
      this.encoders.set(sublevel, encoder);
    }
    return encoder;
  }

  async close(): Promise<void> {
    await this.level.close();
  }
}

function describe(error: unknown): string {
  if (error instanceof Error) {
    const cause = (error as Error & { cause?: unknown }).cause;
    return cause instanceof Error ? `${error.message} (${cause.message})` : error.message;
  }
  return String(error);
}
