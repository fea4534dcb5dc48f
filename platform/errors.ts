/** A coded error that HTTP layers turn into application/problem+json. */
export class AppError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly title?: string,
    /** Extension members of the problem document (RFC 9457 §3.2), e.g. the sessions a stream limit counts. */
    readonly extensions?: Record<string, unknown>,
  ) {
    super(message);
  }
}

/** The RFC 9457 body every service answers errors with. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: string;
}

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
  416: 'Range Not Satisfiable',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  501: 'Not Implemented',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

/** Builds a problem document; `type` is a stable URN derived from the code. */
export function problem(status: number, code: string, detail: string, title?: string): Problem {
  return {
    type: `urn:streamforge:problem:${code.toLowerCase().replace(/_/g, '-')}`,
    title: title ?? TITLES[status] ?? 'Error',
    status,
    detail,
    code,
  };
}
