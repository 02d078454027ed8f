import type { Logger } from 'pino';
import type { SuppressionStore } from './suppressions.js';

/** Interval between sweeps of expired suppressions, in ms (1 hour). */
export const SWEEP_INTERVAL_MS = 3_600_000;

/**
 * Removes expired suppression entries once at start and then every hour, each with an audit entry
 * `change: 'expire'`. Expired entries stop blocking mail at once (findActive ignores them); the
 * sweep only cleans the list. Returns the function that stops it.
 */
export function startSuppressionSweep(suppressions: SuppressionStore, logger: Logger, intervalMs: number = SWEEP_INTERVAL_MS): () => void {
  let running: Promise<void> | null = null;
  const sweep = () => {
    running ??= suppressions
      .sweepExpired()
      .then((removed) => {
        if (removed.length > 0) {
          logger.info({ removed: removed.length, addresses: removed.slice(0, 20).map((entry) => entry.address) }, 'expired suppressions removed');
        }
      })
      .catch((error: unknown) => {
        logger.error({ err: error }, 'suppression expiry sweep failed; retrying at the next interval');
      })
      .finally(() => {
        running = null;
      });
  };
  const timer = setInterval(sweep, intervalMs);
  timer.unref();
  sweep();
  return () => clearInterval(timer);
}
