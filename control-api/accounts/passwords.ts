import crypto from 'node:crypto';
import argon2 from 'argon2';

/**
 * argon2id at the OWASP Password Storage Cheat Sheet minimum (19 MiB, 2 passes, 1 lane): strong
 * enough for passwords and PINs while keeping a login well under 100 ms on a 2-core machine.
 */
const ARGON2_OPTIONS = { type: argon2.argon2id, memoryCost: 19456, timeCost: 2, parallelism: 1 } as const;

/** Hashes a password or PIN with argon2id (salted, parameters encoded in the PHC string). */
export function hashSecret(secret: string): Promise<string> {
  return argon2.hash(secret, ARGON2_OPTIONS);
}

/** Checks a password or PIN against its hash; a malformed hash counts as a mismatch. */
export async function verifySecret(hash: string, secret: string): Promise<boolean> {
  try {
    return await argon2.verify(hash, secret);
  } catch {
    return false;
  }
}

/**
 * A hash of a random secret, verified in place of a real one when the email is unknown, so a login
 * for an unknown email costs the same time as a wrong password (no account enumeration by timing).
 */
export class DummyHash {
  private hash?: Promise<string>;

  /** Runs one argon2 verification that always fails. */
  async burn(password: string): Promise<void> {
    this.hash ??= hashSecret(crypto.randomBytes(16).toString('hex'));
    await verifySecret(await this.hash, password);
  }
}

/** Why a password is too weak, or null when it is acceptable. */
export function passwordWeakness(password: string, email: string): string | null {
  // Length in code points, so a password of emoji is not counted as twice as long.
  if ([...password].length < 10) return 'password must be at least 10 characters long';
  if (!/\p{L}/u.test(password) || !/\p{Nd}/u.test(password)) return 'password must contain at least one letter and one digit';
  if (password.trim().toLowerCase() === email.trim().toLowerCase()) return 'password must not be the email address';
  return null;
}

/** Normalises an email for storage and lookup: trimmed, lower-case (addresses are compared case-insensitively). */
export function normaliseEmail(email: string): string {
  return email.trim().toLowerCase();
}

/** SHA-256 hex of a high-entropy secret (stream keys, refresh tokens): fast lookups, nothing to brute-force. */
export function sha256(secret: string): string {
  return crypto.createHash('sha256').update(secret).digest('hex');
}

const BASE62 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** A uniformly random base62 string (rejection sampling, so no character is more likely than another). */
export function randomBase62(length: number): string {
  let out = '';
  while (out.length < length) {
    for (const byte of crypto.randomBytes(length * 2)) {
      // 248 = 4 * 62: bytes above it would bias the first characters.
      if (byte < 248 && out.length < length) out += BASE62[byte % 62];
    }
  }
  return out;
}
