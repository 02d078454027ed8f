import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

/** Clock ticks per second of the times in /proc/<pid>/stat (sysconf(_SC_CLK_TCK), 100 on Linux). */
const CLOCK_TICKS_PER_SECOND = readClockTicks();

/** CPU times of one process in seconds, from /proc/<pid>/stat. */
export interface ProcessCpu {
  /** User plus system time of the process itself. */
  own: number;
  /** User plus system time of its children that have exited and been waited for. */
  reapedChildren: number;
  parentPid: number;
}

/** Reads the CPU times of a process, or null when it has exited. */
export function readProcessCpu(pid: number): ProcessCpu | null {
  return readStat(`/proc/${pid}/stat`);
}

/**
 * Reads the CPU seconds of a process's main thread and of all its other threads together, those
 * that have exited included. Throws when the process has exited.
 */
export function readThreadCpu(pid: number): { main: number; other: number } {
  const all = readStat(`/proc/${pid}/stat`);
  const main = readStat(`/proc/${pid}/task/${pid}/stat`);
  if (!all || !main) {
    throw new Error(`process ${pid} has exited: its thread CPU times are gone`);
  }
  return { main: main.own, other: all.own - main.own };
}

/** Parses a /proc stat file of a process or thread, or returns null when it is gone. */
function readStat(path: string): ProcessCpu | null {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return null;
  }
  // The command name (field 2) is in parentheses and may contain spaces, so split after the last ")".
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // Fields after the name, counted from 0: ppid 1, utime 11, stime 12, cutime 13, cstime 14 (proc(5)).
  const ticks = (index: number): number => Number(fields[index] ?? 0);
  return {
    own: (ticks(11) + ticks(12)) / CLOCK_TICKS_PER_SECOND,
    reapedChildren: (ticks(13) + ticks(14)) / CLOCK_TICKS_PER_SECOND,
    parentPid: ticks(1),
  };
}

/** Returns the CPU seconds a single process used so far (user plus system), or NaN when it has exited. */
export function processCpuSeconds(pid: number): number {
  return readProcessCpu(pid)?.own ?? Number.NaN;
}

/**
 * Returns the CPU seconds used by a process tree: the root, its live descendants, and every descendant
 * that has exited and been waited for (counted in its parent's cutime and cstime). The difference of
 * two readings is the tree's CPU time in between, even when children came and went, provided that
 * no exited child stays unreaped past the second reading.
 */
export function treeCpuSeconds(rootPid: number): number {
  const root = readProcessCpu(rootPid);
  if (!root) {
    return Number.NaN;
  }
  let total = root.own + root.reapedChildren;
  for (const pid of descendantsOf(rootPid)) {
    const cpu = readProcessCpu(pid);
    if (cpu) {
      total += cpu.own + cpu.reapedChildren;
    }
  }
  return total;
}

/** Returns the pids of every live descendant of a process. */
export function descendantsOf(rootPid: number): number[] {
  const parents = new Map<number, number>();
  for (const name of readdirSync('/proc')) {
    const pid = Number(name);
    if (!Number.isInteger(pid)) {
      continue;
    }
    const cpu = readProcessCpu(pid);
    if (cpu) {
      parents.set(pid, cpu.parentPid);
    }
  }
  const result: number[] = [];
  const frontier = [rootPid];
  while (frontier.length > 0) {
    const parent = frontier.pop();
    for (const [pid, ppid] of parents) {
      if (ppid === parent) {
        result.push(pid);
        frontier.push(pid);
      }
    }
  }
  return result;
}

/** Reads a "kB" field of /proc/<pid>/status (VmHWM is the peak resident set, VmRSS the current one). */
export function statusKb(pid: number, field: 'VmHWM' | 'VmRSS'): number {
  try {
    const text = readFileSync(`/proc/${pid}/status`, 'utf8');
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text);
    return match ? Number(match[1]) : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

/**
 * Returns the proportional set size of a process tree in kB (the sum of Pss from
 * /proc/<pid>/smaps_rollup). Unlike a sum of RSS, pages shared between the processes count once.
 */
export function treePssKb(rootPid: number): number {
  let total = 0;
  for (const pid of [rootPid, ...descendantsOf(rootPid)]) {
    try {
      const match = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
      total += match ? Number(match[1]) : 0;
    } catch {
      // The process exited between the listing and the read.
    }
  }
  return total;
}

/** Calls `sample` every `intervalMs` and keeps the maximum until `stop` is called, which returns it. */
export function sampleMaximum(sample: () => number, intervalMs: number): { stop(): number } {
  let maximum = Number.NaN;
  const take = (): void => {
    const value = sample();
    if (Number.isFinite(value) && !(value <= maximum)) {
      maximum = value;
    }
  };
  take();
  const timer = setInterval(take, intervalMs);
  return {
    stop() {
      clearInterval(timer);
      take();
      return maximum;
    },
  };
}

function readClockTicks(): number {
  try {
    const value = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    return Number.isInteger(value) && value > 0 ? value : 100;
  } catch {
    return 100;
  }
}
