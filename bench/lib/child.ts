import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import type { Cleanup } from './cleanup.js';

/** Bytes of a child's stderr kept for error messages. */
const STDERR_TAIL_BYTES = 8 * 1024;

/** A child process that is killed at cleanup, with the tail of its stderr. */
export interface Child {
  process: ChildProcess;
  pid: number;
  /** Resolves with the exit code (or the signal name) once the process has exited. */
  exited: Promise<number | string>;
  stderrTail(): string;
  /** Sends `signal`, waits up to `graceMs` for the exit, then sends SIGKILL. */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<void>;
}

/** Spawns a program that is stopped at cleanup. Its stdout is ignored unless `onStdout` is given. */
export function startChild(
  cleanup: Cleanup,
  command: string,
  args: string[],
  options: SpawnOptions & { onStdout?: (chunk: Buffer) => void } = {},
): Child {
  const { onStdout, ...spawnOptions } = options;
  const child = spawn(command, args, { ...spawnOptions, stdio: ['ignore', onStdout ? 'pipe' : 'ignore', 'pipe'] });
  if (child.pid === undefined) {
    throw new Error(`starting ${command} failed`);
  }
  const pid = child.pid;

  let tail = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    tail = (tail + chunk.toString('utf8')).slice(-STDERR_TAIL_BYTES);
  });
  if (onStdout) {
    child.stdout?.on('data', onStdout);
  }

  let exitValue: number | string | null = null;
  const exited = new Promise<number | string>((resolve) => {
    child.once('exit', (code, signal) => {
      exitValue = code ?? signal ?? 'unknown';
      resolve(exitValue);
    });
    child.once('error', (error) => {
      tail += `\n${error.message}`;
      exitValue = 'spawn-error';
      resolve(exitValue);
    });
  });

  const stop = async (signal: NodeJS.Signals = 'SIGTERM', graceMs = 10_000): Promise<void> => {
    if (exitValue !== null) {
      return;
    }
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
  };
  const remove = cleanup.add(`stop ${command} (pid ${pid})`, () => stop('SIGKILL', 2_000));
  void exited.then(() => remove());

  return { process: child, pid, exited, stderrTail: () => tail, stop };
}

/** Runs a program to its end and returns its exit code, stdout and stderr. */
export function runToEnd(command: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.once('error', (error) => resolve({ code: null, stdout, stderr: `${stderr}${error.message}` }));
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}
