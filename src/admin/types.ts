import type { Logger } from 'pino';
import type { EventStore } from '../store/events.js';
import type { QueueStore } from '../store/queue.js';
import type { SuppressionStore } from '../store/suppressions.js';
import type { JsonResponse, Method } from './http.js';
import type { IncomingMessage } from 'node:http';

/** Actions on queued mail that only the running relay can perform; the admin API forwards to them. */
export interface QueueControl {
  /**
   * Schedules every unfinished recipient of a message for an immediate attempt.
   * Resolves to false when the queue has no message with this id.
   */
  retryNow(queueId: string): Promise<boolean>;
}

/** Dependencies of the admin server: the stores it reads and changes, the token, the logger. */
export interface AdminDeps {
  events: EventStore;
  suppressions: SuppressionStore;
  queue: QueueStore;
  /** Bearer token that every route except GET /healthz requires. */
  token: string;
  logger: Logger;
  /** Absent when the admin server runs without the delivery queue; queue actions then return 503. */
  queueControl?: QueueControl;
}

/** One request as passed to a route handler. */
export interface RequestContext {
  req: IncomingMessage;
  query: URLSearchParams;
  /** Path parameters, still percent-encoded. */
  params: Record<string, string>;
}

/** Handles one method of one route. */
export type Handler = (context: RequestContext) => Promise<JsonResponse>;

/** A path pattern such as "/api/queue/:queueId/retry" and its handlers by method. */
export interface Route {
  pattern: string;
  handlers: Partial<Record<Method, Handler>>;
}
