import crypto from 'node:crypto';
import { AppError, isUniqueViolation, type Config, type LiveState, type Sql } from '../../platform/index.js';
import type { AccountRole, AccountView, TokenPair } from '../contract.js';
import { badRequest, conflict } from '../http/http-errors.js';
import { DummyHash, hashSecret, normaliseEmail, passwordWeakness, verifySecret } from './passwords.js';
import { insertProfile } from './profiles.js';
import { FixedWindowLimiter, LoginThrottle } from './rate-limit.js';
import type { TokenService } from './tokens.js';

interface AccountRow {
  id: string;
  email: string;
  password_hash: string;
  display_name: string;
  role: AccountRole;
  created_at: Date;
}

function toView(row: AccountRow): AccountView {
  return { id: row.id, email: row.email, displayName: row.display_name, role: row.role, createdAt: new Date(row.created_at).toISOString() };
}

/** Sign-up and login. */
export class AccountService {
  private readonly dummy = new DummyHash();
  private readonly throttle: LoginThrottle;
  private readonly signups: FixedWindowLimiter;

  constructor(
    private readonly deps: { sql: Sql; liveState: LiveState; tokens: TokenService },
    private readonly config: Config,
  ) {
    this.signups = new FixedWindowLimiter(
      { liveState: deps.liveState },
      { prefix: 'control-api:signup', max: config.auth.signupMaxPerIp, windowSeconds: config.auth.signupWindowSeconds },
    );
    this.throttle = new LoginThrottle(
      { liveState: deps.liveState },
      {
        prefix: 'control-api:login',
        freeFailures: config.auth.loginMaxAttempts,
        // An address trying many accounts (password spraying) waits out the window sooner or later.
        ipFailures: 10 * config.auth.loginMaxAttempts,
        windowSeconds: config.auth.loginWindowSeconds,
      },
    );
  }

  /**
   * Creates a creator account with one default profile; 409 EMAIL_TAKEN, 400 WEAK_PASSWORD, 429 past
   * SIGNUP_MAX_PER_IP sign-ups from one address (checked before the password is hashed: argon2 costs
   * 19 MiB and tens of milliseconds, which a flood must not get for free).
   */
  async create(input: { email: string; password: string; displayName?: string }, clientIp = 'unknown'): Promise<AccountView> {
    await this.signups.hit([`ip:${clientIp}`], 'sign-up');
    const email = normaliseEmail(input.email);
    const weakness = passwordWeakness(input.password, email);
    if (weakness) throw badRequest('WEAK_PASSWORD', weakness);
    const displayName = input.displayName?.trim() || email.split('@')[0];
    const passwordHash = await hashSecret(input.password);
    try {
      return await this.deps.sql.tx(async (q) => {
        const [row] = await q.query<AccountRow>(
          `INSERT INTO accounts (id, email, password_hash, display_name, role) VALUES ($1, $2, $3, $4, 'creator') RETURNING *`,
          [crypto.randomUUID(), email, passwordHash, displayName],
        );
        await insertProfile(q, row.id, { name: displayName, kind: 'standard' });
        return toView(row);
      });
    } catch (err) {
      if (isUniqueViolation(err)) throw conflict('EMAIL_TAKEN', 'an account with this email already exists');
      throw err;
    }
  }

  /** The account, or undefined when it no longer exists. */
  async get(id: string): Promise<AccountView | undefined> {
    const [row] = await this.deps.sql.query<AccountRow>(`SELECT * FROM accounts WHERE id = $1`, [id]);
    return row && toView(row);
  }

  /** Checks credentials (failures throttled per account and address, and per address) and starts a refresh family. */
  async login(input: { email: string; password: string }, clientIp: string): Promise<TokenPair> {
    const email = normaliseEmail(input.email);
    const account = sha1(email);
    // Only failures count, per (account, address) and per address: the real user is never locked out
    // by someone else's guesses, and a refused attempt costs no password check and writes nothing.
    await this.throttle.check(account, clientIp);
    const [row] = await this.deps.sql.query<AccountRow>(`SELECT * FROM accounts WHERE email = $1`, [email]);
    if (!row) {
      await this.dummy.burn(input.password);
      await this.throttle.failed(account, clientIp);
      throw invalidCredentials();
    }
    if (!(await verifySecret(row.password_hash, input.password))) {
      await this.throttle.failed(account, clientIp);
      throw invalidCredentials();
    }
    await this.throttle.succeeded(account, clientIp);
    let role = row.role;
    if (role !== 'admin' && this.config.auth.adminEmails.includes(row.email)) {
      // ADMIN_EMAILS bootstraps administrators: the account is promoted at its next login.
      await this.deps.sql.query(`UPDATE accounts SET role = 'admin' WHERE id = $1`, [row.id]);
      role = 'admin';
    }
    return this.deps.tokens.issue({ accountId: row.id, role });
  }
}

/** Keeps raw email addresses out of LiveState keys (Redis MONITOR, dumps). */
function sha1(s: string): string {
  return crypto.createHash('sha1').update(s).digest('base64url');
}

/** One answer for unknown email and wrong password, so the response does not reveal which accounts exist. */
function invalidCredentials(): AppError {
  return new AppError(401, 'INVALID_CREDENTIALS', 'email or password is incorrect');
}
