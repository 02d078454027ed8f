/** Stable error codes of the admin API, sent as `error.code` in every error response. */
export type ApiErrorCode =
  | 'unauthorized'
  | 'invalid_parameter'
  | 'invalid_json'
  | 'not_found'
  | 'method_not_allowed'
  | 'payload_too_large'
  | 'unsupported_media_type'
  | 'conflict'
  | 'queue_control_unavailable'
  | 'webhooks_unavailable'
  | 'metrics_unavailable'
  | 'bounces_unavailable'
  | 'classification_unavailable'
  | 'internal_error';

/** Every API error code with its HTTP status and what a client should do about it. */
export const API_ERRORS: Readonly<Record<ApiErrorCode, { status: number; description: string }>> = {
  unauthorized: {
    status: 401,
    description: 'The Authorization header is missing or does not carry the admin token as a Bearer token.',
  },
  invalid_parameter: {
    status: 400,
    description: 'A query parameter, path segment or body field is invalid; `field` names it.',
  },
  invalid_json: {
    status: 400,
    description: 'The request body is not valid JSON.',
  },
  not_found: {
    status: 404,
    description: 'No route matches the path, or the addressed suppression or queue entry does not exist.',
  },
  method_not_allowed: {
    status: 405,
    description: 'The route exists but not for this method; the Allow header lists the methods it accepts.',
  },
  payload_too_large: {
    status: 413,
    description: 'The request body is larger than the limit of the route: 64 KiB, 10 MiB for a suppression import, bounce.maxSize for a bounce.',
  },
  unsupported_media_type: {
    status: 415,
    description: 'The Content-Type of the body is not one the route reads; the message lists the accepted types.',
  },
  conflict: {
    status: 409,
    description: 'The addressed entry is in a state that does not allow the action, e.g. confirming an entry that is not pending.',
  },
  queue_control_unavailable: {
    status: 503,
    description: 'The admin server runs without a connection to the delivery queue, so it cannot act on queued mail.',
  },
  webhooks_unavailable: {
    status: 503,
    description: 'The admin server runs without the webhook dispatcher, so it cannot register or list webhooks.',
  },
  metrics_unavailable: {
    status: 503,
    description: 'The admin server runs without the metrics registry, so GET /metrics has nothing to serve.',
  },
  bounces_unavailable: {
    status: 503,
    description: 'The admin server runs without the bounce recorder, so POST /api/dsn cannot record bounces.',
  },
  classification_unavailable: {
    status: 503,
    description: 'The admin server runs without the relay\'s classifier, so it cannot classify, reload or replay rules.',
  },
  internal_error: {
    status: 500,
    description: 'The relay failed while handling the request; the relay log has the details.',
  },
};

/** JSON body of every error response. */
export interface ApiErrorBody {
  error: { code: ApiErrorCode; message: string; field?: string };
}

/** An error that a route handler throws to send a specific error response. */
export class ApiError extends Error {
  readonly code: ApiErrorCode;
  readonly status: number;
  readonly field: string | undefined;
  /** Extra top-level members of the error response, e.g. the audit trail of a removed suppression. */
  readonly extra: Record<string, unknown> | undefined;

  constructor(code: ApiErrorCode, message: string, options: { field?: string; extra?: Record<string, unknown> } = {}) {
    super(message);
    this.name = 'ApiError';
    this.code = code;
    this.status = API_ERRORS[code].status;
    this.field = options.field;
    this.extra = options.extra;
  }

  /** Builds the JSON body of the response. */
  toBody(): ApiErrorBody & Record<string, unknown> {
    const error: ApiErrorBody['error'] = { code: this.code, message: this.message };
    if (this.field !== undefined) {
      error.field = this.field;
    }
    return { ...this.extra, error };
  }
}

/** Shorthand for a 400 that names the invalid field. */
export function invalidParameter(field: string, message: string): ApiError {
  return new ApiError('invalid_parameter', message, { field });
}
