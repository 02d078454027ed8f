/** Stable error codes; each names the area and the problem. */
export type ErrorCode =
  | 'BOUNCEGATE_CONFIG_INVALID'
  | 'BOUNCEGATE_CONFIG_NOT_FOUND'
  | 'BOUNCEGATE_SPOOL_WRITE_FAILED'
  | 'BOUNCEGATE_SPOOL_MESSAGE_MISSING'
  | 'BOUNCEGATE_STORE_FAILED'
  | 'BOUNCEGATE_RULES_INVALID'
  | 'BOUNCEGATE_DSN_INVALID'
  | 'BOUNCEGATE_ADMIN_REQUEST_FAILED';

/** An error of our own with a stable code and the underlying cause. */
export class BouncegateError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'BouncegateError';
    this.code = code;
  }
}
