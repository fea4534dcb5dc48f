import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { Config } from '../../platform/index.js';
import { resolveViewer, type Viewer } from '../accounts/viewer.js';
import type { ProfileService } from '../accounts/profiles.js';
import type { TokenService } from '../accounts/tokens.js';
import type { TitleView, TitleViewerState } from '../contract.js';
import { IdParams, bearer, errorResponses } from '../http/common-schemas.js';
import { conflict } from '../http/http-errors.js';
import { toOrigin } from '../playback/urls.js';
import type { BrowseService } from './browse.js';
import type { CollectionService } from './collections.js';
import {
  BrowsePage, BrowseQuery, BrowseRowQuery, BrowseRowSchema, CollectionSchema, CreateCollectionBody, CreateGenreBody, CreateTitleBody,
  GenreSchema, SearchPage, SearchQuery, TitleListQuery, TitlePage, TitleQuery, TitleSchema, UpdateCollectionBody, UpdateTitleBody,
} from './schemas.js';
import type { CatalogSearch } from './search.js';
import type { TitleService } from './titles.js';
import { escapeHtml } from '../http/html.js';

/** What the catalog routes are built from. */
export interface CatalogRouteDeps {
  config: Config;
  tokens: Pick<TokenService, 'authenticate'>;
  profiles: Pick<ProfileService, 'get'>;
  titles: TitleService;
  search: CatalogSearch;
  collections: CollectionService;
  browse: BrowseService;
  /** The engagement domain's per-profile state of titles (liked, rated, listed, progress). */
  viewerStates?: (profileId: string, titleIds: readonly string[]) => Promise<Map<string, TitleViewerState>>;
}

const Html = Type.String({ description: 'text/html' });

/** Titles, genres, search, collections and browse rows. */
export const catalogRoutes: FastifyPluginAsyncTypebox<CatalogRouteDeps> = async (app, deps) => {
  const { titles, collections, browse, config } = deps;
  const tags = ['catalog'];
  const viewerOf = (req: Parameters<typeof resolveViewer>[1]) => resolveViewer(deps, req);
  /** Adds what the active profile did with each title. */
  const withState = async <T extends TitleView>(viewer: Viewer, items: T[]): Promise<T[]> => {
    if (!viewer.profile || !deps.viewerStates || items.length === 0) return items;
    const all = items.flatMap((t) => [t, ...(t.seasons ?? []).flatMap((s) => s.episodes)]);
    const states = await deps.viewerStates(viewer.profile.id, all.map((t) => t.id));
    for (const t of all) t.viewer = states.get(t.id);
    return items;
  };
  const shareUrl = (id: string) => `${toOrigin('http', config.publicHost, config.ports.api)}/share/titles/${encodeURIComponent(id)}`;

  app.post(
    '/v1/titles',
    {
      schema: {
        tags, summary: 'Create a title (a draft until published): a movie, a series, or an episode of your series', security: bearer,
        description: 'Genres come from GET /v1/genres (400 UNKNOWN_GENRE); an episode needs seriesId, season and episode (409 EPISODE_EXISTS for a taken number).',
        body: CreateTitleBody, response: { 201: TitleSchema, ...errorResponses },
      },
    },
    async (req, reply) => reply.status(201).send(await titles.create(await viewerOf(req), req.body)),
  );

  app.get(
    '/v1/titles',
    {
      schema: {
        tags, summary: 'Browse the catalog the active profile may see, newest first, with filters',
        description: 'Needs the active profile (X-Profile-Id or profileId; 400 PROFILE_REQUIRED). `owner=me` lists your own titles instead, drafts included. Episodes appear only with type=episode.',
        security: bearer, querystring: TitleListQuery, response: { 200: TitlePage, ...errorResponses },
      },
    },
    async (req) => {
      const viewer = await viewerOf(req);
      const page = await titles.list(viewer, req.query);
      return { ...page, items: await withState(viewer, page.items) };
    },
  );

  app.get(
    '/v1/titles/:id',
    {
      schema: {
        tags, summary: 'One title; a series with its episodes by season',
        description: 'With a profile, a title above its maturity ceiling (or unpublished) is 404. Without one, only your own titles.',
        security: bearer, params: IdParams, querystring: TitleQuery, response: { 200: TitleSchema, ...errorResponses },
      },
    },
    async (req) => {
      const viewer = await viewerOf(req);
      const [title] = await withState(viewer, [await titles.get(viewer, req.params.id)]);
      return title;
    },
  );

  app.patch(
    '/v1/titles/:id',
    { schema: { tags, summary: 'Change a title of yours', security: bearer, params: IdParams, body: UpdateTitleBody, response: { 200: TitleSchema, ...errorResponses } } },
    async (req) => titles.update(await viewerOf(req), req.params.id, req.body),
  );

  app.delete(
    '/v1/titles/:id',
    { schema: { tags, summary: 'Delete a title of yours (a series with its episodes)', security: bearer, params: IdParams, response: { 204: Type.Null({ description: 'deleted' }), ...errorResponses } } },
    async (req, reply) => {
      await titles.delete(await viewerOf(req), req.params.id);
      return reply.status(204).send(null);
    },
  );

  app.post(
    '/v1/titles/:id/publish',
    {
      schema: {
        tags, summary: 'Publish a title to the catalog', security: bearer, params: IdParams,
        description: 'A movie or episode needs its asset `ready` (409 ASSET_REQUIRED, ASSET_NOT_READY); it takes the asset\'s duration and poster.',
        response: { 200: TitleSchema, ...errorResponses },
      },
    },
    async (req) => titles.publish(await viewerOf(req), req.params.id),
  );

  app.post(
    '/v1/titles/:id/unpublish',
    { schema: { tags, summary: 'Take a title out of the catalog', security: bearer, params: IdParams, response: { 200: TitleSchema, ...errorResponses } } },
    async (req) => titles.unpublish(await viewerOf(req), req.params.id),
  );

  app.get(
    '/v1/genres',
    { schema: { tags, summary: 'The managed genre list', response: { 200: Type.Object({ items: Type.Array(GenreSchema) }), ...errorResponses } } },
    async () => ({ items: await titles.genres() }),
  );

  app.post(
    '/v1/genres',
    { schema: { tags, summary: 'Add a genre (admin)', security: bearer, body: CreateGenreBody, response: { 201: GenreSchema, ...errorResponses } } },
    async (req, reply) => reply.status(201).send(await titles.addGenre(await viewerOf(req), req.body)),
  );

  app.get(
    '/v1/search',
    {
      schema: {
        tags, summary: 'Search titles by name, cast, tags, genres and description (typos and prefixes too)',
        description: 'websearch syntax ("quoted phrase", -exclude); the last word matches as a prefix; ranked by relevance, then popularity; <mark> highlights.',
        security: bearer, querystring: SearchQuery, response: { 200: SearchPage, ...errorResponses },
      },
    },
    async (req) => {
      const viewer = await viewerOf(req);
      const page = await deps.search.search(viewer, req.query.q, req.query.limit, req.query.cursor);
      await withState(viewer, page.items.map((h) => h.title));
      return page;
    },
  );

  app.get(
    '/v1/browse',
    {
      schema: {
        tags, summary: "The profile's home rows: continue watching, trending, new, editors' picks, because you watched, genres",
        security: bearer, querystring: BrowseQuery, response: { 200: BrowsePage, ...errorResponses },
      },
    },
    async (req) => {
      const viewer = await viewerOf(req);
      const page = await browse.browse(viewer, req.query);
      await withState(viewer, page.rows.flatMap((r) => r.items));
      return page;
    },
  );

  app.get(
    '/v1/browse/rows/:rowId',
    {
      schema: {
        tags, summary: 'More of one browse row', security: bearer,
        params: Type.Object({ rowId: Type.String({ maxLength: 100 }) }, { additionalProperties: false }),
        querystring: BrowseRowQuery, response: { 200: BrowseRowSchema, ...errorResponses },
      },
    },
    async (req) => {
      const viewer = await viewerOf(req);
      const row = await browse.rowPage(viewer, req.params.rowId, req.query.limit, req.query.cursor);
      await withState(viewer, row.items);
      return row;
    },
  );

  app.get(
    '/v1/collections',
    { schema: { tags, summary: "Editors' collections, in row order", response: { 200: Type.Object({ items: Type.Array(CollectionSchema) }), ...errorResponses } } },
    async () => ({ items: await collections.list() }),
  );

  app.post(
    '/v1/collections',
    { schema: { tags, summary: "Create an editors' collection (admin)", security: bearer, body: CreateCollectionBody, response: { 201: CollectionSchema, ...errorResponses } } },
    async (req, reply) => reply.status(201).send(await collections.create(await viewerOf(req), req.body)),
  );

  app.get(
    '/v1/collections/:id',
    { schema: { tags, summary: 'One collection', params: IdParams, response: { 200: CollectionSchema, ...errorResponses } } },
    async (req) => collections.get(req.params.id),
  );

  app.patch(
    '/v1/collections/:id',
    { schema: { tags, summary: 'Change a collection (admin); titleIds replaces the list', security: bearer, params: IdParams, body: UpdateCollectionBody, response: { 200: CollectionSchema, ...errorResponses } } },
    async (req) => collections.update(await viewerOf(req), req.params.id, req.body),
  );

  app.delete(
    '/v1/collections/:id',
    { schema: { tags, summary: 'Delete a collection (admin)', security: bearer, params: IdParams, response: { 204: Type.Null({ description: 'deleted' }), ...errorResponses } } },
    async (req, reply) => {
      await collections.delete(await viewerOf(req), req.params.id);
      return reply.status(204).send(null);
    },
  );

  app.get(
    '/v1/titles/:id/share',
    {
      schema: {
        tags, summary: 'A public link to a published title, with its Open Graph description', security: bearer, params: IdParams, querystring: TitleQuery,
        response: { 200: Type.Object({ url: Type.String({ format: 'uri' }), title: Type.String(), description: Type.String(), image: Type.Union([Type.String(), Type.Null()]) }), ...errorResponses },
      },
    },
    async (req) => {
      const viewer = await viewerOf(req);
      const t = await titles.get(viewer, req.params.id);
      if (t.status !== 'published') throw conflict('TITLE_NOT_PUBLISHED', 'only a published title has a public page');
      return { url: shareUrl(t.id), title: t.name, description: t.description.slice(0, 300), image: t.poster };
    },
  );

  app.get(
    '/share/titles/:id',
    {
      schema: {
        tags, summary: 'Public page of a published title (Open Graph tags for link previews)', params: IdParams,
        response: { 200: Html, ...errorResponses },
      },
    },
    async (req, reply) => {
      const t = await titles.publicRow(req.params.id);
      const meta: [string, string][] = [
        ['og:type', t.type === 'series' ? 'video.tv_show' : t.type === 'episode' ? 'video.episode' : 'video.movie'],
        ['og:title', t.name],
        ['og:description', t.description.slice(0, 300)],
        ['og:url', shareUrl(t.id)],
        ...(t.poster ? ([['og:image', t.poster]] as [string, string][]) : []),
        ...(t.releaseDate ? ([['video:release_date', t.releaseDate]] as [string, string][]) : []),
      ];
      const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(t.name)}</title>
<meta name="description" content="${escapeHtml(t.description.slice(0, 300))}">
${meta.map(([k, v]) => `<meta property="${k}" content="${escapeHtml(v)}">`).join('\n')}
<meta name="twitter:card" content="${t.poster ? 'summary_large_image' : 'summary'}">
</head><body><h1>${escapeHtml(t.name)}</h1><p>${escapeHtml(t.description)}</p><p>Rated ${escapeHtml(t.maturityRating)}${t.year ? ` · ${t.year}` : ''}</p></body></html>`;
      return reply.type('text/html; charset=utf-8').header('cache-control', 'public, max-age=300').send(html);
    },
  );
};
