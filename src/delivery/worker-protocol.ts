import type { Destination } from './resolve.js';
import type { TransactionResult } from './transaction.js';

/** Settings a delivery thread starts with. */
export interface WorkerSettings {
  logLevel: string;
  /** Increment to the thread's nice value on Linux. 0 leaves the value unchanged. */
  nice: number;
}

/** One delivery attempt handed to a delivery thread. */
export interface DeliveryJob {
  id: number;
  message: {
    queueId: string;
    sender: string;
    recipients: string[];
    size: number;
    smtputf8: boolean;
  };
  /** The body bytes, or the path of its spool file. */
  body: { bytes: Uint8Array } | { path: string };
  destinations: Destination[];
  options: { heloName: string; timeoutMs: number; opportunisticTls: boolean; localAddress: string | null };
}

/** Reply of a delivery thread: the attempt's outcome, or why it could not run. */
export type DeliveryAnswer =
  | { id: number; ok: true; result: TransactionResult }
  | { id: number; ok: false; error: { message: string; code: string | null } };

/** Requests from the main thread besides jobs. */
export type ControlRequest = { type: 'close' };
