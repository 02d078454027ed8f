import type { CliIo } from '../../src/cli/commands/io.js';
import { main } from '../../src/cli/main.js';

/** Output of one CLI run. */
export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs main() with captured output and only the given environment variables. */
export async function runCli(argv: string[], env: Record<string, string | undefined> = {}): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  const io: CliIo = {
    stdout: { write: (text: string) => (stdout += text) },
    stderr: { write: (text: string) => (stderr += text) },
    env: { USER: 'tester', ...env },
  };
  const code = await main(argv, io);
  return { code, stdout, stderr };
}
