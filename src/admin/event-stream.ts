import type { DeliveryEvent } from '../core/types.js';
import { EVENT_FILTER_PARAMETERS, EVENT_ID, parseEventQuery } from './event-routes.js';
import type { AdminDeps, Route } from './types.js';

/** Interval between heartbeat comments, in ms; proxies close connections that stay silent longer. */
export const HEARTBEAT_MS = 15_000;
/** Unsent bytes after which a client that does not read is disconnected (1 MiB). */
const MAX_BUFFERED_BYTES = 1024 * 1024;
/** Maximum events replayed after a reconnect with Last-Event-ID. */
const MAX_REPLAY = 1000;

const STREAM_PARAMETERS = EVENT_FILTER_PARAMETERS.filter((name) => name !== 'since' && name !== 'until');

/**
 * Builds GET /api/events/stream: new events as Server-Sent Events, with the filters of
 * GET /api/events. `closers` collects a function per open stream, so closing the server ends them.
 */
export function eventStreamRoutes(deps: AdminDeps, closers: Set<() => void>): Route[] {
  const heartbeatMs = deps.streamHeartbeatMs ?? HEARTBEAT_MS;

  return [
    {
      pattern: '/api/events/stream',
      handlers: {
        GET: async ({ req, res, query }) => {
          const filter = parseEventQuery(query, STREAM_PARAMETERS);
          const lastEventId = req.headers['last-event-id'];
          const resumeAfter = typeof lastEventId === 'string' && EVENT_ID.test(lastEventId) ? lastEventId : null;

          res.writeHead(200, {
            'Content-Type': 'text/event-stream; charset=utf-8',
            'Cache-Control': 'no-store',
            Connection: 'keep-alive',
            'X-Content-Type-Options': 'nosniff',
          });
          res.write(`retry: 3000\n: connected\n\n`);

          let lastSent = resumeAfter ?? '';
          let replaying = resumeAfter !== null;
          const held: DeliveryEvent[] = [];
          const send = (event: DeliveryEvent) => {
            if (event.id <= lastSent || !deps.events.matches(event, filter)) {
              return;
            }
            lastSent = event.id;
            res.write(`id: ${event.id}\nevent: delivery\ndata: ${JSON.stringify(event)}\n\n`);
            if (res.writableLength > MAX_BUFFERED_BYTES) {
              deps.logger.warn({ bufferedBytes: res.writableLength }, 'event stream client does not read; disconnecting it');
              close();
            }
          };

          const unsubscribe = deps.events.subscribe((appended) => {
            if (replaying) {
              held.push(...appended);
            } else {
              appended.forEach(send);
            }
          });
          const heartbeat = setInterval(() => res.write(': heartbeat\n\n'), heartbeatMs);
          heartbeat.unref();

          let closed = false;
          const close = () => {
            if (closed) {
              return;
            }
            closed = true;
            clearInterval(heartbeat);
            unsubscribe();
            closers.delete(close);
            res.end();
          };
          closers.add(close);
          req.on('close', close);
          res.on('error', close);

          if (resumeAfter !== null) {
            let replayed = 0;
            for await (const event of deps.events.eventsAfter(resumeAfter)) {
              if (closed || replayed >= MAX_REPLAY) {
                break;
              }
              if (deps.events.matches(event, filter)) {
                replayed += 1;
                send(event);
              }
            }
            replaying = false;
            held.splice(0).forEach(send);
          }
          return { kind: 'streamed', status: 200 };
        },
      },
    },
  ];
}
