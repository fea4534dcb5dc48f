import crypto from 'node:crypto';
import { AppError, type Config, type LiveState, type Sql } from '../../platform/index.js';
import { MATURITY_RATINGS, type MaturityRating, type ProfileKind, type ProfileView } from '../contract.js';
import { badRequest, conflict, isUuid, notFound } from '../http/http-errors.js';
import { hashSecret, verifySecret } from './passwords.js';
import { FixedWindowLimiter } from './rate-limit.js';

/** Most profiles one account may have. */
export const MAX_PROFILES = 6;
/** Highest ceiling a kids profile may have. */
const KIDS_MAX: MaturityRating = 'PG-13';
/** PIN guesses allowed per profile per login window: 10,000 PINs must not be enumerable. */
const PIN_MAX_ATTEMPTS = 5;

interface ProfileRow {
  id: string;
  account_id: string;
  name: string;
  kind: ProfileKind;
  maturity_ceiling: MaturityRating;
  pin_hash: string | null;
  avatar: string;
  created_at: Date;
}

/** Fields a client may set on a profile; `pin: null` removes the PIN. */
export interface ProfileInput {
  name?: string;
  kind?: ProfileKind;
  maturityCeiling?: MaturityRating;
  pin?: string | null;
  avatar?: string;
}

function toView(row: ProfileRow): ProfileView {
  return {
    id: row.id,
    name: row.name,
    kind: row.kind,
    maturityCeiling: row.maturity_ceiling,
    hasPin: row.pin_hash !== null,
    avatar: row.avatar,
    createdAt: new Date(row.created_at).toISOString(),
  };
}

function rank(r: MaturityRating): number {
  return MATURITY_RATINGS.indexOf(r);
}

/** The ceiling a new profile of this kind gets when none is asked for. */
export function defaultCeiling(kind: ProfileKind): MaturityRating {
  return kind === 'kids' ? 'PG' : 'NC-17';
}

/** Inserts one profile (used by sign-up for the default profile, inside its transaction). */
export async function insertProfile(q: Sql, accountId: string, input: ProfileInput & { name: string }): Promise<ProfileView> {
  const kind = input.kind ?? 'standard';
  const ceiling = input.maturityCeiling ?? defaultCeiling(kind);
  checkCeiling(kind, ceiling);
  const pinHash = input.pin ? await hashSecret(input.pin) : null;
  const [row] = await q.query<ProfileRow>(
    `INSERT INTO profiles (id, account_id, name, kind, maturity_ceiling, pin_hash, avatar, created_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING *`,
    [crypto.randomUUID(), accountId, input.name, kind, ceiling, pinHash, input.avatar ?? 'default', new Date()],
  );
  return toView(row);
}

function checkCeiling(kind: ProfileKind, ceiling: MaturityRating): void {
  if (kind === 'kids' && rank(ceiling) > rank(KIDS_MAX)) {
    throw badRequest('MATURITY_CEILING_TOO_HIGH', `a kids profile's maturityCeiling may be at most ${KIDS_MAX}`);
  }
}

/** Viewing profiles of an account: several per account, kids profiles capped, optional PIN. */
export class ProfileService {
  private readonly pinLimiter: FixedWindowLimiter;

  constructor(
    private readonly deps: { sql: Sql; liveState: LiveState },
    config: Config,
  ) {
    this.pinLimiter = new FixedWindowLimiter(
      { liveState: deps.liveState },
      { prefix: 'control-api:pin', max: PIN_MAX_ATTEMPTS, windowSeconds: config.auth.loginWindowSeconds },
    );
  }

  /** The account's profiles, oldest first. */
  async list(accountId: string): Promise<ProfileView[]> {
    const rows = await this.deps.sql.query<ProfileRow>(`SELECT * FROM profiles WHERE account_id = $1 ORDER BY created_at, id`, [accountId]);
    return rows.map(toView);
  }

  /** One profile of the account; 404 when it is not one of its profiles. */
  async get(accountId: string, id: string): Promise<ProfileView> {
    return toView(await this.row(accountId, id));
  }

  /** Whose these profiles are, and their ceilings (other domains' read of profiles they hold ids of). */
  async owners(ids: readonly string[]): Promise<{ id: string; accountId: string; maturityCeiling: MaturityRating }[]> {
    const valid = ids.filter(isUuid);
    if (valid.length === 0) return [];
    const rows = await this.deps.sql.query<ProfileRow>(`SELECT * FROM profiles WHERE id = ANY($1::uuid[])`, [valid]);
    return rows.map((r) => ({ id: r.id, accountId: r.account_id, maturityCeiling: r.maturity_ceiling }));
  }

  /** Adds a profile; 409 PROFILE_LIMIT beyond MAX_PROFILES. */
  create(accountId: string, input: ProfileInput & { name: string }): Promise<ProfileView> {
    return this.deps.sql.tx(async (q) => {
      // Locks the account row so two concurrent creates cannot both pass the count.
      await q.query(`SELECT id FROM accounts WHERE id = $1 FOR UPDATE`, [accountId]);
      const [{ n }] = await q.query<{ n: number }>(`SELECT count(*)::int AS n FROM profiles WHERE account_id = $1`, [accountId]);
      if (n >= MAX_PROFILES) throw conflict('PROFILE_LIMIT', `an account may have at most ${MAX_PROFILES} profiles`);
      return insertProfile(q, accountId, input);
    });
  }

  /** Changes some fields; switching to kids without a ceiling resets it to the kids default. */
  /**
   * Changes a profile. Parental controls hold: any change to a PIN-protected profile needs its PIN
   * (`currentPin`, rate limited like verify-pin) or the account password, and so does leaving a kids
   * profile or raising a ceiling on one without a PIN (403 PIN_REQUIRED, PIN_INCORRECT,
   * PASSWORD_REQUIRED, PASSWORD_INCORRECT).
   */
  async update(accountId: string, id: string, patch: ProfileInput & { currentPin?: string; accountPassword?: string }): Promise<ProfileView> {
    const row = await this.row(accountId, id);
    const kind = patch.kind ?? row.kind;
    const ceiling = patch.maturityCeiling ?? (kind !== row.kind ? defaultCeiling(kind) : row.maturity_ceiling);
    checkCeiling(kind, ceiling);
    const loosens = row.kind === 'kids' && (kind !== 'kids' || rank(ceiling) > rank(row.maturity_ceiling));
    if (row.pin_hash || loosens) await this.authorizeChange(accountId, row, patch);
    const pinHash = patch.pin === undefined ? row.pin_hash : patch.pin === null ? null : await hashSecret(patch.pin);
    const [updated] = await this.deps.sql.query<ProfileRow>(
      `UPDATE profiles SET name = $3, kind = $4, maturity_ceiling = $5, pin_hash = $6, avatar = $7
        WHERE id = $1 AND account_id = $2 RETURNING *`,
      [id, accountId, patch.name ?? row.name, kind, ceiling, pinHash, patch.avatar ?? row.avatar],
    );
    if (!updated) throw notFound('profile');
    return toView(updated);
  }

  /** Removes a profile; the last one stays (409 LAST_PROFILE), an account always has one. */
  async delete(accountId: string, id: string): Promise<void> {
    await this.deps.sql.tx(async (q) => {
      await q.query(`SELECT id FROM accounts WHERE id = $1 FOR UPDATE`, [accountId]);
      await this.row(accountId, id, q);
      const [{ n }] = await q.query<{ n: number }>(`SELECT count(*)::int AS n FROM profiles WHERE account_id = $1`, [accountId]);
      if (n <= 1) throw conflict('LAST_PROFILE', 'an account keeps at least one profile');
      await q.query(`DELETE FROM profiles WHERE id = $1 AND account_id = $2`, [id, accountId]);
    });
  }

  /** The proof a protected change needs: the profile's PIN, or the account password. */
  private async authorizeChange(accountId: string, row: ProfileRow, proof: { currentPin?: string; accountPassword?: string }): Promise<void> {
    if (proof.accountPassword !== undefined) {
      const [account] = await this.deps.sql.query<{ password_hash: string }>(`SELECT password_hash FROM accounts WHERE id = $1`, [accountId]);
      await this.pinLimiter.hit([row.id], 'PIN');
      if (!account || !(await verifySecret(account.password_hash, proof.accountPassword))) throw new AppError(403, 'PASSWORD_INCORRECT', 'the account password is incorrect');
      return;
    }
    if (proof.currentPin !== undefined) {
      const [account] = await this.deps.sql.query<{ pin_hash: string | null }>(`SELECT pin_hash FROM accounts WHERE id = $1`, [accountId]);
      if (account?.pin_hash) {
        await this.pinLimiter.hit([`account:${accountId}`], 'PIN');
        if (await verifySecret(account.pin_hash, proof.currentPin)) return;
        if (!row.pin_hash) throw new AppError(403, 'PIN_INCORRECT', 'PIN is incorrect');
      }
    }
    if (!row.pin_hash) throw new AppError(403, 'PASSWORD_REQUIRED', 'loosening a kids profile needs the account PIN (currentPin) or the account password (accountPassword)');
    if (proof.currentPin === undefined) throw new AppError(403, 'PIN_REQUIRED', 'this profile is PIN-protected: send its PIN as currentPin (or accountPassword)');
    await this.pinLimiter.hit([row.id], 'PIN');
    if (!(await verifySecret(row.pin_hash, proof.currentPin))) throw new AppError(403, 'PIN_INCORRECT', 'PIN is incorrect');
  }

  /** Sets (or, with null, removes) the account PIN; the account password proves it is the account holder. */
  async setAccountPin(accountId: string, pin: string | null, password: string): Promise<void> {
    const [account] = await this.deps.sql.query<{ password_hash: string }>(`SELECT password_hash FROM accounts WHERE id = $1`, [accountId]);
    await this.pinLimiter.hit([`account-password:${accountId}`], 'password');
    if (!account || !(await verifySecret(account.password_hash, password))) throw new AppError(403, 'PASSWORD_INCORRECT', 'the account password is incorrect');
    await this.deps.sql.query(`UPDATE accounts SET pin_hash = $2 WHERE id = $1`, [accountId, pin === null ? null : await hashSecret(pin)]);
  }

  /**
   * Switches the active profile. From a kids profile's session to a profile that is not kids, the
   * account PIN is needed (or the target's own PIN): 403 PIN_REQUIRED, PIN_INCORRECT, or
   * ACCOUNT_PIN_NOT_SET when neither exists; five guesses per login window, then 429 until it ends.
   * Otherwise as openSession.
   */
  async switchTo(accountId: string, fromProfileId: string | undefined, id: string, pin?: string): Promise<ProfileView> {
    const target = await this.row(accountId, id);
    const from = fromProfileId ? await this.row(accountId, fromProfileId) : undefined;
    if (!from || from.kind !== 'kids' || target.kind === 'kids') return this.openSession(accountId, id, pin);
    const [account] = await this.deps.sql.query<{ pin_hash: string | null }>(`SELECT pin_hash FROM accounts WHERE id = $1`, [accountId]);
    if (!account?.pin_hash && !target.pin_hash) {
      throw new AppError(403, 'ACCOUNT_PIN_NOT_SET', 'leaving a kids profile needs the account PIN, and none is set: the account holder sets one with PUT /v1/account/pin');
    }
    if (pin === undefined) throw new AppError(403, 'PIN_REQUIRED', 'leaving a kids profile needs the account PIN: send it as pin');
    await this.pinLimiter.hit([`account:${accountId}`], 'PIN');
    const ok = (account?.pin_hash && (await verifySecret(account.pin_hash, pin))) || (target.pin_hash && (await verifySecret(target.pin_hash, pin)));
    if (!ok) throw new AppError(403, 'PIN_INCORRECT', 'PIN is incorrect');
    return toView(target);
  }

  /**
   * The profile a session may be opened for: a PIN-protected one only with its PIN (403
   * PIN_REQUIRED, PIN_INCORRECT; five guesses per login window, then 429 until it ends).
   */
  async openSession(accountId: string, id: string, pin?: string): Promise<ProfileView> {
    const row = await this.row(accountId, id);
    if (row.pin_hash) {
      if (pin === undefined) throw new AppError(403, 'PIN_REQUIRED', 'this profile is PIN-protected: send its pin');
      await this.pinLimiter.hit([row.id], 'PIN');
      if (!(await verifySecret(row.pin_hash, pin))) throw new AppError(403, 'PIN_INCORRECT', 'PIN is incorrect');
    }
    return toView(row);
  }

  /** Checks a profile PIN (rate limited per profile): 403 PIN_INCORRECT, 409 PIN_NOT_SET. */
  async verifyPin(accountId: string, id: string, pin: string): Promise<void> {
    const row = await this.row(accountId, id);
    if (!row.pin_hash) throw conflict('PIN_NOT_SET', 'this profile has no PIN');
    await this.pinLimiter.hit([id], 'PIN');
    if (!(await verifySecret(row.pin_hash, pin))) throw new AppError(403, 'PIN_INCORRECT', 'PIN is incorrect');
  }

  private async row(accountId: string, id: string, q: Sql = this.deps.sql): Promise<ProfileRow> {
    if (!isUuid(id)) throw notFound('profile');
    const [row] = await q.query<ProfileRow>(`SELECT * FROM profiles WHERE id = $1 AND account_id = $2`, [id, accountId]);
    if (!row) throw notFound('profile');
    return row;
  }
}
