import crypto from 'node:crypto';
import jwt from 'jsonwebtoken';
import { AppError, type Config, type Sql } from '../../platform/index.js';
import type { AccountRole, TokenPair } from '../contract.js';
import { AuthError, forbidden } from '../http/http-errors.js';
import { sha256 } from './passwords.js';

/** Who a valid access token speaks for. */
export interface AccessClaims {
  accountId: string;
  role: AccountRole;
  /** A profile session's token is bound to that profile (`pid`): it reads as that profile only. */
  profileId?: string;
}

const ROLES: readonly string[] = ['viewer', 'creator', 'admin'];
const REFRESH_FORMAT = /^rt_[A-Za-z0-9_-]{43}$/;

/** Outcome of one refresh attempt, decided inside the transaction and acted on after it commits. */
type RefreshOutcome = { kind: 'ok'; pair: TokenPair } | { kind: 'invalid' | 'reused' | 'expired' };

/**
 * Access tokens are short-lived HS256 JWTs; refresh tokens are opaque random strings stored as SHA-256
 * hashes and rotated on every use. Each login starts a family; presenting a token that was already
 * used means it leaked (or raced), so the whole family is revoked (OAuth 2.0 Security BCP, RFC 9700 §4.14.2).
 */
export class TokenService {
  constructor(
    private readonly deps: { sql: Sql },
    private readonly config: Config['auth'],
  ) {}

  /** Signs an access token for an account. */
  signAccess(claims: AccessClaims): string {
    return jwt.sign({ role: claims.role, ...(claims.profileId ? { pid: claims.profileId } : {}) }, this.config.jwtSecret, {
      algorithm: 'HS256',
      issuer: this.config.issuer,
      audience: this.config.audience,
      subject: claims.accountId,
      expiresIn: this.config.accessTtlSeconds,
    });
  }

  /** Verifies an access token; anything but a valid, unexpired HS256 token of ours throws 401. */
  verifyAccess(token: string): AccessClaims {
    let payload: jwt.JwtPayload | string;
    try {
      // algorithms pinned: `alg: none` and algorithm-confusion tokens are rejected (RFC 8725 §3.1).
      payload = jwt.verify(token, this.config.jwtSecret, {
        algorithms: ['HS256'],
        issuer: this.config.issuer,
        audience: this.config.audience,
      });
    } catch (err) {
      const expired = err instanceof jwt.TokenExpiredError;
      throw new AuthError(expired ? 'access token expired' : 'access token invalid', 'invalid_token');
    }
    if (typeof payload === 'string' || typeof payload.sub !== 'string' || !ROLES.includes(payload.role)) {
      throw new AuthError('access token invalid', 'invalid_token');
    }
    if (payload.pid !== undefined && typeof payload.pid !== 'string') throw new AuthError('access token invalid', 'invalid_token');
    return { accountId: payload.sub, role: payload.role as AccountRole, ...(payload.pid ? { profileId: payload.pid as string } : {}) };
  }

  /** The claims of a request's `Authorization: Bearer` token; 401 without a valid one, 403 for a role not in `roles`. */
  authenticate(authorization: string | undefined, roles?: readonly AccountRole[]): AccessClaims {
    if (!authorization) throw new AuthError('this endpoint needs an access token: Authorization: Bearer <token>');
    const match = /^Bearer +([A-Za-z0-9_.~+/=-]+) *$/i.exec(authorization);
    if (!match) throw new AuthError('Authorization must be "Bearer <access token>"', 'invalid_token');
    const claims = this.verifyAccess(match[1]);
    if (roles && !roles.includes(claims.role)) throw forbidden(`this needs one of the roles: ${roles.join(', ')}`);
    return claims;
  }

  /** Starts a new refresh family (a login) and returns the first pair. */
  issue(claims: AccessClaims, q: Sql = this.deps.sql): Promise<TokenPair> {
    return this.insertPair(q, claims, crypto.randomUUID());
  }

  /** Swaps a refresh token for a new pair in the same family; reuse revokes the family. */
  async refresh(refreshToken: string): Promise<TokenPair> {
    if (!REFRESH_FORMAT.test(refreshToken)) throw invalidRefresh();
    const outcome = await this.deps.sql.tx<RefreshOutcome>(async (q) => {
      const [row] = await q.query<{
        id: string; account_id: string; family_id: string; role: AccountRole;
        expires_at: Date; used_at: Date | null; revoked_at: Date | null;
      }>(
        `SELECT t.id, t.account_id, t.family_id, a.role, t.expires_at, t.used_at, t.revoked_at
           FROM refresh_tokens t JOIN accounts a ON a.id = t.account_id
          WHERE t.token_hash = $1 FOR UPDATE OF t`,
        [sha256(refreshToken)],
      );
      if (!row) return { kind: 'invalid' };
      if (row.used_at) {
        // Committed (not thrown) so the revocation survives: throwing would roll it back.
        await q.query(`UPDATE refresh_tokens SET revoked_at = now() WHERE family_id = $1 AND revoked_at IS NULL`, [row.family_id]);
        return { kind: 'reused' };
      }
      if (row.revoked_at) return { kind: 'invalid' };
      if (new Date(row.expires_at).getTime() <= Date.now()) return { kind: 'expired' };
      await q.query(`UPDATE refresh_tokens SET used_at = now() WHERE id = $1`, [row.id]);
      const pair = await this.insertPair(q, { accountId: row.account_id, role: row.role }, row.family_id);
      return { kind: 'ok', pair };
    });
    if (outcome.kind === 'ok') return outcome.pair;
    if (outcome.kind === 'reused') {
      throw new AppError(401, 'REFRESH_TOKEN_REUSED', 'refresh token was already used; every session of this login is revoked');
    }
    if (outcome.kind === 'expired') throw new AppError(401, 'REFRESH_TOKEN_EXPIRED', 'refresh token expired; log in again');
    throw invalidRefresh();
  }

  /** Revokes the family of a refresh token (logout); unknown tokens are ignored. */
  async revoke(refreshToken: string): Promise<void> {
    if (!REFRESH_FORMAT.test(refreshToken)) return;
    await this.deps.sql.query(
      `UPDATE refresh_tokens SET revoked_at = now()
        WHERE revoked_at IS NULL AND family_id = (SELECT family_id FROM refresh_tokens WHERE token_hash = $1)`,
      [sha256(refreshToken)],
    );
  }

  private async insertPair(q: Sql, claims: AccessClaims, familyId: string): Promise<TokenPair> {
    const refreshToken = `rt_${crypto.randomBytes(32).toString('base64url')}`;
    await q.query(
      `INSERT INTO refresh_tokens (id, account_id, family_id, token_hash, expires_at) VALUES ($1, $2, $3, $4, $5)`,
      [crypto.randomUUID(), claims.accountId, familyId, sha256(refreshToken), new Date(Date.now() + this.config.refreshTtlSeconds * 1000)],
    );
    return { accessToken: this.signAccess(claims), refreshToken, expiresIn: this.config.accessTtlSeconds, tokenType: 'Bearer' };
  }
}

function invalidRefresh(): AppError {
  return new AppError(401, 'INVALID_REFRESH_TOKEN', 'refresh token is invalid or revoked');
}
