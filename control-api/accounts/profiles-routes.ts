import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { AppError } from '../../platform/index.js';
import { MAX_PROFILES } from './profiles.js';
import { IdParams, bearer, errorResponses } from '../http/common-schemas.js';
import { CreateProfileBody, PinBody, ProfileSchema, UpdateProfileBody } from './schemas.js';
import type { RouteContext } from '../http/route-context.js';

/** Opening a profile session or switching to one: the PIN where one is asked for. */
const SessionBody = Type.Object({ pin: Type.Optional(PinBody.properties.pin) }, { additionalProperties: false });
/** A session token bound to the profile. */
const SessionResponse = Type.Object({ accessToken: Type.String(), expiresIn: Type.Integer(), tokenType: Type.Literal('Bearer'), profile: ProfileSchema });

/** Viewing profiles of the caller's account. */
export const profilesRoutes: FastifyPluginAsyncTypebox<RouteContext> = async (app, { services, config }) => {
  const tags = ['profiles'];
  const me = (authorization: string | undefined) => services.tokens.authenticate(authorization).accountId;
  /** Profiles are managed with the account's token: a profile session (a kid's device) may not. */
  const manager = (authorization: string | undefined) => {
    const claims = services.tokens.authenticate(authorization);
    if (claims.profileId) throw new AppError(403, 'PROFILE_SESSION', 'profiles are managed with the account token, not a profile session');
    return claims.accountId;
  };

  app.get(
    '/v1/profiles',
    {
      schema: {
        tags,
        summary: 'List profiles, oldest first',
        security: bearer,
        response: { 200: Type.Object({ items: Type.Array(ProfileSchema) }), ...errorResponses },
      },
    },
    async (req) => ({ items: await services.profiles.list(me(req.headers.authorization)) }),
  );

  app.post(
    '/v1/profiles',
    {
      schema: {
        tags,
        summary: `Add a profile (at most ${MAX_PROFILES} per account)`,
        description: 'kids profiles have maturityCeiling at most PG-13 (default PG); the PIN is stored hashed and never returned.',
        security: bearer,
        body: CreateProfileBody,
        response: { 201: ProfileSchema, ...errorResponses },
      },
    },
    async (req, reply) => {
      const profile = await services.profiles.create(manager(req.headers.authorization), req.body);
      return reply.status(201).send(profile);
    },
  );

  app.patch(
    '/v1/profiles/:id',
    {
      schema: {
        tags,
        summary: 'Change a profile; `pin: null` removes the PIN',
        security: bearer,
        params: IdParams,
        body: UpdateProfileBody,
        response: { 200: ProfileSchema, ...errorResponses },
      },
    },
    async (req) => services.profiles.update(manager(req.headers.authorization), req.params.id, req.body),
  );

  app.delete(
    '/v1/profiles/:id',
    {
      schema: {
        tags,
        summary: 'Delete a profile (the last one cannot be deleted)',
        security: bearer,
        params: IdParams,
        response: { 204: Type.Null({ description: 'deleted' }), ...errorResponses },
      },
    },
    async (req, reply) => {
      await services.profiles.delete(manager(req.headers.authorization), req.params.id);
      return reply.status(204).send(null);
    },
  );

  app.post(
    '/v1/profiles/:id/session',
    {
      schema: {
        tags,
        summary: "Open a profile session: an access token bound to the profile (the PIN first, if it has one)",
        description: 'The "Who\'s watching?" step. A PIN-protected profile is active only through such a token (reads naming it with the account token are 403 PIN_REQUIRED); five wrong PINs per login window, then 429. The token reads as its profile only (403 PROFILE_SESSION for another) and cannot manage profiles; it lives as long as an access token and is not refreshed: open a new session with the account token.',
        security: bearer,
        params: IdParams,
        body: SessionBody,
        response: { 200: SessionResponse, ...errorResponses },
      },
    },
    async (req) => openSession(req.headers.authorization, req.params.id, req.body.pin),
  );

  /** A session token for the profile; from a kids profile's session, leaving kids needs the account PIN. */
  async function openSession(authorization: string | undefined, id: string, pin: string | undefined) {
    const claims = services.tokens.authenticate(authorization);
    const profile = await services.profiles.switchTo(claims.accountId, claims.profileId, id, pin);
    return {
      accessToken: services.tokens.signAccess({ accountId: claims.accountId, role: claims.role, profileId: profile.id }),
      expiresIn: config.auth.accessTtlSeconds,
      tokenType: 'Bearer' as const,
      profile,
    };
  }

  app.post(
    '/v1/profiles/:id/switch',
    {
      schema: {
        tags,
        summary: 'Switch the active profile: a session token for it (the PIN first where parental controls ask for one)',
        description: 'From a kids profile\'s session, switching to a profile that is not kids needs the account PIN (PUT /v1/account/pin) or that profile\'s own PIN: 403 PIN_REQUIRED, PIN_INCORRECT, ACCOUNT_PIN_NOT_SET; five wrong PINs per login window lock it (429 with Retry-After). Otherwise as /session.',
        security: bearer,
        params: IdParams,
        body: SessionBody,
        response: { 200: SessionResponse, ...errorResponses },
      },
    },
    async (req) => openSession(req.headers.authorization, req.params.id, req.body.pin),
  );

  app.put(
    '/v1/account/pin',
    {
      schema: {
        tags,
        summary: 'Set the account PIN (parental controls): needed to leave a kids profile and to loosen one',
        description: 'With the account token (not a profile session) and the account password.',
        security: bearer,
        body: Type.Object({ pin: PinBody.properties.pin, password: Type.String({ minLength: 1, maxLength: 1024 }) }, { additionalProperties: false }),
        response: { 204: Type.Null({ description: 'set' }), ...errorResponses },
      },
    },
    async (req, reply) => {
      await services.profiles.setAccountPin(manager(req.headers.authorization), req.body.pin, req.body.password);
      return reply.status(204).send(null);
    },
  );

  app.delete(
    '/v1/account/pin',
    {
      schema: {
        tags,
        summary: 'Remove the account PIN (with the account password)',
        security: bearer,
        body: Type.Object({ password: Type.String({ minLength: 1, maxLength: 1024 }) }, { additionalProperties: false }),
        response: { 204: Type.Null({ description: 'removed' }), ...errorResponses },
      },
    },
    async (req, reply) => {
      await services.profiles.setAccountPin(manager(req.headers.authorization), null, req.body.password);
      return reply.status(204).send(null);
    },
  );

  app.post(
    '/v1/profiles/:id/verify-pin',
    {
      schema: {
        tags,
        summary: 'Check a profile PIN: 204 when right, 403 PIN_INCORRECT when wrong (rate limited)',
        security: bearer,
        params: IdParams,
        body: PinBody,
        response: { 204: Type.Null({ description: 'PIN is right' }), ...errorResponses },
      },
    },
    async (req, reply) => {
      await services.profiles.verifyPin(me(req.headers.authorization), req.params.id, req.body.pin);
      return reply.status(204).send(null);
    },
  );
};
