/** TypeBox schemas of assets; the shared ones are in ../http/common-schemas.ts. */
import { Type } from 'typebox';
import { closed, Encryption, IsoDate, Nullable } from '../http/common-schemas.js';
import { Playback } from '../streams/schemas.js';

const AssetStatus = Type.Union([Type.Literal('preparing'), Type.Literal('ready'), Type.Literal('errored')]);

const VodTracks = Type.Object({
  video: Type.Array(
    Type.Object({
      name: Type.String(), width: Type.Integer(), height: Type.Integer(), bandwidth: Type.Integer(),
      averageBandwidth: Type.Optional(Type.Integer()), codec: Type.String(), frameRate: Type.Optional(Type.Number()),
    }),
  ),
  audio: Type.Array(Type.Object({ name: Type.String(), language: Type.String(), label: Type.String(), codec: Type.String(), channels: Type.Optional(Type.Integer()) })),
  captions: Type.Array(Type.Object({ language: Type.String(), label: Type.String() })),
});

const AssetError = Type.Object({ code: Type.String(), message: Type.String() });

/** An asset with its VOD playback URLs. */
export const AssetSchema = Type.Object({
  id: Type.String({ format: 'uuid' }),
  title: Type.String(),
  description: Nullable(Type.String()),
  status: AssetStatus,
  duration: Type.Union([Type.Number(), Type.Null()], { description: 'seconds' }),
  liveStreamId: Type.Union([Type.String({ format: 'uuid' }), Type.Null()]),
  uploadId: Nullable(Type.String({ format: 'uuid' })),
  playbackPolicy: Type.Union([Type.Literal('public'), Type.Literal('signed')]),
  encryption: Encryption,
  playback: Playback,
  tracks: Nullable(VodTracks),
  thumbnails: Nullable(Type.Object({ poster: Type.String(), sprite: Type.String(), vtt: Type.String() })),
  progress: Type.Object({ percent: Type.Integer({ minimum: 0, maximum: 100 }) }),
  playableFrom: Nullable(IsoDate),
  readyAt: Nullable(IsoDate),
  errors: Nullable(AssetError),
  createdAt: IsoDate,
});

/** A page of assets. */
export const AssetPage = Type.Object({ items: Type.Array(AssetSchema), nextCursor: Nullable(Type.String()) });

/** PATCH /v1/assets/:id. */
export const UpdateAssetBody = Type.Object(
  {
    title: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    description: Type.Optional(Nullable(Type.String({ maxLength: 5000 }))),
  },
  { ...closed, minProperties: 1 },
);

/** POST /v1/uploads: what the asset starts with. */
export const CreateUploadBody = Type.Object(
  {
    asset: Type.Object(
      {
        title: Type.String({ minLength: 1, maxLength: 200 }),
        description: Type.Optional(Type.String({ maxLength: 5000 })),
        playbackPolicy: Type.Optional(Type.Union([Type.Literal('public'), Type.Literal('signed')])),
        encryption: Type.Optional(Encryption),
      },
      closed,
    ),
  },
  closed,
);

/** A direct upload. */
export const UploadSchema = Type.Object({
  id: Type.String({ format: 'uuid' }),
  url: Type.String({ description: 'tus 1.0 endpoint authorized for this upload only (no Authorization header needed)' }),
  status: Type.Union([Type.Literal('waiting'), Type.Literal('uploading'), Type.Literal('asset_created'), Type.Literal('errored'), Type.Literal('cancelled'), Type.Literal('timed_out')]),
  assetId: Nullable(Type.String({ format: 'uuid' })),
  offset: Type.Integer({ minimum: 0, description: 'bytes received' }),
  size: Nullable(Type.Integer({ minimum: 0 })),
  expiresAt: IsoDate,
  createdAt: IsoDate,
  error: Nullable(AssetError),
});

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

/** POST /v1/assets/:id/captions. */
export const CaptionBody = Type.Object(
  {
    language: Type.String({ pattern: '^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$', description: 'BCP 47, e.g. en, fr, pt-BR' }),
    label: Type.String({ minLength: 1, maxLength: 100 }),
    format: Type.Union([Type.Literal('vtt'), Type.Literal('srt')]),
    text: Type.String({ minLength: 1, maxLength: 2 * 1024 * 1024 }),
  },
  closed,
);

/** A caption track being listed. */
export const CaptionSchema = Type.Object({
  language: Type.String(),
  label: Type.String(),
  status: Type.Literal('processing'),
  url: Type.String({ description: 'the WebVTT file at the edge' }),
});
