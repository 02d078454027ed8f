import { performance } from 'node:perf_hooks';
import { percentile } from './stats.js';

/** Latency percentiles and the sequential rate of a repeated async operation. */
export interface TimedCalls {
  calls: number;
  perSecond: number;
  p50Micros: number;
  p99Micros: number;
}

/** Awaits `call(i)` for i from 0 to calls - 1, one at a time, timing each call. */
export async function timeSequential(calls: number, call: (index: number) => Promise<unknown>): Promise<TimedCalls> {
  const durations = new Float64Array(calls);
  const start = performance.now();
  for (let index = 0; index < calls; index++) {
    const before = performance.now();
    await call(index);
    durations[index] = (performance.now() - before) * 1000;
  }
  const elapsedMs = performance.now() - start;
  const values = Array.from(durations);
  return { calls, perSecond: (calls * 1000) / elapsedMs, p50Micros: percentile(values, 50), p99Micros: percentile(values, 99) };
}

/** Runs `calls` calls with `concurrency` of them in flight at once and returns the calls per second. */
export async function timeConcurrent(calls: number, concurrency: number, call: (index: number) => Promise<unknown>): Promise<number> {
  let next = 0;
  const start = performance.now();
  const worker = async (): Promise<void> => {
    while (next < calls) {
      const index = next++;
      await call(index);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return (calls * 1000) / (performance.now() - start);
}
