/** TypeBox schemas of assets; the shared ones are in ../http/common-schemas.ts. */
import { Type } from 'typebox';
import { closed, IsoDate } from '../http/common-schemas.js';
import { Playback } from '../streams/schemas.js';

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
