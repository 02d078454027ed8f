import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { PROMETHEUS_CONTENT_TYPE } from '../metrics/registry.js';
import { BearerAuth } from './auth.js';
import { ApiError } from './errors.js';
import { classificationRoutes } from './classification-routes.js';
import { eventRoutes } from './event-routes.js';
import { eventStreamRoutes } from './event-stream.js';
import { historyRoutes } from './history-routes.js';
import { errorResponse, matchPath, sendJson, sendText, type HandlerResult, type JsonResponse, type Method, type TextResponse } from './http.js';
import { openApiDocument } from './openapi.js';
import { queueRoutes } from './queue-routes.js';
import { segmentRoutes } from './segment-routes.js';
import { suppressionRoutes } from './suppression-routes.js';
import { triageRoutes } from './triage-routes.js';
import type { AdminDeps, Handler, Route } from './types.js';
import { loadWebAssets } from './web.js';
import { webhookRoutes } from './webhook-routes.js';

export type { AdminDeps, QueueControl } from './types.js';
export { loadOrCreateToken } from './token.js';

/** Maximum time to receive a whole request, in ms; slower clients get 408. */
const REQUEST_TIMEOUT_MS = 30_000;
/** Time that close() waits for in-flight requests before it drops their connections, in ms. */
const CLOSE_GRACE_MS = 5_000;

/** The admin HTTP server. */
export interface AdminServer {
  /** Starts listening and resolves to the bound address, including the port the system chose for port 0. */
  listen(host: string, port: number): Promise<{ host: string; port: number }>;
  /** Stops accepting connections and resolves once open requests are done or dropped. */
  close(): Promise<void>;
}

/**
 * Creates the admin HTTP API over the relay's stores. Every route except GET /healthz requires the
 * Bearer token; the routes and their JSON shapes are listed in src/admin/README.md.
 */
export function createAdminServer(deps: AdminDeps): AdminServer {
  const logger = deps.logger;
  const auth = new BearerAuth(deps.token, logger);
  const streams = new Set<() => void>();
  const routes = buildRoutes(deps, streams);
  const assets = loadWebAssets();
  if (assets === null) {
    logger.warn('web page files not found next to the admin module or in src/admin/web; GET / returns 404');
  }

  const server = createServer({ requestTimeout: REQUEST_TIMEOUT_MS }, (req, res) => {
    handle(req, res, { routes, auth, logger, assets }).catch((error: unknown) => {
      logger.error({ err: error, method: req.method, path: req.url?.split('?')[0] }, 'admin response failed');
      res.destroy();
    });
  });

  return {
    listen: (host, port) =>
      new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          const address = server.address() as AddressInfo;
          logger.info({ host: address.address, port: address.port }, 'admin API listening');
          resolve({ host: address.address, port: address.port });
        });
      }),

    close: () =>
      new Promise((resolve, reject) => {
        if (!server.listening) {
          resolve();
          return;
        }
        // Event streams never end by themselves, so they are ended first.
        for (const close of [...streams]) {
          close();
        }
        const timer = setTimeout(() => server.closeAllConnections(), CLOSE_GRACE_MS);
        timer.unref();
        server.close((error) => {
          clearTimeout(timer);
          if (error) {
            reject(error);
            return;
          }
          logger.info('admin API closed');
          resolve();
        });
        server.closeIdleConnections();
      }),
  };
}

/**
 * Returns every route of the admin API with its handlers, in matching order: literal paths such as
 * /api/suppressions/export come before the patterns that would also match them.
 */
export function buildRoutes(deps: AdminDeps, streams: Set<() => void> = new Set()): Route[] {
  const routes: Route[] = [
    ...eventStreamRoutes(deps, streams),
    ...eventRoutes(deps),
    ...historyRoutes(deps),
    ...segmentRoutes(deps),
    ...triageRoutes(deps),
    ...suppressionRoutes(deps),
    ...queueRoutes(deps),
    ...webhookRoutes(deps),
    ...classificationRoutes(deps),
    {
      pattern: '/metrics',
      handlers: {
        GET: async () => {
          if (!deps.metrics) {
            throw new ApiError('metrics_unavailable', 'this admin server runs without the metrics registry');
          }
          return { kind: 'text', status: 200, contentType: PROMETHEUS_CONTENT_TYPE, body: await deps.metrics.render() };
        },
      },
    },
    {
      pattern: '/api/openapi.json',
      handlers: {
        GET: async () => ({ status: 200, body: openApiDocument() }),
      },
    },
  ];
  return routes;
}

interface ServerState {
  routes: Route[];
  auth: BearerAuth;
  logger: Logger;
  assets: Map<string, TextResponse> | null;
}

/** Serves one request: authentication, routing, the handler, and one debug log line. */
async function handle(req: IncomingMessage, res: ServerResponse, state: ServerState) {
  const { logger } = state;
  const started = performance.now();
  const url = new URL(req.url ?? '/', 'http://admin.invalid');
  const method = req.method ?? 'GET';
  const ip = req.socket.remoteAddress ?? 'unknown';

  let response: HandlerResult;
  try {
    response = await dispatch(req, res, url, method, ip, state);
  } catch (error) {
    if (error instanceof ApiError) {
      response = errorResponse(error);
    } else {
      logger.error({ err: error, method, path: url.pathname }, 'admin request failed');
      response = errorResponse(new ApiError('internal_error', 'internal error while handling the request; see the relay log'));
    }
  }

  if ('kind' in response) {
    if (response.kind === 'text' && !res.headersSent) {
      sendText(res, response);
    }
  } else if (!res.headersSent) {
    sendJson(res, response);
  }
  // Only the path is logged: the query may carry a removal note, and headers carry the token.
  logger.debug(
    { method, path: url.pathname, status: response.status, ms: Math.round(performance.now() - started), ip },
    'admin request',
  );
}

async function dispatch(
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  method: string,
  ip: string,
  state: ServerState,
): Promise<HandlerResult> {
  const { routes, auth } = state;
  if (url.pathname === '/healthz') {
    if (method !== 'GET' && method !== 'HEAD') {
      return methodNotAllowed(method, ['GET']);
    }
    return { status: 200, body: { status: 'ok' } };
  }

  // The page and its assets contain no data, so they are served without the token; every /api call needs it.
  const asset = state.assets?.get(url.pathname);
  if (asset) {
    if (method !== 'GET' && method !== 'HEAD') {
      return methodNotAllowed(method, ['GET']);
    }
    return asset;
  }

  // Authentication comes before routing, so a client without the token learns nothing about the routes.
  const failure = auth.check(req.headers.authorization);
  if (failure) {
    auth.reportFailure(ip, failure, method, url.pathname);
    const message =
      failure === 'missing'
        ? 'missing bearer token: send the header "Authorization: Bearer <admin token>"'
        : 'invalid bearer token';
    const challenge = failure === 'missing' ? 'Bearer realm="bouncegate"' : 'Bearer realm="bouncegate", error="invalid_token"';
    return { ...errorResponse(new ApiError('unauthorized', message)), headers: { 'WWW-Authenticate': challenge } };
  }

  for (const route of routes) {
    const params = matchPath(route.pattern, url.pathname);
    if (!params) {
      continue;
    }
    const handler = findHandler(route, method);
    if (!handler) {
      return methodNotAllowed(method, Object.keys(route.handlers));
    }
    return handler({ req, res, query: url.searchParams, params });
  }

  throw new ApiError('not_found', `no route for ${url.pathname}`);
}

const METHODS: readonly Method[] = ['GET', 'PUT', 'POST', 'DELETE'];

function findHandler(route: Route, method: string): Handler | undefined {
  const lookup = method === 'HEAD' ? 'GET' : method;
  const known = METHODS.find((candidate) => candidate === lookup);
  return known === undefined ? undefined : route.handlers[known];
}

function methodNotAllowed(method: string, allowed: string[]): JsonResponse {
  const withHead = allowed.includes('GET') ? [...allowed, 'HEAD'] : allowed;
  const error = new ApiError('method_not_allowed', `method ${method} is not allowed here; allowed: ${withHead.join(', ')}`);
  return { ...errorResponse(error), headers: { Allow: withHead.join(', ') } };
}
