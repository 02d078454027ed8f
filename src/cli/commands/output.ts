import { AdminApiError } from '../admin-client.js';
import { UsageError, type CliIo } from './io.js';

/** Prints a value as indented JSON. */
export function printJson(io: CliIo, value: unknown): void {
  io.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/**
 * Runs an admin API call. A 400 that names a field is a wrong command-line value, so it becomes a
 * UsageError with the command's usage line; other failures pass through.
 */
export async function callApi<T>(usage: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (error instanceof AdminApiError && error.status === 400 && error.field !== null) {
      throw new UsageError(error.message, usage);
    }
    throw error;
  }
}

/** Returns the audit actor the CLI records: "cli:" and the login name, or "cli" when it is unknown. */
export function cliActor(io: CliIo): string {
  const user = io.env.USER ?? io.env.LOGNAME ?? io.env.USERNAME;
  return user ? `cli:${user}` : 'cli';
}
