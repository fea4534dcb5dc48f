/**
 * TypeBox schemas shared by the routes. They validate requests (with `additionalProperties: false`
 * and ajv's `removeAdditional: false`, so unknown fields are a 400, not silently dropped), shape the
 * serialised responses (fields not in a schema never leave the server) and feed the OpenAPI document.
 */
import { Type } from 'typebox';

const closed = { additionalProperties: false } as const;

/** RFC 9457 problem document, the body of every error. */
export const ProblemSchema = Type.Object(
  {
    type: Type.String(),
    title: Type.String(),
    status: Type.Integer(),
    detail: Type.String(),
    code: Type.String({ description: 'Stable machine-readable error code, e.g. EMAIL_TAKEN' }),
  },
  { description: 'application/problem+json (RFC 9457)' },
);

/** Error responses every route may give; documented once per route. */
export const errorResponses = { '4xx': ProblemSchema, '5xx': ProblemSchema };

/** OpenAPI security requirement of routes that need an access token. */
export const bearer = [{ bearerAuth: [] }];

const IsoDate = Type.String({ format: 'date-time' });

/** `:id` path parameter; not format-checked here so a malformed id is a 404 like any unknown id. */
export const IdParams = Type.Object({ id: Type.String({ maxLength: 100 }) }, closed);

/** An account as answered by sign-up and /v1/me. */
export const AccountSchema = Type.Object({
  id: Type.String({ format: 'uuid' }),
  email: Type.String({ format: 'email' }),
  displayName: Type.String(),
  role: Type.Union([Type.Literal('viewer'), Type.Literal('creator'), Type.Literal('admin')]),
  createdAt: IsoDate,
});

/** `POST /v1/accounts` body; the password policy is checked in code (400 WEAK_PASSWORD). */
export const CreateAccountBody = Type.Object(
  {
    email: Type.String({ format: 'email', maxLength: 254 }),
    password: Type.String({ maxLength: 256, description: '10+ characters with a letter and a digit, not the email' }),
    displayName: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
  },
  closed,
);

/** `POST /v1/auth/login` body. */
export const LoginBody = Type.Object(
  { email: Type.String({ maxLength: 254 }), password: Type.String({ maxLength: 256 }) },
  closed,
);

/** `POST /v1/auth/refresh` and `/logout` body. */
export const RefreshBody = Type.Object({ refreshToken: Type.String({ maxLength: 200 }) }, closed);

/** Access and refresh token pair. */
export const TokenPairSchema = Type.Object({
  accessToken: Type.String(),
  refreshToken: Type.String(),
  expiresIn: Type.Integer({ description: 'access token lifetime, seconds' }),
  tokenType: Type.Literal('Bearer'),
});

// Spelled out (not mapped from MATURITY_RATINGS) so the static type keeps the literals; the test checks they agree.
const Rating = Type.Union(
  [Type.Literal('G'), Type.Literal('PG'), Type.Literal('PG-13'), Type.Literal('R'), Type.Literal('NC-17')],
  { description: 'MPAA scale, lowest first; kids profiles at most PG-13' },
);
const Kind = Type.Union([Type.Literal('standard'), Type.Literal('kids')]);
const Pin = Type.String({ pattern: '^[0-9]{4}$', description: 'four digits' });
const Avatar = Type.String({ pattern: '^[a-z0-9-]{1,32}$', description: 'name of a built-in avatar' });

/** A viewing profile (the PIN is never part of it). */
export const ProfileSchema = Type.Object({
  id: Type.String({ format: 'uuid' }),
  name: Type.String(),
  kind: Kind,
  maturityCeiling: Rating,
  hasPin: Type.Boolean(),
  avatar: Type.String(),
  createdAt: IsoDate,
});

/** `POST /v1/profiles` body. */
export const CreateProfileBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 50 }),
    kind: Type.Optional(Kind),
    maturityCeiling: Type.Optional(Rating),
    pin: Type.Optional(Pin),
    avatar: Type.Optional(Avatar),
  },
  closed,
);

/** `PATCH /v1/profiles/:id` body: at least one field. */
export const UpdateProfileBody = Type.Object(
  {
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 50 })),
    kind: Type.Optional(Kind),
    maturityCeiling: Type.Optional(Rating),
    pin: Type.Optional(Type.Union([Pin, Type.Null()], { description: 'four digits, or null to remove the PIN' })),
    avatar: Type.Optional(Avatar),
    currentPin: Type.Optional({ ...Pin, description: "the profile's PIN: needed to change a PIN-protected profile" }),
    accountPassword: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'the account password: instead of currentPin, or to loosen a kids profile without a PIN' })),
  },
  { ...closed, minProperties: 1 },
);

/** `POST /v1/profiles/:id/verify-pin` body. */
export const PinBody = Type.Object({ pin: Pin }, closed);

const Playback = Type.Object({
  hls: Type.String({ format: 'uri', description: 'HLS multivariant playlist at the edge' }),
  dash: Type.String({ format: 'uri', description: 'DASH MPD at the edge' }),
});

const Rung = Type.Object(
  {
    name: Type.String({ pattern: '^[A-Za-z0-9_-]{1,32}$' }),
    height: Type.Integer({ minimum: 64, maximum: 4320, multipleOf: 2 }),
    videoBitrateKbps: Type.Integer({ minimum: 50, maximum: 50_000 }),
  },
  closed,
);

const Policy = Type.Union([Type.Literal('public'), Type.Literal('signed')]);

/** `POST /v1/live-streams` body. */
export const CreateLiveStreamBody = Type.Object(
  {
    title: Type.String({ minLength: 1, maxLength: 200 }),
    passthrough: Type.Optional(Type.Boolean({ description: 'also offer the source rendition untouched' })),
    ladder: Type.Optional(Type.Array(Rung, { minItems: 1, maxItems: 6, description: 'overrides the platform ladder' })),
    playbackPolicy: Type.Optional(Policy),
  },
  closed,
);

/** A live stream; `streamKey` only on create and rotate-key. */
export const LiveStreamSchema = Type.Object({
  id: Type.String({ format: 'uuid' }),
  title: Type.String(),
  streamKey: Type.Optional(Type.String({ description: 'only on create and rotate-key' })),
  streamKeyPrefix: Type.String(),
  rtmpUrl: Type.String({ format: 'uri', description: 'OBS "Server"' }),
  whipUrl: Type.String({ format: 'uri' }),
  playback: Playback,
  status: Type.Union([Type.Literal('idle'), Type.Literal('live'), Type.Literal('ended')]),
  enabled: Type.Boolean(),
  passthrough: Type.Boolean(),
  ladder: Type.Union([Type.Array(Rung), Type.Null()]),
  playbackPolicy: Policy,
  recentAssetIds: Type.Array(Type.String({ format: 'uuid' }), { description: 'recordings, newest first' }),
  createdAt: IsoDate,
  updatedAt: IsoDate,
  lastLiveAt: Type.Union([IsoDate, Type.Null()]),
  lastError: Type.Union([
    Type.Object({ code: Type.String(), message: Type.String(), at: IsoDate }, { description: 'why the last live session failed' }),
    Type.Null(),
  ]),
  ingest: Type.Union([
    Type.Object(
      { bitrateKbps: Type.Number(), fps: Type.Number(), droppedFrames: Type.Integer(), at: IsoDate },
      { description: 'what the publisher is sending now (updated every few seconds while live)' },
    ),
    Type.Null(),
  ]),
});

/** Cursor pagination query. */
export const PageQuery = Type.Object(
  {
    limit: Type.Integer({ minimum: 1, maximum: 100, default: 20 }),
    cursor: Type.Optional(Type.String({ maxLength: 500, description: 'nextCursor of the previous page' })),
  },
  closed,
);

/** One page of live streams. */
export const LiveStreamPage = Type.Object({
  items: Type.Array(LiveStreamSchema),
  nextCursor: Type.Union([Type.String(), Type.Null()]),
});

const AssetStatus = Type.Union([Type.Literal('preparing'), Type.Literal('ready'), Type.Literal('errored')]);

/** An asset with its VOD playback URLs. */
export const AssetSchema = Type.Object({
  id: Type.String({ format: 'uuid' }),
  title: Type.String(),
  status: AssetStatus,
  duration: Type.Union([Type.Number(), Type.Null()], { description: 'seconds' }),
  liveStreamId: Type.Union([Type.String({ format: 'uuid' }), Type.Null()]),
  playback: Playback,
  createdAt: IsoDate,
});

/** Internal: a status report from the live pipeline. */
export const StreamStatusBody = Type.Object(
  { status: Type.Union([Type.Literal('idle'), Type.Literal('live'), Type.Literal('ended')]) },
  closed,
);

/** Internal: the stream key to authorize. */
export const PublishAuthorizationBody = Type.Object({ streamKey: Type.String({ maxLength: 200 }) }, closed);

/** Internal: the authorization answer (contract.ts PublishAuthorization). */
export const PublishAuthorizationSchema = Type.Union([
  Type.Object({
    ok: Type.Literal(true),
    streamId: Type.String(),
    accountId: Type.String(),
    ladder: Type.Optional(Type.Array(Rung)),
    passthrough: Type.Boolean(),
    playbackPolicy: Policy,
  }),
  Type.Object({
    ok: Type.Literal(false),
    reason: Type.Union([Type.Literal('unknown-key'), Type.Literal('disabled'), Type.Literal('already-live'), Type.Literal('quota-live-sessions')]),
  }),
]);

/** Internal: a recording to register as an asset. */
export const RecordingAssetBody = Type.Object(
  {
    liveStreamId: Type.String({ maxLength: 100 }),
    id: Type.Optional(Type.String({ format: 'uuid' })),
    title: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    status: Type.Optional(AssetStatus),
    durationSeconds: Type.Optional(Type.Number({ minimum: 0 })),
  },
  closed,
);

/** Internal: an asset processing update. */
export const AssetStatusBody = Type.Object(
  { status: AssetStatus, durationSeconds: Type.Optional(Type.Number({ minimum: 0 })) },
  closed,
);
