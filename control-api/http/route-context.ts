import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyBaseLogger, FastifyInstance, RawReplyDefaultExpression, RawRequestDefaultExpression, RawServerDefault } from 'fastify';
import type { Config } from '../../platform/index.js';
import type { AccountService } from '../accounts/accounts.js';
import type { AssetService } from '../media/assets.js';
import type { UploadService } from '../media/uploads.js';
import type { LiveStreamService } from '../streams/live-streams.js';
import type { ProfileService } from '../accounts/profiles.js';
import type { TokenService } from '../accounts/tokens.js';
import type { PlaybackPolicies } from '../playback/playback-policies.js';
import type { KeyStore } from '../playback/key-store.js';
import type { CatalogDomain } from '../catalog/index.js';
import type { EngagementDomain } from '../engagement/index.js';
import type { BillingDomain } from '../billing/index.js';
import type { Entitlements } from '../playback/entitlements.js';
import type { PlaybackSessions } from '../playback/playback-sessions.js';
import type { DownloadService } from '../playback/downloads.js';

/** The fastify instance the route plugins see: TypeBox schemas type each handler's request and reply. */
export type Api = FastifyInstance<RawServerDefault, RawRequestDefaultExpression, RawReplyDefaultExpression, FastifyBaseLogger, TypeBoxTypeProvider>;

/** The domain services behind the routes (stateless over Sql/LiveState; cheap to build twice). */
export interface Services {
  accounts: AccountService;
  tokens: TokenService;
  profiles: ProfileService;
  liveStreams: LiveStreamService;
  assets: AssetService;
  uploads: UploadService;
  policies: PlaybackPolicies;
  /** Content keys (the built-in KeyProvider) for the packager and the key server. */
  keys: KeyStore;
  catalog: CatalogDomain;
  engagement: EngagementDomain;
  billing: BillingDomain;
  /** Concurrent playbacks (leases in LiveState). */
  sessions: PlaybackSessions;
  /** The one playback decision: plan, subscription, stream limit, resolution cap. */
  entitlements: Entitlements;
  /** Offline downloads: grants, licences. */
  downloads: DownloadService;
}

/** Options every route plugin receives. */
export interface RouteContext {
  services: Services;
  config: Config;
}
