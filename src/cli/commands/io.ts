/** Output streams and environment of one CLI run; tests pass their own to capture the output. */
export interface CliIo {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
  env: Record<string, string | undefined>;
}

/** Returns the process's own streams and environment. */
export function processIo(): CliIo {
  return { stdout: process.stdout, stderr: process.stderr, env: process.env };
}

/** Exit codes of the CLI. */
export const EXIT_OK = 0;
/** A command ran but failed: the API rejected the request, the relay is unreachable, an entry is absent. */
export const EXIT_FAILURE = 1;
/** The command line is wrong; the message comes with the usage line. */
export const EXIT_USAGE = 2;

/** A wrong command line: main prints the message and the usage line, and exits with EXIT_USAGE. */
export class UsageError extends Error {
  readonly usage: string;

  constructor(message: string, usage: string) {
    super(message);
    this.name = 'UsageError';
    this.usage = usage;
  }
}

/** A failure to report as one line without a usage line; main exits with EXIT_FAILURE. */
export class CommandError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CommandError';
  }
}

/** Global options, which every command accepts before or after its name. */
export interface GlobalOptions {
  configPath?: string;
  adminUrl?: string;
  token?: string;
}
