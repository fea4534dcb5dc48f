import jwt from 'jsonwebtoken';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, GOOD_PASSWORD, TEST_ENV, type TestApp } from '../test-support/test-app.js';
import { MemoryLiveState } from '../../platform/index.js';
import { LoginThrottle } from './rate-limit.js';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => {
  await t?.close();
});

const post = (url: string, payload: object, headers: Record<string, string> = {}) => t.app.inject({ method: 'POST', url, payload, headers });

describe('POST /v1/accounts', () => {
  it('creates a creator account and answers its public fields only', async () => {
    const res = await post('/v1/accounts', { email: 'Alice@Example.TEST', password: GOOD_PASSWORD, displayName: 'Alice' });
    expect(res.statusCode).toBe(201);
    const body = res.json();
    expect(body).toEqual({ id: expect.stringMatching(/^[0-9a-f-]{36}$/), email: 'alice@example.test', displayName: 'Alice', role: 'creator', createdAt: expect.any(String) });
    expect(new Date(body.createdAt).toISOString()).toBe(body.createdAt);
    expect(res.body).not.toContain('hash');
  });

  it('refuses a duplicate email, case-insensitively: 409 EMAIL_TAKEN', async () => {
    await post('/v1/accounts', { email: 'dup@example.test', password: GOOD_PASSWORD });
    const res = await post('/v1/accounts', { email: 'DUP@example.test', password: GOOD_PASSWORD });
    expect(res.statusCode).toBe(409);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.json()).toMatchObject({ status: 409, code: 'EMAIL_TAKEN', title: 'Conflict' });
  });

  it('refuses a malformed email with 400 naming the field', async () => {
    const res = await post('/v1/accounts', { email: 'not-an-email', password: GOOD_PASSWORD });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ code: 'VALIDATION_FAILED', detail: expect.stringContaining('body/email') });
  });

  it.each([
    ['short', 'abc12345'],
    ['no digit', 'abcdefghijkl'],
    ['no letter', '12345678901'],
    ['the email itself', 'weak1@example.test'],
  ])('refuses a weak password (%s): 400 WEAK_PASSWORD', async (_why, password) => {
    const res = await post('/v1/accounts', { email: 'weak1@example.test', password });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ code: 'WEAK_PASSWORD' });
  });

  it('refuses unknown fields instead of dropping them (no role escalation)', async () => {
    const res = await post('/v1/accounts', { email: 'sneaky@example.test', password: GOOD_PASSWORD, role: 'admin' });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ code: 'VALIDATION_FAILED', detail: 'body/role is not an allowed field' });
  });
});

describe('login and access tokens', () => {
  it('logs in and GET /v1/me answers the account', async () => {
    const u = await t.signup();
    expect(u.tokens).toMatchObject({ expiresIn: 900, tokenType: 'Bearer', refreshToken: expect.stringMatching(/^rt_/) });
    const me = await t.app.inject({ method: 'GET', url: '/v1/me', headers: u.auth });
    expect(me.statusCode).toBe(200);
    expect(me.json()).toMatchObject({ id: u.accountId, email: u.email, role: 'creator' });
    expect(me.headers['cache-control']).toBe('no-store');
  });

  it('answers wrong password and unknown email the same: 401 INVALID_CREDENTIALS', async () => {
    const u = await t.signup();
    const wrong = await post('/v1/auth/login', { email: u.email, password: 'wrong-password-1' });
    const unknown = await post('/v1/auth/login', { email: 'nobody@example.test', password: 'wrong-password-1' });
    expect(wrong.statusCode).toBe(401);
    expect(unknown.statusCode).toBe(401);
    expect(wrong.json()).toEqual(unknown.json());
    expect(wrong.json()).toMatchObject({ code: 'INVALID_CREDENTIALS' });
  });

  it('signs HS256 tokens with sub, role, issuer, audience and expiry', async () => {
    const u = await t.signup();
    const decoded = jwt.decode(u.tokens.accessToken, { complete: true });
    expect(decoded?.header.alg).toBe('HS256');
    expect(decoded?.payload).toMatchObject({ sub: u.accountId, role: 'creator', iss: 'streamforge', aud: 'streamforge-api' });
  });

  const rejects = async (authorization: string | undefined, detail: unknown) => {
    const res = await t.app.inject({ method: 'GET', url: '/v1/me', headers: authorization ? { authorization } : {} });
    expect(res.statusCode).toBe(401);
    expect(res.headers['www-authenticate']).toMatch(/^Bearer realm="streamforge"/);
    expect(res.json()).toMatchObject({ code: 'UNAUTHORIZED', detail });
  };

  it('refuses a missing token with WWW-Authenticate: Bearer', async () => {
    await rejects(undefined, expect.stringContaining('needs an access token'));
  });

  it('refuses a tampered token (payload changed, signature kept)', async () => {
    const u = await t.signup();
    const [h, p, s] = u.tokens.accessToken.split('.');
    const payload = JSON.parse(Buffer.from(p, 'base64url').toString());
    const forged = Buffer.from(JSON.stringify({ ...payload, role: 'admin' })).toString('base64url');
    await rejects(`Bearer ${h}.${forged}.${s}`, 'access token invalid');
  });

  it('refuses an alg:none token', async () => {
    const u = await t.signup();
    const enc = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const now = Math.floor(Date.now() / 1000);
    const token = `${enc({ alg: 'none', typ: 'JWT' })}.${enc({ sub: u.accountId, role: 'admin', iss: 'streamforge', aud: 'streamforge-api', iat: now, exp: now + 600 })}.`;
    await rejects(`Bearer ${token}`, 'access token invalid');
  });

  it('refuses an expired token', async () => {
    const u = await t.signup();
    const token = jwt.sign({ role: 'creator', exp: Math.floor(Date.now() / 1000) - 60 }, TEST_ENV.JWT_SECRET, {
      algorithm: 'HS256', issuer: 'streamforge', audience: 'streamforge-api', subject: u.accountId,
    });
    await rejects(`Bearer ${token}`, 'access token expired');
  });

  it('refuses a token for another audience or signed with another secret', async () => {
    const u = await t.signup();
    const opts = { algorithm: 'HS256' as const, issuer: 'streamforge', subject: u.accountId, expiresIn: 600 };
    await rejects(`Bearer ${jwt.sign({ role: 'creator' }, TEST_ENV.JWT_SECRET, { ...opts, audience: 'other' })}`, 'access token invalid');
    await rejects(`Bearer ${jwt.sign({ role: 'creator' }, 'another-secret', { ...opts, audience: 'streamforge-api' })}`, 'access token invalid');
  });
});

describe('refresh tokens', () => {
  it('rotates: each refresh gives a new pair and the next one works', async () => {
    const u = await t.signup();
    const r1 = await post('/v1/auth/refresh', { refreshToken: u.tokens.refreshToken });
    expect(r1.statusCode).toBe(200);
    const p1 = r1.json();
    expect(p1.refreshToken).not.toBe(u.tokens.refreshToken);
    const me = await t.app.inject({ method: 'GET', url: '/v1/me', headers: { authorization: `Bearer ${p1.accessToken}` } });
    expect(me.statusCode).toBe(200);
    const r2 = await post('/v1/auth/refresh', { refreshToken: p1.refreshToken });
    expect(r2.statusCode).toBe(200);
  });

  it('detects reuse: an already-used token revokes the whole family', async () => {
    const u = await t.signup();
    const next = (await post('/v1/auth/refresh', { refreshToken: u.tokens.refreshToken })).json();
    const reuse = await post('/v1/auth/refresh', { refreshToken: u.tokens.refreshToken });
    expect(reuse.statusCode).toBe(401);
    expect(reuse.json()).toMatchObject({ code: 'REFRESH_TOKEN_REUSED' });
    // The legitimate successor dies with the family.
    const after = await post('/v1/auth/refresh', { refreshToken: next.refreshToken });
    expect(after.statusCode).toBe(401);
    expect(after.json()).toMatchObject({ code: 'INVALID_REFRESH_TOKEN' });
  });

  it('keeps other logins of the same account alive when one family is revoked', async () => {
    const u = await t.signup();
    const other = (await post('/v1/auth/login', { email: u.email, password: GOOD_PASSWORD })).json();
    await post('/v1/auth/refresh', { refreshToken: u.tokens.refreshToken });
    await post('/v1/auth/refresh', { refreshToken: u.tokens.refreshToken }); // reuse: revokes family 1
    expect((await post('/v1/auth/refresh', { refreshToken: other.refreshToken })).statusCode).toBe(200);
  });

  it('logout revokes the family (204) and unknown tokens are 401', async () => {
    const u = await t.signup();
    const out = await post('/v1/auth/logout', { refreshToken: u.tokens.refreshToken });
    expect(out.statusCode).toBe(204);
    expect(out.body).toBe('');
    expect((await post('/v1/auth/refresh', { refreshToken: u.tokens.refreshToken })).json()).toMatchObject({ code: 'INVALID_REFRESH_TOKEN' });
    expect((await post('/v1/auth/refresh', { refreshToken: 'rt_nope' })).statusCode).toBe(401);
  });
});

describe('roles', () => {
  it('a viewer may not create live streams: 403', async () => {
    const u = await t.signup();
    await t.sql.query(`UPDATE accounts SET role = 'viewer' WHERE id = $1`, [u.accountId]);
    const tokens = (await post('/v1/auth/login', { email: u.email, password: GOOD_PASSWORD })).json();
    const res = await post('/v1/live-streams', { title: 'nope' }, { authorization: `Bearer ${tokens.accessToken}` });
    expect(res.statusCode).toBe(403);
    expect(res.json()).toMatchObject({ code: 'FORBIDDEN' });
  });
});

describe('login throttling', () => {
  it('throttles failures per account and address with growing delays, and never locks the real user out', async () => {
    // A second app over the same database, with a small budget.
    const limited = await createTestApp({ env: { LOGIN_MAX_ATTEMPTS: '3', LOGIN_WINDOW_SECONDS: '600' }, sql: t.sql });
    try {
      const u = await limited.signup();
      const attempt = (email: string, remoteAddress: string, password = 'wrong-password-1') =>
        limited.app.inject({ method: 'POST', url: '/v1/auth/login', payload: { email, password }, remoteAddress });
      // The attacker at 10.0.0.66 guesses: three free failures, then a delay that doubles.
      for (let i = 0; i < 3; i++) expect((await attempt(u.email, '10.0.0.66')).statusCode).toBe(401);
      const blocked = await attempt(u.email, '10.0.0.66');
      expect(blocked.statusCode).toBe(429);
      expect(blocked.json()).toMatchObject({ code: 'RATE_LIMITED', status: 429 });
      expect(Number(blocked.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      expect(Number(blocked.headers['retry-after'])).toBeLessThanOrEqual(2);
      // The lock-out loop of before: however the attacker keeps at it, the real user gets in from home.
      for (let i = 0; i < 20; i++) await attempt(u.email, '10.0.0.66');
      const right = await attempt(u.email, '192.0.2.10', GOOD_PASSWORD);
      expect(right.statusCode).toBe(200);
    } finally {
      await limited.close();
    }
  });

  it('doubles the delay with every failure after it, and a success starts the pair afresh', async () => {
    let now = 1_000_000;
    const state = new MemoryLiveState();
    const writes: string[] = [];
    const counting = Object.assign(Object.create(state), {
      incr: (k: string, ttl: number) => (writes.push(k), state.incr(k, ttl)),
      set: (k: string, v: string, ttl?: number) => (writes.push(k), state.set(k, v, ttl)),
    }) as typeof state;
    const throttle = new LoginThrottle({ liveState: counting, now: () => now }, { prefix: 'l', freeFailures: 2, ipFailures: 50, windowSeconds: 600 });
    const retryAfter = async () => {
      try {
        await throttle.check('acct', '1.2.3.4');
        return 0;
      } catch (err) {
        return (err as { retryAfterSeconds?: number; headers?: Record<string, string> }).retryAfterSeconds ?? -1;
      }
    };
    await throttle.failed('acct', '1.2.3.4');
    await throttle.failed('acct', '1.2.3.4');
    expect(await retryAfter()).not.toBe(0); // 2 failures: wait 1 s
    now += 1000;
    expect(await retryAfter()).toBe(0);
    await throttle.failed('acct', '1.2.3.4');
    expect(await retryAfter()).not.toBe(0); // 3 failures: wait 2 s
    now += 1000;
    expect(await retryAfter()).not.toBe(0);
    now += 1000;
    expect(await retryAfter()).toBe(0);
    // Refused checks write nothing: a flood of them cannot grow the keys.
    const before = writes.length;
    await throttle.failed('acct', '1.2.3.4');
    for (let i = 0; i < 100; i++) await retryAfter();
    expect(writes.length).toBe(before + 3);
    await throttle.succeeded('acct', '1.2.3.4');
    expect(await retryAfter()).toBe(0);
    await state.close();
  });

  it('makes an address that fails on many accounts wait out the window (password spraying)', async () => {
    const limited = await createTestApp({ env: { LOGIN_MAX_ATTEMPTS: '2', LOGIN_WINDOW_SECONDS: '600' }, sql: t.sql });
    try {
      const attempt = (email: string) => limited.app.inject({ method: 'POST', url: '/v1/auth/login', payload: { email, password: 'wrong-password-1' }, remoteAddress: '10.9.9.9' });
      // 10 × LOGIN_MAX_ATTEMPTS failures on as many accounts, then the address is refused.
      for (let i = 0; i < 20; i++) expect((await attempt(`spray${i}@example.test`)).statusCode).toBe(401);
      const refused = await attempt('spray-next@example.test');
      expect(refused.statusCode).toBe(429);
      expect(Number(refused.headers['retry-after'])).toBe(600);
    } finally {
      await limited.close();
    }
  });
});

describe('abuse limits', () => {
  it('throttles sign-ups per address before hashing anything', async () => {
    const limited = await createTestApp({ env: { SIGNUP_MAX_PER_IP: '3', SIGNUP_WINDOW_SECONDS: '3600' }, sql: t.sql });
    try {
      const signUp = (i: number, remoteAddress: string) =>
        limited.app.inject({ method: 'POST', url: '/v1/accounts', payload: { email: `flood-${i}-${remoteAddress}@example.test`, password: GOOD_PASSWORD }, remoteAddress });
      for (let i = 0; i < 3; i++) expect((await signUp(i, '10.1.1.1')).statusCode).toBe(201);
      const started = Date.now();
      const refused = await signUp(3, '10.1.1.1');
      expect(refused.statusCode).toBe(429);
      expect(refused.json()).toMatchObject({ code: 'RATE_LIMITED' });
      expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
      // Refused before argon2 runs (tens of milliseconds each).
      expect(Date.now() - started).toBeLessThan(50);
      expect((await signUp(4, '10.1.1.2')).statusCode).toBe(201);
    } finally {
      await limited.close();
    }
  });
});
