import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { Type, type Static } from 'typebox';
import { AppError, renditionsOverCap, signPlaybackToken } from '../../platform/index.js';
import { bearer, errorResponses } from '../http/common-schemas.js';
import type { RouteContext } from '../http/route-context.js';
import { PROFILE_HEADER, resolveViewer } from '../accounts/viewer.js';
import type { EncryptionMode } from '../contract.js';
import { requireProfile } from '../catalog/index.js';
import { aes128KeyUrlPrefix, clearKeyLicenseUrl, toAssetPlaybackUrls } from './urls.js';

const PlaybackTokenRequest = Type.Object(
  {
    streamId: Type.Optional(Type.String({ format: 'uuid', description: 'a live stream of yours' })),
    assetId: Type.Optional(Type.String({ format: 'uuid', description: 'an asset (recording) of yours' })),
    titleId: Type.Optional(Type.String({ format: 'uuid', description: 'a published catalog title (needs the active profile)' })),
    profileId: Type.Optional(Type.String({ format: 'uuid', description: 'the profile that will watch (or X-Profile-Id): needed for titleId, binds the token to it for your own media' })),
    deviceId: Type.Optional(Type.String({ minLength: 1, maxLength: 100, pattern: '^[A-Za-z0-9._:-]+$', description: 'the playing device (a stable id the client keeps): a device starting again reuses its stream slot; GET /v1/devices lists them' })),
    deviceName: Type.Optional(Type.String({ minLength: 1, maxLength: 100, description: 'shown in device lists, e.g. "Living room TV"' })),
    deviceType: Type.Optional(Type.String({ minLength: 1, maxLength: 30, description: 'tv, phone, tablet, desktop, web...' })),
    ttlSeconds: Type.Optional(Type.Integer({ minimum: 30, maximum: 86_400, default: 3600 })),
  },
  { additionalProperties: false },
);

const PlaybackTokenResponse = Type.Object({
  token: Type.String({ description: 'JWT HS256, sub = the stream or asset id' }),
  expiresAt: Type.String({ format: 'date-time' }),
  playback: Type.Object({
    hls: Type.String({ format: 'uri', description: 'signed URL: the token travels in the path, so relative playlist links keep it' }),
    dash: Type.String({ format: 'uri' }),
  }),
  profileId: Type.Optional(Type.String({ format: 'uuid', description: 'the profile the token is bound to' })),
  drm: Type.Optional(Type.Object({
    clearkey: Type.Optional(Type.Object({ licenseUrl: Type.String({ format: 'uri', description: 'ClearKey licence server for EME players, the token included' }) })),
    aes128: Type.Optional(Type.Object({ keyUrlPrefix: Type.String({ format: 'uri', description: 'HLS AES-128 key URIs start here; the player adds ?token= (or Authorization: Bearer) when it fetches them' }) })),
  })),
  titleId: Type.Optional(Type.String({ format: 'uuid' })),
  sessionId: Type.Optional(Type.String({ description: 'titleId: the playback session holding a stream slot; renew it with POST /v1/playback-sessions/:id/heartbeat every 30 s (licence requests renew it too), end it with DELETE' })),
  maxResolution: Type.Optional(Type.Integer({ description: "titleId: the plan's tallest rendition (lines); playlists list no taller one and the edge refuses them" })),
  resumeFromSeconds: Type.Optional(Type.Number({ description: "titleId: where the profile stopped (0 when new or finished)" })),
});

/** What the decision grants: the media a token names, its URLs, the profile it is bound to, how it is encrypted. */
interface PlaybackGrant {
  sub: string;
  playback: { hls: string; dash: string };
  profileId?: string;
  encryption: EncryptionMode;
  resume?: { titleId: string; resumeFromSeconds: number };
  sessionId?: string;
  maxResolution?: number;
  /** Video renditions above the cap (the token names them; the edge refuses them). */
  excludedRenditions?: string[];
}

/**
 * The one answer to "may this profile play this media now", which tokens (and through them licences)
 * rest on: your own stream or asset (any of your profiles, or none), or a published title the active
 * profile may watch (403 MATURITY_RESTRICTED above its ceiling) and the account's plan allows
 * (Entitlements: PLAN_REQUIRED, SUBSCRIPTION_INACTIVE, STREAM_LIMIT_REACHED; a stream slot and a
 * resolution cap).
 */
async function decidePlayback(services: RouteContext['services'], config: RouteContext['config'], req: { headers: FastifyRequest['headers']; body: Static<typeof PlaybackTokenRequest> }): Promise<PlaybackGrant> {
  const { accountId } = services.tokens.authenticate(req.headers.authorization);
  const { streamId, assetId, titleId, profileId } = req.body;
  if ([streamId, assetId, titleId].filter(Boolean).length !== 1) throw new AppError(400, 'VALIDATION_FAILED', 'give exactly one of streamId, assetId and titleId');
  if (titleId) {
    const viewer = await resolveViewer(services, { headers: req.headers, query: { profileId } });
    const profile = requireProfile(viewer);
    const title = await services.catalog.titles.playable(profile.maturityCeiling, titleId);
    const { deviceId, deviceName, deviceType } = req.body;
    const entitled = await services.entitlements.forTitle({
      accountId, profileId: profile.id, title, ...(deviceId ? { device: { id: deviceId, name: deviceName, type: deviceType } } : {}),
    });
    const capped = entitled.maxResolution ? renditionsOverCap(await services.assets.videoRenditions(title.assetId), entitled.maxResolution) : [];
    return {
      sessionId: entitled.session.id,
      maxResolution: entitled.maxResolution,
      ...(capped.length ? { excludedRenditions: capped.map((r) => r.name) } : {}),
      sub: title.assetId,
      playback: toAssetPlaybackUrls(config, title.assetId),
      profileId: profile.id,
      encryption: (await services.assets.encryptionOf(title.assetId)) ?? 'none',
      resume: { titleId, resumeFromSeconds: await services.engagement.watching.resumePosition(profile.id, titleId) },
    };
  }
  // A profile named for your own media must be yours (404 otherwise, PIN rules as everywhere).
  const viewer = profileId || req.headers[PROFILE_HEADER] ? await resolveViewer(services, { headers: req.headers, query: { profileId } }) : undefined;
  // Ownership check first: another account's media is 404, as everywhere else.
  const media = streamId ? await services.liveStreams.get(accountId, streamId) : await services.assets.get(accountId, assetId!);
  return { sub: (streamId ?? assetId)!, playback: media.playback, encryption: media.encryption, ...(viewer?.profile ? { profileId: viewer.profile.id } : {}) };
}

/** Signed playback: tokens the edge verifies itself (EDGE_REQUIRE_TOKEN) and the key server grants licences to. */
export const playbackTokensRoutes: FastifyPluginAsyncTypebox<RouteContext> = async (app, { services, config }) => {
  app.post(
    '/v1/playback-tokens',
    {
      schema: {
        tags: ['playback'],
        summary: 'Issue a playback token and signed playback URLs: one of your streams or assets, or a catalog title',
        description: 'For `titleId` the active profile must be allowed to watch it (403 MATURITY_RESTRICTED above its ceiling, 404 unpublished); the answer says where the profile stopped (`resumeFromSeconds`). The token is bound to the media and to the profile (`profileId` or X-Profile-Id); for encrypted media `drm.clearkey.licenseUrl` is the licence URL to give the player.',
        security: bearer,
        body: PlaybackTokenRequest,
        response: { 201: PlaybackTokenResponse, ...errorResponses },
      },
    },
    async (req, reply) => {
      const key = config.edge.playbackSigningKey;
      const grant = await decidePlayback(services, config, req);
      if (!key && grant.sessionId) await services.sessions.end(services.tokens.authenticate(req.headers.authorization).accountId, grant.sessionId);
      if (!key) throw new AppError(409, 'PLAYBACK_SIGNING_DISABLED', 'this server has no PLAYBACK_SIGNING_KEY: playback URLs need no token');
      const ttlSeconds = req.body.ttlSeconds ?? 3600;
      const token = signPlaybackToken(key, { sub: grant.sub, ttlSeconds, pid: grant.profileId, sid: grant.sessionId, maxh: grant.maxResolution, xr: grant.excludedRenditions });
      const signed = (url: string) => {
        const u = new URL(url);
        u.pathname = `/t/${token}${u.pathname}`;
        return u.toString();
      };
      const encrypted = grant.encryption === 'cbcs' || grant.encryption === 'cenc';
      const drm = encrypted
        ? { clearkey: { licenseUrl: `${clearKeyLicenseUrl(config)}?token=${encodeURIComponent(token)}` } }
        : grant.encryption === 'aes-128' ? { aes128: { keyUrlPrefix: aes128KeyUrlPrefix(config) } } : undefined;
      reply.code(201);
      return {
        token,
        expiresAt: new Date(Date.now() + ttlSeconds * 1000).toISOString(),
        playback: { hls: signed(grant.playback.hls), dash: signed(grant.playback.dash) },
        ...(grant.profileId ? { profileId: grant.profileId } : {}),
        ...(drm ? { drm } : {}),
        ...(grant.sessionId ? { sessionId: grant.sessionId } : {}),
        ...(grant.maxResolution ? { maxResolution: grant.maxResolution } : {}),
        ...grant.resume,
      };
    },
  );
};
