import type { FastifyRequest } from 'fastify';
import type { AccountRole, MaturityRating } from '../contract.js';
import { AppError } from '../../platform/index.js';
import { badRequest } from '../http/http-errors.js';
import type { ProfileService } from './profiles.js';
import type { TokenService } from './tokens.js';

/** Who reads the catalog: the account, its role and (on viewer reads) the active profile and its ceiling. */
export interface Viewer {
  accountId: string;
  role: AccountRole;
  profile?: { id: string; maturityCeiling: MaturityRating };
}

/** Header naming the active profile of a viewer request (or the `profileId` query parameter). */
export const PROFILE_HEADER = 'x-profile-id';

/**
 * The caller of a request: its access token (401 without one) and the active profile from
 * X-Profile-Id or `profileId`, checked to be one of the account's profiles (404 otherwise; 400
 * PROFILE_MISMATCH when header and query disagree). `pathProfileId` is a profile named by the URL
 * (/v1/profiles/:id/...), which then is the active one. Parental controls: a PIN-protected profile
 * is only active through a session token opened with its PIN (403 PIN_REQUIRED otherwise), and a
 * session token is bound to its profile (403 PROFILE_SESSION for any other).
 */
export async function resolveViewer(
  deps: { tokens: Pick<TokenService, 'authenticate'>; profiles: Pick<ProfileService, 'get'> },
  req: Pick<FastifyRequest, 'headers' | 'query'>,
  pathProfileId?: string,
): Promise<Viewer> {
  const claims = deps.tokens.authenticate(req.headers.authorization);
  const header = req.headers[PROFILE_HEADER];
  const fromHeader = typeof header === 'string' && header !== '' ? header : undefined;
  const fromQuery = (req.query as { profileId?: string } | undefined)?.profileId;
  const named = [pathProfileId, fromHeader, fromQuery].filter((v): v is string => v !== undefined);
  if (new Set(named).size > 1) throw badRequest('PROFILE_MISMATCH', 'the profile in the path, X-Profile-Id and profileId disagree');
  const viewer: Viewer = { accountId: claims.accountId, role: claims.role };
  if (claims.profileId && named.some((id) => id !== claims.profileId)) {
    throw new AppError(403, 'PROFILE_SESSION', 'this token is a session of another profile: open a session for this one (POST /v1/profiles/:id/session)');
  }
  const active = claims.profileId ?? named[0];
  if (active) {
    const profile = await deps.profiles.get(claims.accountId, active);
    if (profile.hasPin && claims.profileId !== profile.id) {
      throw new AppError(403, 'PIN_REQUIRED', 'this profile is PIN-protected: open a session with its PIN (POST /v1/profiles/:id/session)');
    }
    viewer.profile = { id: profile.id, maturityCeiling: profile.maturityCeiling };
  }
  return viewer;
}
