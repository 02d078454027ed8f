import { performance } from 'node:perf_hooks';
import type { Cleanup } from '../lib/cleanup.js';
import { statusKb } from '../lib/proc.js';
import { startRelayProcess, type RelayEntry } from '../lib/relay.js';
import { runSmtpSource, startSmtpSink } from '../lib/smtp-tools.js';

/** Size of each big message, in bytes of payload (smtp-source -l). */
export const BIG_MESSAGE_BYTES = 25 * 1000 * 1000;

/** Memory of the relay while clients submit big messages at once. */
export interface BigMessagesResult {
  clients: number;
  bytes: number;
  /** Resident memory of the idle relay before the load, in MB. */
  idleRssMb: number;
  /** Peak resident memory over the relay's life (VmHWM), in MB. */
  peakRssMb: number;
  /** Seconds until every submission had its 250 reply. */
  acceptSeconds: number;
  /** Seconds until the sink counted every message. */
  deliverSeconds: number;
}

/**
 * Starts a fresh relay and has `clients` concurrent smtp-source sessions submit one 25 MB message
 * each, which the relay delivers to smtp-sink. Reports the relay's peak resident memory.
 */
export async function runBigMessages(
  cleanup: Cleanup,
  options: { entry: RelayEntry; sinkPort: number; clients: number },
): Promise<BigMessagesResult> {
  const sink = await startSmtpSink(cleanup, options.sinkPort);
  try {
    const relay = await startRelayProcess(cleanup, { entry: options.entry, smarthostPort: options.sinkPort });
    try {
      const idleRssKb = statusKb(relay.pid, 'VmRSS');
      const start = performance.now();
      const { end } = await runSmtpSource(
        cleanup,
        { port: relay.port, messages: options.clients, sessions: options.clients, recipients: 1, bytes: BIG_MESSAGE_BYTES, reuse: false },
        600_000,
      );
      const delivered = await sink.waitForCount(options.clients, 600_000);
      return {
        clients: options.clients,
        bytes: BIG_MESSAGE_BYTES,
        idleRssMb: idleRssKb / 1024,
        peakRssMb: relay.peakRssKb() / 1024,
        acceptSeconds: (end - start) / 1000,
        deliverSeconds: (delivered - start) / 1000,
      };
    } finally {
      await relay.destroy();
    }
  } finally {
    await sink.stop();
  }
}
