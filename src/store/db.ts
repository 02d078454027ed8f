import { mkdirSync } from 'node:fs';
import { Level } from 'level';
import { BouncegateError } from '../core/errors.js';

/** Key separator inside composite keys; below every printable character so prefixes sort first. */
export const SEP = '\x00';
/** Upper bound for a prefix range scan: `${prefix}${SEP}` .. `${prefix}${SEP}${HIGH}`. */
export const HIGH = '\xff';

/** The relay's LevelDB database. One process owns it; other tools go through the admin API. */
export class Database {
  readonly level: Level<string, unknown>;

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
