import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { MetricsSource } from '../metrics/registry.js';
import type { QueueControl } from '../queue/control.js';
import type { EventStore } from '../store/events.js';
import type { QueueStore } from '../store/queue.js';
import type { SuppressionStore } from '../store/suppressions.js';
import type { WebhookService } from '../webhooks/types.js';
import type { ExplainingClassifier } from '../classify/classifier.js';
import type { DsnIngestResult } from '../dsn/ingest.js';
import type { GuardAlert } from '../suppression/guard.js';
import type { HandlerResult, Method } from './http.js';

export type { QueueActionResult, QueueControl } from '../queue/control.js';

/** Dependencies of the admin server: the stores it reads and changes, the token, the logger. */
export interface AdminDeps {
  events: EventStore;
  suppressions: SuppressionStore;
  queue: QueueStore;
  /** Bearer token that every route except GET /healthz and the web page assets requires. */
  token: string;
  logger: Logger;
  /** Absent when the admin server runs without the delivery queue; queue actions then return 503. */
  queueControl?: QueueControl;
  /** Absent when the relay runs without the webhook dispatcher; webhook routes then return 503. */
  webhooks?: WebhookService;
  /** Absent when the relay runs without metrics; GET /metrics then returns 503. */
  metrics?: MetricsSource;
  /** Records asynchronous bounces (POST /api/dsn); absent, that route returns 503. */
  bounces?: { ingest(raw: Buffer, envelopeRecipients: string[]): Promise<DsnIngestResult>; maxSize: number };
  /** The classifier in use (GET /api/classify, rule reload and replay); absent, those routes return 503. */
  classification?: {
    current: ExplainingClassifier;
    reload(): { files: string[] };
    candidate(rulesText: string): ExplainingClassifier;
  };
  /** Alerts of the mass-suppression guard (GET /api/alerts). */
  alerts?: () => readonly GuardAlert[];
  /** Interval between heartbeat comments on an event stream, in ms; 15 s unless a test sets it. */
  streamHeartbeatMs?: number;
  /** Clock in ms since the epoch, for time windows; injectable for tests. */
  now?: () => number;
}

/** One request as passed to a route handler. */
export interface RequestContext {
  req: IncomingMessage;
  res: ServerResponse;
  query: URLSearchParams;
  /** Path parameters, still percent-encoded. */
  params: Record<string, string>;
}

/** Handles one method of one route. */
export type Handler = (context: RequestContext) => Promise<HandlerResult>;

/** A path pattern such as "/api/queue/:queueId/retry" and its handlers by method. */
export interface Route {
  pattern: string;
  handlers: Partial<Record<Method, Handler>>;
}
