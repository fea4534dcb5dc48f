import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError, type Problem, problem } from '../../platform/index.js';
import { AuthError, RateLimitedError } from './http-errors.js';

/** Request bodies above this are refused with 413 before they are parsed. */
export const BODY_LIMIT_BYTES = 64 * 1024;

/** Fastify's own error codes and the problem each becomes. */
const FASTIFY_ERRORS: Record<string, { status: number; code: string; detail?: string }> = {
  FST_ERR_CTP_INVALID_JSON_BODY: { status: 400, code: 'INVALID_JSON', detail: 'request body is not valid JSON' },
  FST_ERR_CTP_EMPTY_JSON_BODY: { status: 400, code: 'INVALID_JSON', detail: 'request body is empty' },
  FST_ERR_CTP_BODY_TOO_LARGE: { status: 413, code: 'PAYLOAD_TOO_LARGE', detail: `request body is larger than ${BODY_LIMIT_BYTES} bytes` },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { status: 415, code: 'UNSUPPORTED_MEDIA_TYPE', detail: 'send request bodies as application/json' },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { status: 400, code: 'INVALID_CONTENT_LENGTH', detail: 'Content-Length does not match the body' },
};

/** The problem a thrown error becomes; anything unexpected is a 500 that reveals nothing. */
export function toProblem(err: FastifyError | Error): Problem {
  if (err instanceof AppError) return { ...err.extensions, ...problem(err.status, err.code, err.message, err.title) };
  const fe = err as FastifyError;
  if (fe.validation) return problem(400, 'VALIDATION_FAILED', validationDetail(fe));
  const known = fe.code ? FASTIFY_ERRORS[fe.code] : undefined;
  if (known) return problem(known.status, known.code, known.detail ?? fe.message);
  if (fe.statusCode && fe.statusCode >= 400 && fe.statusCode < 500) return problem(fe.statusCode, 'BAD_REQUEST', fe.message);
  return problem(500, 'INTERNAL_ERROR', 'the server failed to handle this request');
}

/** Names the offending field, e.g. `body/email must match format "email"` or `body/foo is not an allowed field`. */
function validationDetail(err: FastifyError): string {
  const first = err.validation?.[0];
  if (!first) return err.message;
  const at = `${err.validationContext ?? 'request'}${first.instancePath}`;
  const params = first.params as Record<string, unknown>;
  if (first.keyword === 'additionalProperties') return `${at}/${String(params.additionalProperty)} is not an allowed field`;
  if (first.keyword === 'required') return `${at}/${String(params.missingProperty)} is required`;
  return `${at} ${first.message ?? 'is invalid'}`;
}

function sendProblem(reply: FastifyReply, p: Problem): FastifyReply {
  return reply.status(p.status).type('application/problem+json; charset=utf-8').send(p);
}

/** `/v1/live-streams/:id` → a matcher for concrete paths, for telling 404 from 405. */
function pathMatcher(url: string): RegExp {
  const parts = url
    .split('/')
    .map((s) => (s.startsWith(':') ? '[^/]+' : s === '*' ? '.*' : s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
  return new RegExp(`^${parts.join('/')}/?$`);
}

/**
 * One error handler for the whole API (call on the root instance before registering routes): every
 * error, including fastify's own (bad JSON, oversize body, unknown route), answers application/problem+json.
 */
export function installErrorHandling(app: FastifyInstance): void {
  const routes: { method: string; match: RegExp }[] = [];
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) routes.push({ method, match: pathMatcher(route.url) });
  });

  // Only JSON bodies: without the text/plain parser, other types get 415 instead of a confusing 400.
  app.removeContentTypeParser(['application/json', 'text/plain']);
  const json = app.getDefaultJsonParser('error', 'error');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
    // Clients that label every request JSON may POST an action (rotate-key) with no body at all.
    if (body === '') done(null, undefined);
    else json(req, body as string, done);
  });

  app.setErrorHandler((err: FastifyError, req: FastifyRequest, reply: FastifyReply) => {
    const p = toProblem(err);
    if (p.status >= 500) req.log.error({ err }, 'request failed');
    if (err instanceof AuthError) {
      const error = err.bearerError ? `, error="${err.bearerError}"` : '';
      reply.header('www-authenticate', `Bearer realm="streamforge"${error}`);
    }
    if (err instanceof RateLimitedError) reply.header('retry-after', String(err.retryAfterSeconds));
    return sendProblem(reply, p);
  });

  app.setNotFoundHandler((req: FastifyRequest, reply: FastifyReply) => {
    const path = req.url.split('?')[0];
    const allowed = [...new Set(routes.filter((r) => r.match.test(path) && r.method !== 'HEAD').map((r) => r.method))];
    if (allowed.length > 0) {
      // RFC 9110 §15.5.6: a 405 lists the methods the resource does support.
      reply.header('allow', allowed.join(', '));
      return sendProblem(reply, problem(405, 'METHOD_NOT_ALLOWED', `${req.method} is not allowed on ${path}`));
    }
    return sendProblem(reply, problem(404, 'NOT_FOUND', `no route for ${req.method} ${path}`));
  });
}
