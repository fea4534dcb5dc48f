/**
 * TypeBox schemas shared by the routes. They validate requests (with `additionalProperties: false`
 * and ajv's `removeAdditional: false`, so unknown fields are a 400, not silently dropped), shape the
 * serialised responses (fields not in a schema never leave the server) and feed the OpenAPI document.
 */
import { Type } from 'typebox';

export const closed = { additionalProperties: false } as const;

/** RFC 9457 problem document, the body of every error. */
export const ProblemSchema = Type.Object(
  {
    type: Type.String(),
    title: Type.String(),
    status: Type.Integer(),
    detail: Type.String(),
    code: Type.String({ description: 'Stable machine-readable error code, e.g. EMAIL_TAKEN' }),
  },
  { description: 'application/problem+json (RFC 9457); some problems add extension members (e.g. `sessions` on STREAM_LIMIT_REACHED)', additionalProperties: true },
);

/** Error responses every route may give; documented once per route. */
export const errorResponses = { '4xx': ProblemSchema, '5xx': ProblemSchema };

/** OpenAPI security requirement of routes that need an access token. */
export const bearer = [{ bearerAuth: [] }];

export const IsoDate = Type.String({ format: 'date-time' });

/** `t` or null. */
export const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()]);

/** `:id` path parameter; not format-checked here so a malformed id is a 404 like any unknown id. */
export const IdParams = Type.Object({ id: Type.String({ maxLength: 100 }) }, closed);

/** Cursor pagination query. */
export const PageQuery = Type.Object(
  {
    limit: Type.Integer({ minimum: 1, maximum: 100, default: 20 }),
    cursor: Type.Optional(Type.String({ maxLength: 500, description: 'nextCursor of the previous page' })),
  },
  closed,
);

/** How media is encrypted: `cbcs` (one copy for HLS and DASH, every EME player), `cenc` (AES-CTR, DASH/Widevine-style players). */
export const Encryption = Type.Union([Type.Literal('none'), Type.Literal('aes-128'), Type.Literal('cbcs'), Type.Literal('cenc')], {
  description: 'none (default DEFAULT_ENCRYPTION), cbcs or cenc (Common Encryption; licences from POST /v1/drm/clearkey), aes-128 (HLS whole-segment, live streams)',
});
