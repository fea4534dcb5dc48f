/** TypeBox schemas of live streams and the internal live-pipeline calls; the shared ones are in ../http/common-schemas.ts. */
import { Type } from 'typebox';
import { closed, Encryption, IsoDate } from '../http/common-schemas.js';

export const Playback = Type.Object({
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
    encryption: Type.Optional(Encryption),
    keyRotationSegments: Type.Optional(Type.Integer({ minimum: 0, maximum: 100000, description: 'encrypted streams: a new key every this many segments (0: one key per session; default KEY_ROTATION_SEGMENTS)' })),
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
  encryption: Encryption,
  keyRotationSegments: Type.Integer({ minimum: 0 }),
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

/** One page of live streams. */
export const LiveStreamPage = Type.Object({
  items: Type.Array(LiveStreamSchema),
  nextCursor: Type.Union([Type.String(), Type.Null()]),
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
    encryption: Type.Optional(Type.Object({ scheme: Type.Union([Type.Literal('cbcs'), Type.Literal('cenc')]), licenseUrl: Type.String(), rotationSegments: Type.Integer({ minimum: 0 }) })),
  }),
  Type.Object({
    ok: Type.Literal(false),
    reason: Type.Union([Type.Literal('unknown-key'), Type.Literal('disabled'), Type.Literal('already-live'), Type.Literal('quota-live-sessions')]),
  }),
]);
