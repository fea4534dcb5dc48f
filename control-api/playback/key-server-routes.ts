/**
 * The key server: the W3C ClearKey licence endpoint (EME §9.1.4, JSON Web Key sets) and HLS AES-128 key
 * URIs. Both answer a playback token (`?token=` or `Authorization: Bearer`) and only with keys of the
 * media that token was issued for. Players call them from any origin, so they speak CORS.
 */
import crypto from 'node:crypto';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { LRUCache } from 'lru-cache';
import { Counter, type Registry } from 'prom-client';
import { Type } from 'typebox';
import { AppError, verifyPlaybackToken, type Config, type LiveState } from '../../platform/index.js';
import { errorResponses } from '../http/common-schemas.js';
import { FixedWindowLimiter } from '../accounts/rate-limit.js';
import { AuthError } from '../http/http-errors.js';
import type { KeyStore } from './key-store.js';

/** What the key server needs. */
export interface KeyServerDeps {
  config: Config;
  keys: KeyStore;
  /** The media whose keys a token for `mediaId` may have (itself; a recording also its stream's). */
  keyOwners: (mediaId: string) => Promise<string[]>;
  liveState: LiveState;
  metrics: Registry;
  /**
   * A licence for a token of a playback session renews that session's stream slot and checks its
   * entitlement again: a refusal (subscription ended, slot lost) refuses the licence.
   */
  renewSession?: (sessionId: string) => Promise<void>;
}

const ClearKeyRequest = Type.Object(
  {
    kids: Type.Array(Type.String({ pattern: '^[A-Za-z0-9_-]{22}$', description: 'base64url key ID (16 bytes)' }), { minItems: 1, maxItems: 64 }),
    type: Type.Optional(Type.Union([Type.Literal('temporary'), Type.Literal('persistent-license')])),
  },
  { additionalProperties: true },
);

const ClearKeyResponse = Type.Object({
  keys: Type.Array(Type.Object({ kty: Type.Literal('oct'), kid: Type.String(), k: Type.String() })),
  type: Type.String(),
});

const b64url = (b: Buffer) => b.toString('base64url');

/** CORS for licence and key requests from players on any page (no cookies: the token is the credential). */
const CORS = {
  'access-control-allow-origin': '*',
  'access-control-allow-methods': 'GET, POST, OPTIONS',
  'access-control-allow-headers': 'authorization, content-type',
  'access-control-max-age': '600',
};

/** Licence and key routes. */
export const keyServerRoutes: FastifyPluginAsyncTypebox<KeyServerDeps> = async (app, { config, keys, keyOwners, liveState, metrics, renewSession }) => {
  const requests = (metrics.getSingleMetric('drm_license_requests_total') as Counter<'kind' | 'outcome'> | undefined) ?? new Counter({
    name: 'drm_license_requests_total',
    help: 'Key server requests by kind (clearkey, aes-128) and outcome (granted, refused, rate_limited, not_found)',
    labelNames: ['kind', 'outcome'],
    registers: [metrics],
  });
  // A player sends the same token with every licence request: verified tokens are memoised (bounded), so a
  // repeat costs a map look-up instead of an HMAC and a JSON parse. Only valid tokens are kept.
  const verified = new LRUCache<string, { sub: string; expMs: number; sid?: string }>({ max: 10_000 });
  const limiter = new FixedWindowLimiter({ liveState }, { prefix: 'drm-licence', max: config.drm.licenseRequestsPerMinute, windowSeconds: 60 });

  // EME CDMs hand the player a licence challenge it posts as raw bytes, often with no or a generic
  // content type: every body here is read as JSON text.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string', bodyLimit: 16 * 1024 }, (_req, body, done) => {
    try {
      done(null, JSON.parse(body as string));
    } catch {
      done(new AppError(400, 'LICENSE_REQUEST_INVALID', 'the licence request is not JSON: send the CDM\'s ClearKey message ({"kids": [...], "type": "temporary"})'), undefined);
    }
  });
  app.addHook('onSend', async (_req, reply, payload) => {
    reply.headers(CORS);
    reply.header('cache-control', 'no-store');
    return payload;
  });
  app.options('/v1/drm/clearkey', { schema: { hide: true } }, async (_req, reply) => reply.code(204).send());
  app.options('/v1/keys/:kid', { schema: { hide: true } }, async (_req, reply) => reply.code(204).send());

  /** The media the presented playback token names; 401 without one, 403 when it does not verify or has expired. */
  async function authorize(kind: string, req: { headers: Record<string, unknown>; query: unknown }): Promise<{ mediaId: string }> {
    const signing = config.edge.playbackSigningKey;
    const q = (req.query ?? {}) as { token?: string };
    const header = typeof req.headers.authorization === 'string' ? /^Bearer (.+)$/i.exec(req.headers.authorization)?.[1] : undefined;
    const token = q.token ?? header;
    if (!token || !signing) {
      requests.inc({ kind, outcome: 'refused' });
      throw new AuthError('a licence needs the playback token of the media (?token= or Authorization: Bearer), from POST /v1/playback-tokens');
    }
    let v = verified.get(token);
    if (!v || v.expMs <= Date.now()) {
      verified.delete(token);
      const fresh = verifyPlaybackToken(signing, token);
      if (typeof fresh === 'string') {
        requests.inc({ kind, outcome: 'refused' });
        throw fresh === 'expired'
          ? new AppError(403, 'PLAYBACK_TOKEN_EXPIRED', 'the playback token has expired: ask POST /v1/playback-tokens for a new one')
          : new AppError(403, 'PLAYBACK_TOKEN_INVALID', 'the playback token is malformed or its signature does not verify');
      }
      v = { sub: fresh.sub, expMs: fresh.expMs, ...(fresh.sid ? { sid: fresh.sid } : {}) };
      verified.set(token, v);
    }
    try {
      await limiter.hit([crypto.createHash('sha256').update(token).digest('hex').slice(0, 32)], 'licence');
    } catch (err) {
      requests.inc({ kind, outcome: 'rate_limited' });
      throw err;
    }
    if (v.sid && renewSession) {
      try {
        await renewSession(v.sid);
      } catch (err) {
        requests.inc({ kind, outcome: 'refused' });
        throw err;
      }
    }
    return { mediaId: v.sub };
  }

  /** Keys by ID, refused (403) when any belongs to other media than the token's, 404 when none exists. */
  async function keysFor(kind: string, mediaId: string, kids: string[]) {
    const found = await keys.byKids(kids);
    const owners = found.some((k) => k.mediaId !== mediaId) ? await keyOwners(mediaId) : [mediaId];
    if (found.some((k) => !owners.includes(k.mediaId))) {
      requests.inc({ kind, outcome: 'refused' });
      throw new AppError(403, 'PLAYBACK_TOKEN_WRONG_MEDIA', 'the playback token was issued for other media than these keys');
    }
    if (found.length === 0) {
      requests.inc({ kind, outcome: 'not_found' });
      throw new AppError(404, 'KEY_NOT_FOUND', 'no content key has these key IDs');
    }
    requests.inc({ kind, outcome: 'granted' });
    return found;
  }

  app.post(
    '/v1/drm/clearkey',
    {
      schema: {
        tags: ['playback'],
        summary: 'ClearKey licence (W3C EME): the content keys of the token’s media, as a JSON Web Key set',
        description: 'Body: the CDM’s licence request `{"kids": [base64url], "type": "temporary"}`. Authorized by the playback token (`?token=` or `Authorization: Bearer`); 401 without one, 403 expired, invalid, or for other media; 429 past LICENSE_REQUESTS_PER_MINUTE.',
        querystring: Type.Object({ token: Type.Optional(Type.String({ maxLength: 4096 })) }),
        body: ClearKeyRequest,
        response: { 200: ClearKeyResponse, ...errorResponses },
      },
    },
    async (req) => {
      const { mediaId } = await authorize('clearkey', req);
      const kids = req.body.kids.map((k) => Buffer.from(k, 'base64url').toString('hex'));
      const found = await keysFor('clearkey', mediaId, kids);
      return { keys: found.map((k) => ({ kty: 'oct' as const, kid: b64url(Buffer.from(k.kid, 'hex')), k: b64url(k.key) })), type: req.body.type ?? 'temporary' };
    },
  );

  app.get(
    '/v1/keys/:kid',
    {
      schema: {
        tags: ['playback'],
        summary: 'HLS AES-128 key: the 16 key bytes, for the playback token’s media',
        params: Type.Object({ kid: Type.String({ pattern: '^[0-9a-f]{32}$' }) }),
        querystring: Type.Object({ token: Type.Optional(Type.String({ maxLength: 4096 })) }),
        response: { 200: Type.Any({ description: '16 bytes, application/octet-stream' }), ...errorResponses },
      },
    },
    async (req, reply) => {
      const { mediaId } = await authorize('aes-128', req);
      const [key] = await keysFor('aes-128', mediaId, [req.params.kid]);
      return reply.type('application/octet-stream').send(key.key);
    },
  );
};
