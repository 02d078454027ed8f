import { readFileSync } from 'node:fs';
import type { ApiErrorBody } from '../admin/errors.js';
import type { QueueItem } from '../admin/queue-routes.js';
import { tokenFilePath } from '../admin/token.js';
import type { Config } from '../config/schema.js';
import { BouncegateError } from '../core/errors.js';
import type { DeliveryEvent } from '../core/types.js';
import type { AuditEntry, SuppressionEntry } from '../store/suppressions.js';

/** Time allowed for one admin API request, in ms. */
const REQUEST_TIMEOUT_MS = 30_000;

/** A page of GET /api/events. */
export interface EventsPage {
  events: DeliveryEvent[];
  next: string | null;
}

/** A page of GET /api/suppressions. */
export interface SuppressionsPage {
  suppressions: SuppressionEntry[];
  next: string | null;
}

/** GET /api/suppressions/{address}: the entry and its audit trail. */
export type SuppressionDetail = SuppressionEntry & { audit: AuditEntry[] };

/** GET /api/queue. */
export interface QueueListing {
  queue: QueueItem[];
  total: number;
}

/** Base URL of the admin API and the token to send to it. */
export interface AdminTarget {
  url: string;
  token: string;
}

/** An admin API request that failed: the server was unreachable, timed out, or returned an error status. */
export class AdminApiError extends BouncegateError {
  /** HTTP status, or null when no response arrived. */
  readonly status: number | null;
  /** `error.code` of the response body, when the API sent one. */
  readonly apiCode: string | null;
  /** `error.field` of the response body: the parameter the API rejected. */
  readonly field: string | null;
  /** The parsed response body, when there was one. */
  readonly body: unknown;

  constructor(message: string, details: { status?: number; apiCode?: string; field?: string; body?: unknown; cause?: unknown } = {}) {
    super('BOUNCEGATE_ADMIN_REQUEST_FAILED', message, { cause: details.cause });
    this.name = 'AdminApiError';
    this.status = details.status ?? null;
    this.apiCode = details.apiCode ?? null;
    this.field = details.field ?? null;
    this.body = details.body;
  }
}

/**
 * Finds the admin API URL and token. Each comes from its option, else its environment variable, else
 * the config. The URL is built from admin.host and admin.port. The token is admin.token, else the
 * content of the token file in dataDir. The config is loaded only when an option and its variable
 * are both absent.
 */
export function resolveAdminTarget(
  options: { adminUrl?: string; token?: string; configPath?: string },
  env: Record<string, string | undefined>,
  loadConfig: (path?: string) => Config,
): AdminTarget {
  let config: Config | null = null;
  const getConfig = (): Config => {
    config ??= loadConfig(options.configPath ?? nonEmpty(env.BOUNCEGATE_CONFIG));
    return config;
  };

  const url = options.adminUrl ?? nonEmpty(env.BOUNCEGATE_ADMIN_URL) ?? urlFromConfig(getConfig());
  const token = options.token ?? nonEmpty(env.BOUNCEGATE_ADMIN_TOKEN) ?? getConfig().admin.token ?? readTokenFile(getConfig().dataDir);
  return { url: checkUrl(url), token };
}

/** A client of the admin HTTP API; every method throws AdminApiError on failure. */
export class AdminClient {
  readonly baseUrl: string;
  private readonly token: string;

  constructor(target: AdminTarget) {
    this.baseUrl = target.url.replace(/\/+$/, '');
    this.token = target.token;
  }

  async listEvents(query: Record<string, string | undefined>): Promise<EventsPage> {
    return (await this.request('GET', '/api/events', { query })).body as EventsPage;
  }

  async listSuppressions(query: Record<string, string | undefined>): Promise<SuppressionsPage> {
    return (await this.request('GET', '/api/suppressions', { query })).body as SuppressionsPage;
  }

  async getSuppression(address: string): Promise<SuppressionDetail> {
    return (await this.request('GET', suppressionPath(address))).body as SuppressionDetail;
  }

  /** Adds or replaces an entry; `created` is true when the address was not on the list before. */
  async putSuppression(
    address: string,
    body: { reason: string; note: string | null; actor: string },
  ): Promise<{ entry: SuppressionEntry; created: boolean }> {
    const response = await this.request('PUT', suppressionPath(address), { body });
    return { entry: response.body as SuppressionEntry, created: response.status === 201 };
  }

  async removeSuppression(address: string, body: { note: string; actor: string }): Promise<SuppressionEntry> {
    return (await this.request('DELETE', suppressionPath(address), { body })).body as SuppressionEntry;
  }

  async listQueue(query: Record<string, string | undefined>): Promise<QueueListing> {
    return (await this.request('GET', '/api/queue', { query })).body as QueueListing;
  }

  async retry(queueId: string): Promise<{ queueId: string; scheduled: boolean }> {
    const path = `/api/queue/${encodeURIComponent(queueId)}/retry`;
    return (await this.request('POST', path)).body as { queueId: string; scheduled: boolean };
  }

  /** Sends a GET and returns the parsed JSON body; for the routes without a dedicated method. */
  async get<T>(path: string, query: Record<string, string | undefined> = {}): Promise<T> {
    return (await this.request('GET', path, { query })).body as T;
  }

  /** Sends a request with a JSON body (or none) and returns the parsed JSON body. */
  async send<T>(method: string, path: string, body?: unknown, query: Record<string, string | undefined> = {}): Promise<T> {
    return (await this.request(method, path, { query, body })).body as T;
  }

  /**
   * Sends one request whose response is not JSON (CSV, plain text), or whose body is text of another
   * type, and returns the response text of a 2xx response.
   */
  async requestText(
    method: string,
    path: string,
    options: { query?: Record<string, string | undefined>; body?: string; contentType?: string; accept?: string } = {},
  ): Promise<{ status: number; text: string; body: unknown }> {
    const response = await this.fetch(method, path, options.query ?? {}, options.body, options.contentType ?? 'application/json', options.accept ?? '*/*');
    const text = await response.text();
    if (response.ok) {
      return { status: response.status, text, body: parseJson(text) };
    }
    throw this.responseError(response.status, parseJson(text));
  }

  /**
   * Opens GET /api/events/stream and calls `onEvent` for each event until `signal` aborts or the
   * server ends the stream. Resolves when the stream ends.
   */
  async stream(query: Record<string, string | undefined>, onEvent: (event: DeliveryEvent) => boolean | void, signal?: AbortSignal): Promise<void> {
    const url = this.url('/api/events/stream', query);
    let response: Response;
    try {
      response = await fetch(url, { headers: { Authorization: `Bearer ${this.token}`, Accept: 'text/event-stream' }, signal });
    } catch (error) {
      if (signal?.aborted) {
        return;
      }
      throw new AdminApiError(`cannot reach the admin API at ${this.baseUrl}: ${describeNetworkError(error)}`, { cause: error });
    }
    if (!response.ok || !response.body) {
      throw this.responseError(response.status, parseJson(await response.text()));
    }

    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
        buffer += decoder.decode(chunk, { stream: true });
        let end = buffer.indexOf('\n\n');
        while (end >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const data = block
            .split('\n')
            .filter((line) => line.startsWith('data:'))
            .map((line) => line.slice(5).trimStart())
            .join('\n');
          if (data !== '' && onEvent(JSON.parse(data) as DeliveryEvent) === false) {
            return;
          }
          end = buffer.indexOf('\n\n');
        }
      }
    } catch (error) {
      if (!signal?.aborted) {
        throw new AdminApiError(`the event stream from ${this.baseUrl} broke off: ${describeNetworkError(error)}`, { cause: error });
      }
    }
  }

  /**
   * Sends one request and returns the status and parsed JSON body of a 2xx response.
   * NOTE: the body is trusted to have the documented shape; only its being a JSON object is checked.
   */
  async request(
    method: string,
    path: string,
    options: { query?: Record<string, string | undefined>; body?: unknown } = {},
  ): Promise<{ status: number; body: unknown }> {
    const body = options.body === undefined ? undefined : JSON.stringify(options.body);
    const response = await this.fetch(method, path, options.query ?? {}, body, 'application/json', 'application/json');
    const parsed = await readJson(response);
    if (response.ok && isObject(parsed)) {
      return { status: response.status, body: parsed };
    }
    throw this.responseError(response.status, parsed);
  }

  private url(path: string, query: Record<string, string | undefined>): URL {
    const url = new URL(`${this.baseUrl}${path}`);
    for (const [name, value] of Object.entries(query)) {
      if (value !== undefined) {
        url.searchParams.set(name, value);
      }
    }
    return url;
  }

  private async fetch(
    method: string,
    path: string,
    query: Record<string, string | undefined>,
    body: string | undefined,
    contentType: string,
    accept: string,
  ): Promise<Response> {
    const headers: Record<string, string> = { Authorization: `Bearer ${this.token}`, Accept: accept };
    if (body !== undefined) {
      headers['Content-Type'] = contentType;
    }
    try {
      return await fetch(this.url(path, query), { method, headers, body, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
    } catch (error) {
      throw new AdminApiError(`cannot reach the admin API at ${this.baseUrl}: ${describeNetworkError(error)}`, { cause: error });
    }
  }

  private responseError(status: number, body: unknown): AdminApiError {
    const error = isErrorBody(body) ? body.error : null;
    if (!error) {
      return new AdminApiError(
        `the server at ${this.baseUrl} returned HTTP ${status} with a body that is not admin API JSON; check --admin-url`,
        { status, body },
      );
    }
    if (status === 401) {
      return new AdminApiError(
        `the admin API at ${this.baseUrl} rejected the token (HTTP 401): pass the relay's admin token with --token or BOUNCEGATE_ADMIN_TOKEN`,
        { status, apiCode: error.code, body },
      );
    }
    return new AdminApiError(error.message, { status, apiCode: error.code, field: error.field, body });
  }
}

function suppressionPath(address: string): string {
  return `/api/suppressions/${encodeURIComponent(address)}`;
}

function urlFromConfig(config: Config): string {
  const { host, port } = config.admin;
  // A wildcard listen address accepts loopback connections too, and loopback keeps the token on this host.
  let connectHost = host;
  if (host === '0.0.0.0') {
    connectHost = '127.0.0.1';
  } else if (host === '::' || host === '[::]') {
    connectHost = '::1';
  }

  // An IPv6 literal needs brackets in a URL (RFC 3986 §3.2.2).
  if (connectHost.includes(':') && !connectHost.startsWith('[')) {
    connectHost = `[${connectHost}]`;
  }
  return `http://${connectHost}:${port}`;
}

function checkUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new AdminApiError(`invalid admin API URL "${url}": expected e.g. http://127.0.0.1:8025`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new AdminApiError(`invalid admin API URL "${url}": expected an http:// or https:// URL`);
  }
  return url;
}

function readTokenFile(dataDir: string): string {
  const path = tokenFilePath(dataDir);
  try {
    return readFileSync(path, 'utf8').trim();
  } catch (error) {
    const code = error instanceof Error ? (error as NodeJS.ErrnoException).code : undefined;
    const reason =
      code === 'ENOENT'
        ? 'file not found; bouncegate writes it on its first start'
        : code === 'EACCES'
          ? 'permission denied; run as the user that runs bouncegate'
          : error instanceof Error
            ? error.message
            : String(error);
    throw new AdminApiError(`no admin token: cannot read ${path} (${reason}); pass --token or set BOUNCEGATE_ADMIN_TOKEN`, {
      cause: error,
    });
  }
}

function describeNetworkError(error: unknown): string {
  if (error instanceof Error && error.name === 'TimeoutError') {
    return `no response within ${REQUEST_TIMEOUT_MS / 1000} s`;
  }
  const cause = error instanceof Error ? (error as Error & { cause?: unknown }).cause : undefined;
  const code = cause instanceof Error ? (cause as NodeJS.ErrnoException).code : undefined;
  switch (code) {
    case 'ECONNREFUSED':
      return 'connection refused. Is bouncegate running?';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'host not found; check --admin-url';
    case 'ETIMEDOUT':
    case 'UND_ERR_CONNECT_TIMEOUT':
      return 'connection timed out. Is bouncegate running, and is the address right?';
    case 'ECONNRESET':
    case 'UND_ERR_SOCKET':
      return 'the connection was closed before a response arrived';
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return 'host unreachable; check --admin-url';
    default:
      if (cause instanceof Error) {
        return cause.message;
      }
      return error instanceof Error ? error.message : String(error);
  }
}

async function readJson(response: Response): Promise<unknown> {
  return parseJson(await response.text());
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isErrorBody(value: unknown): value is ApiErrorBody {
  return isObject(value) && isObject(value.error) && typeof value.error.message === 'string' && typeof value.error.code === 'string';
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value;
}
