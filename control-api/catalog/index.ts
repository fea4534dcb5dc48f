/**
 * The catalog domain's face: titles (movies, series, episodes), genres, editors' collections, search
 * and browse rows. Other domains use `Catalog` (what a title is and who may see it), never its tables.
 */
import type { LiveState, Sql } from '../../platform/index.js';
import type { TitleView } from '../contract.js';
import { BrowseService, type BrowseSignals } from './browse.js';
import { CollectionService } from './collections.js';
import { CatalogSearch } from './search.js';
import { TitleService, type AssetLookup } from './titles.js';

export { catalogMigrations } from './migrations.js';
export { catalogRoutes, type CatalogRouteDeps } from './routes.js';
export { maturityRank, requireProfile, TitleService, type TitleRow, type Viewer } from './titles.js';
export type { BrowseSignals } from './browse.js';

/** What other domains may ask of the catalog. */
export type Catalog = Pick<
  TitleService,
  'visibleRow' | 'visibleByIds' | 'rowsByIds' | 'nextEpisode' | 'addView' | 'lockForCounters' | 'addToCounters' | 'recommendable' | 'seriesOf' | 'popularIds'
>;

/** The catalog's services. */
export interface CatalogDomain {
  titles: TitleService;
  search: CatalogSearch;
  collections: CollectionService;
  browse: BrowseService;
}

/**
 * Builds the catalog over its ports. `signals` (continue watching, trending) come from the engagement
 * domain, which itself reads the catalog, so they are asked for lazily.
 */
export function createCatalog(deps: {
  sql: Sql;
  liveState: LiveState;
  assets: AssetLookup;
  signals: BrowseSignals;
  onFirstPublish?: (title: TitleView) => Promise<void>;
}): CatalogDomain {
  const changed = (): Promise<void> => browse.catalogChanged();
  const titles = new TitleService({ sql: deps.sql, assets: deps.assets, onChange: changed, onFirstPublish: deps.onFirstPublish });
  const collections = new CollectionService({ sql: deps.sql, onChange: changed });
  const browse = new BrowseService({ sql: deps.sql, liveState: deps.liveState, titles, collections, signals: deps.signals });
  return { titles, search: new CatalogSearch({ sql: deps.sql }), collections, browse };
}
