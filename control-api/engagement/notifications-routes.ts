import websocket from '@fastify/websocket';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { TokenService } from '../accounts/tokens.js';
import { IdParams, IsoDate, Nullable, bearer, closed, errorResponses } from '../http/common-schemas.js';
import type { NotificationService } from './notifications.js';

/** What the notification routes are built from. */
export interface NotificationRouteDeps {
  tokens: Pick<TokenService, 'authenticate'>;
  notifications: NotificationService;
}

/** A socket that has not answered a ping for this long is closed. */
const PING_INTERVAL_MS = 30_000;

const NotificationSchema = Type.Object({
  id: Type.String(),
  seq: Type.Integer({ description: 'increasing; the `since` of a reconnect' }),
  kind: Type.Union([Type.Literal('creator.live'), Type.Literal('upload.ready'), Type.Literal('upload.failed'), Type.Literal('comment.reply'), Type.Literal('series.newEpisode')]),
  data: Type.Record(Type.String(), Type.Unknown()),
  createdAt: IsoDate,
  readAt: Nullable(IsoDate),
});

/** Stored notifications, read marks, follows, and the live WebSocket. */
export const notificationsRoutes: FastifyPluginAsyncTypebox<NotificationRouteDeps> = async (app, deps) => {
  const tags = ['notifications'];
  const { notifications } = deps;
  const me = (authorization: string | undefined) => deps.tokens.authenticate(authorization).accountId;
  await app.register(websocket, { options: { maxPayload: 4096 } });
  await notifications.start();
  app.addHook('onClose', () => notifications.close());

  app.get(
    '/v1/notifications',
    {
      schema: {
        tags, summary: 'Your notifications, newest first', security: bearer,
        querystring: Type.Object(
          {
            limit: Type.Integer({ minimum: 1, maximum: 100, default: 20 }),
            cursor: Type.Optional(Type.String({ pattern: '^[0-9]{1,19}$', description: 'nextCursor of the previous page' })),
            unread: Type.Optional(Type.Boolean()),
          },
          closed,
        ),
        response: { 200: Type.Object({ items: Type.Array(NotificationSchema), nextCursor: Nullable(Type.String()), unread: Type.Integer() }), ...errorResponses },
      },
    },
    async (req) => notifications.list(me(req.headers.authorization), { limit: req.query.limit, before: req.query.cursor ? Number(req.query.cursor) : undefined, unread: req.query.unread }),
  );

  app.post(
    '/v1/notifications/read',
    {
      schema: {
        tags, summary: 'Mark notifications read (all of them without ids)', security: bearer,
        body: Type.Object({ ids: Type.Optional(Type.Array(Type.String({ format: 'uuid' }), { maxItems: 500 })) }, closed),
        response: { 200: Type.Object({ updated: Type.Integer() }), ...errorResponses },
      },
    },
    async (req) => ({ updated: await notifications.markRead(me(req.headers.authorization), req.body.ids) }),
  );

  for (const [method, following] of [['PUT', true], ['DELETE', false]] as const) {
    app.route({
      method,
      url: '/v1/creators/:id/follow',
      schema: {
        tags, summary: following ? 'Follow a creator (a notification when they go live)' : 'Stop following a creator', security: bearer,
        params: IdParams, response: { 204: Type.Null({ description: 'done' }), ...errorResponses },
      },
      handler: async (req, reply) => {
        await notifications.follow(me(req.headers.authorization), (req.params as { id: string }).id, following);
        return reply.status(204).send(null);
      },
    });
  }

  app.get(
    '/v1/notifications/ws',
    {
      websocket: true,
      schema: {
        tags, summary: 'WebSocket of live notifications: {type: "notification", notification} messages',
        description: 'Authenticated by the access token, as `Authorization: Bearer` or `access_token` (browsers cannot set headers on a WebSocket). `since` replays everything stored after that seq first; every message carries its seq, so a client keeps the highest and reconnects with it (a message may arrive twice around a reconnect).',
        querystring: Type.Object(
          { access_token: Type.Optional(Type.String({ maxLength: 2000 })), since: Type.Optional(Type.Integer({ minimum: 0 })) },
          closed,
        ),
      },
      // 401 before the upgrade, as a plain HTTP answer.
      preValidation: async (req) => {
        const token = (req.query as { access_token?: string }).access_token;
        (req as { accountId?: string }).accountId = me(req.headers.authorization ?? (token ? `Bearer ${token}` : undefined));
      },
    },
    (socket, req) => {
      const accountId = (req as { accountId?: string }).accountId!;
      const since = (req.query as { since?: number }).since;
      const detach = notifications.attach(accountId, socket);
      let alive = true;
      socket.on('pong', () => (alive = true));
      const ping = setInterval(() => {
        if (!alive) return socket.terminate();
        alive = false;
        socket.ping();
      }, PING_INTERVAL_MS);
      socket.on('close', () => {
        clearInterval(ping);
        detach();
      });
      // Incoming messages are not part of the protocol; a client that sends any is ignored.
      if (since !== undefined) {
        void notifications.since(accountId, since).then(
          (missed) => {
            for (const n of missed) socket.send(JSON.stringify({ type: 'notification', notification: n }));
          },
          (err: unknown) => {
            req.log.warn({ err }, 'notification replay failed');
            socket.close(1011, 'replay failed');
          },
        );
      }
    },
  );
};
