import type { IncomingMessage, ServerResponse } from 'node:http';
import { ApiError } from './errors.js';

/** Maximum size of a JSON request body in bytes (64 KiB); larger bodies get 413. */
export const MAX_BODY_BYTES = 64 * 1024;
/** Maximum size of a suppression import body in bytes (10 MiB). */
export const MAX_IMPORT_BYTES = 10 * 1024 * 1024;

/** HTTP methods the admin API routes on. HEAD is served by the GET handler. */
export type Method = 'GET' | 'PUT' | 'POST' | 'DELETE';

/** Response of a route handler: a status, a JSON body and optional extra headers. */
export interface JsonResponse {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

/** A response that is not JSON: CSV, plain text, Prometheus text, or a page asset. */
export interface TextResponse {
  kind: 'text';
  status: number;
  contentType: string;
  body: string | Buffer;
  headers?: Record<string, string>;
}

/** Marks a response that the handler wrote itself, such as an event stream. */
export interface StreamedResponse {
  kind: 'streamed';
  status: number;
}

/** Anything a route handler may return. */
export type HandlerResult = JsonResponse | TextResponse | StreamedResponse;

/** Writes a non-JSON response with the same no-store and nosniff headers as JSON responses. */
export function sendText(res: ServerResponse, response: TextResponse): void {
  res.statusCode = response.status;
  res.setHeader('Content-Type', response.contentType);
  res.setHeader('Content-Length', Buffer.byteLength(response.body));
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('X-Content-Type-Options', 'nosniff');
  for (const [name, value] of Object.entries(response.headers ?? {})) {
    res.setHeader(name, value);
  }
  res.end(response.body);
}

/**
 * Writes a JSON response. Every response forbids caching and content sniffing, because it may
 * contain recipient addresses and is never meant for a browser.
 */
export function sendJson(res: ServerResponse, response: JsonResponse): void {
  const payload = `${JSON.stringify(response.body)}\n`;
  res.statusCode = response.status;
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Content-Length', Buffer.byteLength(payload));
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('X-Content-Type-Options', 'nosniff');
  for (const [name, value] of Object.entries(response.headers ?? {})) {
    res.setHeader(name, value);
  }
  res.end(payload);
}

/** Turns an ApiError into a response, closing the connection after a 413 so the unread body is dropped. */
export function errorResponse(error: ApiError): JsonResponse {
  const headers: Record<string, string> = {};
  if (error.code === 'payload_too_large') {
    headers.Connection = 'close';
  }
  return { status: error.status, body: error.toBody(), headers };
}

/**
 * Reads and parses a JSON request body of at most `maxBytes` (default MAX_BODY_BYTES). Returns
 * undefined for an empty body.
 *
 * The Content-Type is not checked, because it would guard nothing: every route requires an
 * Authorization header, which a browser sends cross-origin only after a CORS preflight that this
 * server never grants. Not checking it also lets `curl -d` work, which labels JSON as a form.
 */
export async function readJsonBody(req: IncomingMessage, maxBytes: number = MAX_BODY_BYTES): Promise<unknown> {
  const text = await readTextBody(req, maxBytes);
  return parseJsonText(text);
}

/** Reads a request body of at most `maxBytes` as UTF-8 text; a larger body gets 413. */
export async function readTextBody(req: IncomingMessage, maxBytes: number = MAX_BODY_BYTES): Promise<string> {
  const declared = Number(req.headers['content-length'] ?? '0');
  if (declared > maxBytes) {
    throw tooLarge(maxBytes);
  }
  return (await collectBody(req, maxBytes)).toString('utf8');
}

/** Parses a JSON body text. Returns undefined for an empty body and raises invalid_json for invalid JSON. */
export function parseJsonText(text: string): unknown {
  if (text.trim() === '') {
    return undefined;
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    throw new ApiError('invalid_json', `request body is not valid JSON: ${detail}`);
  }
}

/**
 * Collects the body, rejecting with 413 once it passes MAX_BODY_BYTES. It stops reading without
 * destroying the request, because destroying it would close the socket before the 413 is sent.
 */
/** Reads a request body of at most `maxBytes` bytes; a larger body gets 413. */
export function collectBody(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let received = 0;

    const onData = (chunk: Buffer) => {
      received += chunk.length;
      if (received > maxBytes) {
        cleanup();
        req.pause();
        reject(tooLarge(maxBytes));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      resolve(Buffer.concat(chunks));
    };
    const onError = (error: Error) => {
      cleanup();
      reject(error);
    };
    const cleanup = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
    };

    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
  });
}

function tooLarge(maxBytes: number): ApiError {
  return new ApiError('payload_too_large', `request body exceeds the limit of ${maxBytes} bytes`);
}

/**
 * Matches a path against a pattern such as "/api/queue/:queueId/retry". Returns the raw (still
 * percent-encoded) segments captured by ":name" parts, or null when the path does not match.
 */
export function matchPath(pattern: string, path: string): Record<string, string> | null {
  const patternParts = pattern.split('/');
  const pathParts = path.split('/');
  if (patternParts.length !== pathParts.length) {
    return null;
  }

  const params: Record<string, string> = {};
  for (let i = 0; i < patternParts.length; i += 1) {
    const expected = patternParts[i] ?? '';
    const actual = pathParts[i] ?? '';
    if (expected.startsWith(':')) {
      if (actual === '') {
        return null;
      }
      params[expected.slice(1)] = actual;
    } else if (expected !== actual) {
      return null;
    }
  }
  return params;
}

/** Decodes one percent-encoded path segment, raising a 400 that names the field when it is malformed. */
export function decodeSegment(field: string, raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new ApiError('invalid_parameter', `${field} in the path is not valid percent-encoding: "${raw}"`, { field });
  }
}
