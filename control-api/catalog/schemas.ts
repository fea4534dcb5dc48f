/** TypeBox schemas of the catalog: titles, genres, collections, search and browse. */
import { Type } from 'typebox';
import { Rating } from '../accounts/schemas.js';
import { closed, IsoDate, Nullable } from '../http/common-schemas.js';

const TitleType = Type.Union([Type.Literal('movie'), Type.Literal('series'), Type.Literal('episode')]);
const Slug = Type.String({ pattern: '^[a-z0-9]+(-[a-z0-9]+)*$', maxLength: 40 });
/** BCP 47 language tag, e.g. en, pt-BR. */
const Language = Type.String({ pattern: '^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$', maxLength: 35 });
const Day = Type.String({ format: 'date', description: 'YYYY-MM-DD' });
const Uuid = Type.String({ format: 'uuid' });

/** What the active profile did with a title (only with a profile). */
const ViewerState = Type.Object({
  liked: Type.Boolean(),
  rating: Nullable(Type.Integer({ minimum: 1, maximum: 5 })),
  inWatchlist: Type.Boolean(),
  progress: Nullable(Type.Object({ positionSeconds: Type.Number(), finished: Type.Boolean(), updatedAt: IsoDate })),
});

const titleFields = {
  id: Uuid,
  type: TitleType,
  name: Type.String(),
  description: Type.String(),
  genres: Type.Array(Type.String()),
  releaseDate: Nullable(Day),
  year: Nullable(Type.Integer()),
  maturityRating: Rating,
  languages: Type.Array(Type.String()),
  subtitleLanguages: Type.Array(Type.String()),
  cast: Type.Array(Type.String()),
  tags: Type.Array(Type.String()),
  assetId: Nullable(Uuid),
  seriesId: Nullable(Uuid),
  season: Nullable(Type.Integer()),
  episode: Nullable(Type.Integer()),
  downloadable: Type.Boolean(),
  requiredPlan: Nullable(Type.String()),
  status: Type.Union([Type.Literal('draft'), Type.Literal('published')]),
  publishedAt: Nullable(IsoDate),
  durationSeconds: Nullable(Type.Number()),
  poster: Nullable(Type.String({ description: 'poster image at the edge, from the asset' })),
  likes: Type.Integer(),
  rating: Type.Object({ average: Nullable(Type.Number()), count: Type.Integer() }),
  createdAt: IsoDate,
  updatedAt: IsoDate,
};

/** A title as lists show it. */
export const TitleSummarySchema = Type.Object({ ...titleFields, viewer: Type.Optional(ViewerState) });

/** One title; a series also lists its seasons' episodes in order (those the profile may see). */
export const TitleSchema = Type.Object({
  ...titleFields,
  viewer: Type.Optional(ViewerState),
  seasons: Type.Optional(Type.Array(Type.Object({ season: Type.Integer(), episodes: Type.Array(TitleSummarySchema) }))),
});

/** A page of titles. */
export const TitlePage = Type.Object({ items: Type.Array(TitleSummarySchema), nextCursor: Nullable(Type.String()) });

const editable = {
  name: Type.String({ minLength: 1, maxLength: 300 }),
  description: Type.String({ maxLength: 10_000 }),
  genres: Type.Array(Slug, { maxItems: 10, uniqueItems: true }),
  releaseDate: Nullable(Day),
  maturityRating: Rating,
  languages: Type.Array(Language, { maxItems: 20, uniqueItems: true }),
  subtitleLanguages: Type.Array(Language, { maxItems: 50, uniqueItems: true }),
  cast: Type.Array(Type.String({ minLength: 1, maxLength: 200 }), { maxItems: 100 }),
  tags: Type.Array(Type.String({ minLength: 1, maxLength: 50 }), { maxItems: 50 }),
  assetId: Nullable(Uuid),
  season: Nullable(Type.Integer({ minimum: 0, maximum: 1000 })),
  episode: Nullable(Type.Integer({ minimum: 0, maximum: 100_000 })),
  downloadable: Type.Boolean(),
  requiredPlan: Nullable(Slug),
};

/** POST /v1/titles. */
export const CreateTitleBody = Type.Object(
  {
    type: TitleType,
    name: editable.name,
    maturityRating: editable.maturityRating,
    description: Type.Optional(editable.description),
    genres: Type.Optional(editable.genres),
    releaseDate: Type.Optional(editable.releaseDate),
    languages: Type.Optional(editable.languages),
    subtitleLanguages: Type.Optional(editable.subtitleLanguages),
    cast: Type.Optional(editable.cast),
    tags: Type.Optional(editable.tags),
    assetId: Type.Optional(editable.assetId),
    seriesId: Type.Optional(Nullable(Uuid)),
    season: Type.Optional(editable.season),
    episode: Type.Optional(editable.episode),
    downloadable: Type.Optional(editable.downloadable),
    requiredPlan: Type.Optional(editable.requiredPlan),
  },
  closed,
);

/** PATCH /v1/titles/:id (type and series are fixed at creation). */
export const UpdateTitleBody = Type.Object(
  Object.fromEntries(Object.entries(editable).map(([k, v]) => [k, Type.Optional(v)])) as { [K in keyof typeof editable]: ReturnType<typeof Type.Optional<(typeof editable)[K]>> },
  { ...closed, minProperties: 1 },
);

/** The active profile of a viewer read, when not sent as the X-Profile-Id header. */
export const profileQuery = { profileId: Type.Optional(Type.String({ maxLength: 100, description: 'the active profile (or the X-Profile-Id header)' })) };

/** GET /v1/titles/:id. */
export const TitleQuery = Type.Object(profileQuery, closed);

/** GET /v1/titles: the published catalog the profile may see, newest first; `owner=me` lists your own titles (drafts too). */
export const TitleListQuery = Type.Object(
  {
    ...profileQuery,
    owner: Type.Optional(Type.Literal('me')),
    type: Type.Optional(TitleType),
    genre: Type.Optional(Slug),
    year: Type.Optional(Type.Integer({ minimum: 1800, maximum: 3000 })),
    yearFrom: Type.Optional(Type.Integer({ minimum: 1800, maximum: 3000 })),
    yearTo: Type.Optional(Type.Integer({ minimum: 1800, maximum: 3000 })),
    rating: Type.Optional(Rating),
    language: Type.Optional(Language),
    limit: Type.Integer({ minimum: 1, maximum: 100, default: 20 }),
    cursor: Type.Optional(Type.String({ maxLength: 500 })),
  },
  closed,
);

/** A managed genre. */
export const GenreSchema = Type.Object({ slug: Type.String(), name: Type.String() });

/** POST /v1/genres (admin). */
export const CreateGenreBody = Type.Object({ slug: Slug, name: Type.String({ minLength: 1, maxLength: 60 }) }, closed);

/** GET /v1/search. */
export const SearchQuery = Type.Object(
  {
    ...profileQuery,
    q: Type.String({ minLength: 1, maxLength: 200 }),
    limit: Type.Integer({ minimum: 1, maximum: 50, default: 20 }),
    cursor: Type.Optional(Type.String({ maxLength: 100 })),
  },
  closed,
);

/** One search hit: the title and its name and description with the matched words in <mark>. */
export const SearchPage = Type.Object({
  items: Type.Array(
    Type.Object({
      title: TitleSummarySchema,
      score: Type.Number(),
      highlights: Type.Object({ name: Type.String(), description: Type.String() }),
    }),
  ),
  nextCursor: Nullable(Type.String()),
});

/** An editors' collection (a browse row). */
export const CollectionSchema = Type.Object({
  id: Uuid,
  name: Type.String(),
  description: Type.String(),
  position: Type.Integer(),
  titleIds: Type.Array(Uuid),
  createdAt: IsoDate,
  updatedAt: IsoDate,
});

/** POST /v1/collections (admin). */
export const CreateCollectionBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 120 }),
    description: Type.Optional(Type.String({ maxLength: 2000 })),
    position: Type.Optional(Type.Integer({ minimum: 0, maximum: 1000 })),
    titleIds: Type.Array(Uuid, { maxItems: 200, uniqueItems: true }),
  },
  closed,
);

/** PATCH /v1/collections/:id (admin). */
export const UpdateCollectionBody = Type.Object(
  {
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 120 })),
    description: Type.Optional(Type.String({ maxLength: 2000 })),
    position: Type.Optional(Type.Integer({ minimum: 0, maximum: 1000 })),
    titleIds: Type.Optional(Type.Array(Uuid, { maxItems: 200, uniqueItems: true })),
  },
  { ...closed, minProperties: 1 },
);

/** GET /v1/browse. */
export const BrowseQuery = Type.Object(
  {
    ...profileQuery,
    rows: Type.Integer({ minimum: 1, maximum: 30, default: 10, description: 'rows per page' }),
    items: Type.Integer({ minimum: 1, maximum: 50, default: 20, description: 'items per row' }),
    cursor: Type.Optional(Type.String({ maxLength: 100 })),
  },
  closed,
);

/** GET /v1/browse/rows/:rowId: more of one row. */
export const BrowseRowQuery = Type.Object(
  {
    ...profileQuery,
    limit: Type.Integer({ minimum: 1, maximum: 50, default: 20 }),
    cursor: Type.Optional(Type.String({ maxLength: 100 })),
  },
  closed,
);

/** A browse row. */
export const BrowseRowSchema = Type.Object({
  id: Type.String({ description: 'stable row id, e.g. trending, genre:drama, collection:{id}, because:{titleId}' }),
  title: Type.String(),
  items: Type.Array(TitleSummarySchema),
  nextCursor: Nullable(Type.String({ description: 'for GET /v1/browse/rows/{id}' })),
});

/** GET /v1/browse. */
export const BrowsePage = Type.Object({ rows: Type.Array(BrowseRowSchema), nextCursor: Nullable(Type.String()) });
