import { AppError } from '../../platform/index.js';

/** 401 that also tells the client how to authenticate (RFC 6750 §3: WWW-Authenticate: Bearer). */
export class AuthError extends AppError {
  constructor(
    detail: string,
    /** RFC 6750 §3.1 error code, set when a token was presented but rejected. */
    readonly bearerError?: 'invalid_token',
  ) {
    super(401, 'UNAUTHORIZED', detail);
  }
}

/** 429 with the number of seconds after which the client may try again (RFC 9110 §10.2.3 Retry-After). */
export class RateLimitedError extends AppError {
  constructor(
    detail: string,
    readonly retryAfterSeconds: number,
  ) {
    super(429, 'RATE_LIMITED', detail);
  }
}

/** 404 NOT_FOUND for a resource that does not exist or belongs to someone else (the two look the same). */
export function notFound(what: string): AppError {
  return new AppError(404, 'NOT_FOUND', `${what} not found`);
}

/** 403 for an authenticated account whose role may not do this. */
export function forbidden(detail: string): AppError {
  return new AppError(403, 'FORBIDDEN', detail);
}

/** 400 for a body that passed the schema but breaks a rule the schema cannot express. */
export function badRequest(code: string, detail: string): AppError {
  return new AppError(400, code, detail);
}

/** 409 for a request that conflicts with current state. */
export function conflict(code: string, detail: string): AppError {
  return new AppError(409, code, detail);
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** True for a canonical UUID; ids that are not cannot exist, so callers answer 404 without a query. */
export function isUuid(id: string): boolean {
  return UUID.test(id);
}
