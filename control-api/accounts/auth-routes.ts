import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { AuthError } from '../http/http-errors.js';
import { bearer, errorResponses } from '../http/common-schemas.js';
import { AccountSchema, CreateAccountBody, LoginBody, RefreshBody, TokenPairSchema } from './schemas.js';
import type { RouteContext } from '../http/route-context.js';

/** Sign-up, login, token refresh and logout, and `GET /v1/me`. */
export const authRoutes: FastifyPluginAsyncTypebox<RouteContext> = async (app, { services }) => {
  app.post(
    '/v1/accounts',
    {
      schema: {
        tags: ['accounts'],
        summary: 'Create an account (role creator, with one default profile)',
        body: CreateAccountBody,
        response: { 201: AccountSchema, ...errorResponses },
      },
    },
    async (req, reply) => {
      const account = await services.accounts.create(req.body, req.ip);
      return reply.status(201).header('location', '/v1/me').send(account);
    },
  );

  app.post(
    '/v1/auth/login',
    {
      schema: {
        tags: ['auth'],
        summary: 'Exchange email and password for an access and a refresh token',
        description: 'Rate limited per account and per client IP; 429 carries Retry-After.',
        body: LoginBody,
        response: { 200: TokenPairSchema, ...errorResponses },
      },
    },
    async (req) => services.accounts.login(req.body, req.ip),
  );

  app.post(
    '/v1/auth/refresh',
    {
      schema: {
        tags: ['auth'],
        summary: 'Rotate a refresh token into a new token pair',
        description: 'Each refresh token works once; presenting a used one revokes every token of that login (401 REFRESH_TOKEN_REUSED).',
        body: RefreshBody,
        response: { 200: TokenPairSchema, ...errorResponses },
      },
    },
    async (req) => services.tokens.refresh(req.body.refreshToken),
  );

  app.post(
    '/v1/auth/logout',
    {
      schema: {
        tags: ['auth'],
        summary: 'Revoke the refresh token and every token rotated from the same login',
        body: RefreshBody,
        response: { 204: Type.Null({ description: 'revoked' }), ...errorResponses },
      },
    },
    async (req, reply) => {
      await services.tokens.revoke(req.body.refreshToken);
      return reply.status(204).send(null);
    },
  );

  app.get(
    '/v1/me',
    {
      schema: {
        tags: ['accounts'],
        summary: 'The account the access token belongs to',
        security: bearer,
        response: { 200: AccountSchema, ...errorResponses },
      },
    },
    async (req) => {
      const { accountId } = services.tokens.authenticate(req.headers.authorization);
      const account = await services.accounts.get(accountId);
      if (!account) throw new AuthError('the account of this token no longer exists', 'invalid_token');
      return account;
    },
  );
};
