/**
 * Returns the delay in seconds before the next attempt after `attempts` attempts have failed
 * transiently: the schedule's entry for that attempt, and its last entry once the schedule runs out.
 */
export function retryDelaySeconds(schedule: readonly number[], attempts: number): number {
  const index = Math.min(Math.max(attempts, 1), schedule.length) - 1;
  return schedule[index] ?? 300;
}

/**
 * Returns the times (ms since acceptance) of every retry a recipient that always fails transiently
 * gets before it expires at `maxAgeSeconds`. Used by tests and by `bouncegate queue` to explain a schedule.
 */
export function retryPlan(schedule: readonly number[], maxAgeSeconds: number): number[] {
  const plan: number[] = [];
  let at = 0;
  for (let attempts = 1; ; attempts += 1) {
    at += retryDelaySeconds(schedule, attempts) * 1000;
    if (at >= maxAgeSeconds * 1000) {
      return plan;
    }
    plan.push(at);
  }
}

/** Returns whether a recipient accepted at `receivedAt` has outlived the queue lifetime at `now`. */
export function isExpired(receivedAt: string, now: number, maxAgeSeconds: number): boolean {
  return now - Date.parse(receivedAt) >= maxAgeSeconds * 1000;
}
