import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MATURITY_RATINGS } from '../contract.js';
import { ProfileSchema } from './schemas.js';
import { createTestApp, GOOD_PASSWORD, type TestApp } from '../test-support/test-app.js';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => {
  await t?.close();
});

type Auth = { authorization: string };
const list = async (auth: Auth) => (await t.app.inject({ method: 'GET', url: '/v1/profiles', headers: auth })).json().items;
const create = (auth: Auth, payload: object) => t.app.inject({ method: 'POST', url: '/v1/profiles', headers: auth, payload });

describe('profiles', () => {
  it('a new account has one standard profile named after it', async () => {
    const u = await t.signup();
    const items = await list(u.auth);
    expect(items).toEqual([
      { id: expect.any(String), name: u.email.split('@')[0], kind: 'standard', maturityCeiling: 'NC-17', hasPin: false, avatar: 'default', createdAt: expect.any(String) },
    ]);
  });

  it('creates a kids profile with a PIN that is never returned, and verifies the PIN', async () => {
    const u = await t.signup();
    const res = await create(u.auth, { name: 'Kid', kind: 'kids', pin: '4321', avatar: 'fox' });
    expect(res.statusCode).toBe(201);
    const kid = res.json();
    expect(kid).toMatchObject({ name: 'Kid', kind: 'kids', maturityCeiling: 'PG', hasPin: true, avatar: 'fox' });
    expect(res.body).not.toContain('4321');
    expect(JSON.stringify(await list(u.auth))).not.toContain('4321');

    const verify = (pin: string) => t.app.inject({ method: 'POST', url: `/v1/profiles/${kid.id}/verify-pin`, headers: u.auth, payload: { pin } });
    expect((await verify('4321')).statusCode).toBe(204);
    const wrong = await verify('0000');
    expect(wrong.statusCode).toBe(403);
    expect(wrong.json()).toMatchObject({ code: 'PIN_INCORRECT' });
    expect((await verify('12a4')).json()).toMatchObject({ code: 'VALIDATION_FAILED', detail: expect.stringContaining('body/pin') });
    // 5 guesses per window: 2 used, 3 more, then 429.
    for (let i = 0; i < 3; i++) await verify('1111');
    expect((await verify('4321')).statusCode).toBe(429);
  });

  it('caps kids profiles at PG-13', async () => {
    const u = await t.signup();
    expect((await create(u.auth, { name: 'Teen', kind: 'kids', maturityCeiling: 'PG-13' })).statusCode).toBe(201);
    const tooHigh = await create(u.auth, { name: 'Teen2', kind: 'kids', maturityCeiling: 'R' });
    expect(tooHigh.statusCode).toBe(400);
    expect(tooHigh.json()).toMatchObject({ code: 'MATURITY_CEILING_TOO_HIGH' });
    expect((await create(u.auth, { name: 'Odd', maturityCeiling: 'X' })).json()).toMatchObject({ code: 'VALIDATION_FAILED' });
  });

  it('updates fields, switches kind with a fitting ceiling and removes the PIN with null', async () => {
    const u = await t.signup();
    const p = (await create(u.auth, { name: 'Sam', pin: '1234' })).json();
    const patch = (payload: object) => t.app.inject({ method: 'PATCH', url: `/v1/profiles/${p.id}`, headers: u.auth, payload });
    expect((await patch({ kind: 'kids', currentPin: '1234' })).json()).toMatchObject({ kind: 'kids', maturityCeiling: 'PG', hasPin: true });
    expect((await patch({ name: 'Sammy', pin: null, currentPin: '1234' })).json()).toMatchObject({ name: 'Sammy', hasPin: false });
    expect((await patch({ maturityCeiling: 'NC-17' })).statusCode).toBe(400);
    expect((await patch({})).statusCode).toBe(400);
  });

  it('keeps parental controls: a PIN-protected or kids profile is not loosened without the PIN or the password', async () => {
    const u = await t.signup();
    const kid = (await create(u.auth, { name: 'Kid', kind: 'kids', maturityCeiling: 'G', pin: '4321' })).json();
    const patch = (id: string, payload: object) => t.app.inject({ method: 'PATCH', url: `/v1/profiles/${id}`, headers: u.auth, payload });
    // The attack of before: the child (same account session) edits the kids profile without the PIN.
    for (const payload of [{ kind: 'standard' }, { maturityCeiling: 'PG-13' }, { pin: null }, { pin: '0000' }, { name: 'Me' }]) {
      const res = await patch(kid.id, payload);
      expect(res.statusCode).toBe(403);
      expect(res.json()).toMatchObject({ code: 'PIN_REQUIRED' });
    }
    expect((await patch(kid.id, { maturityCeiling: 'PG-13', currentPin: '0000' })).json()).toMatchObject({ code: 'PIN_INCORRECT' });
    expect((await patch(kid.id, { maturityCeiling: 'PG-13', accountPassword: 'not-the-password' })).json()).toMatchObject({ code: 'PASSWORD_INCORRECT' });
    expect((await patch(kid.id, { maturityCeiling: 'PG-13', currentPin: '4321' })).json()).toMatchObject({ maturityCeiling: 'PG-13' });
    expect((await patch(kid.id, { kind: 'standard', accountPassword: GOOD_PASSWORD })).json()).toMatchObject({ kind: 'standard' });
    // A kids profile without a PIN: tightening is free, loosening needs the password.
    const open = (await create(u.auth, { name: 'Open kid', kind: 'kids', maturityCeiling: 'PG' })).json();
    expect((await patch(open.id, { maturityCeiling: 'G' })).statusCode).toBe(200);
    expect((await patch(open.id, { maturityCeiling: 'PG-13' })).json()).toMatchObject({ code: 'PASSWORD_REQUIRED' });
    expect((await patch(open.id, { kind: 'standard' })).json()).toMatchObject({ code: 'PASSWORD_REQUIRED' });
    expect((await patch(open.id, { maturityCeiling: 'PG-13', accountPassword: GOOD_PASSWORD })).json()).toMatchObject({ maturityCeiling: 'PG-13' });
  });

  it(`allows at most 6 profiles and never deletes the last`, async () => {
    const u = await t.signup();
    for (let i = 2; i <= 6; i++) expect((await create(u.auth, { name: `p${i}` })).statusCode).toBe(201);
    const seventh = await create(u.auth, { name: 'p7' });
    expect(seventh.statusCode).toBe(409);
    expect(seventh.json()).toMatchObject({ code: 'PROFILE_LIMIT' });
    const items = await list(u.auth);
    for (const p of items.slice(1)) {
      expect((await t.app.inject({ method: 'DELETE', url: `/v1/profiles/${p.id}`, headers: u.auth })).statusCode).toBe(204);
    }
    const last = await t.app.inject({ method: 'DELETE', url: `/v1/profiles/${items[0].id}`, headers: u.auth });
    expect(last.statusCode).toBe(409);
    expect(last.json()).toMatchObject({ code: 'LAST_PROFILE' });
  });

  it("another account's profile is 404", async () => {
    const owner = await t.signup();
    const other = await t.signup();
    const [p] = await list(owner.auth);
    const res = await t.app.inject({ method: 'PATCH', url: `/v1/profiles/${p.id}`, headers: other.auth, payload: { name: 'x' } });
    expect(res.statusCode).toBe(404);
    expect((await t.app.inject({ method: 'DELETE', url: '/v1/profiles/nope', headers: other.auth })).statusCode).toBe(404);
  });

  it('the schema lists exactly the ratings of the contract', () => {
    const rating = ProfileSchema.properties.maturityCeiling as unknown as { anyOf: { const: string }[] };
    expect(rating.anyOf.map((s) => s.const)).toEqual([...MATURITY_RATINGS]);
  });
});

describe('parental controls: the account PIN', () => {
  it('keeps a kids session from switching to an adult profile without the account PIN, five guesses per window', async () => {
    const u = await t.signup();
    const adult = (await list(u.auth))[0];
    const kid = (await create(u.auth, { name: 'Kid', kind: 'kids' })).json();
    const sibling = (await create(u.auth, { name: 'Sibling', kind: 'kids' })).json();
    const switchTo = (auth: Auth, id: string, body: object = {}) => t.app.inject({ method: 'POST', url: `/v1/profiles/${id}/switch`, headers: auth, payload: body });
    const kidSession = await switchTo(u.auth, kid.id);
    expect(kidSession.statusCode).toBe(200);
    const kidAuth = { authorization: `Bearer ${kidSession.json().accessToken}` };

    // Without an account PIN, a kids session cannot leave kids at all (the /session route included).
    expect((await switchTo(kidAuth, adult.id)).json().code).toBe('ACCOUNT_PIN_NOT_SET');
    expect((await t.app.inject({ method: 'POST', url: `/v1/profiles/${adult.id}/session`, headers: kidAuth, payload: {} })).json().code).toBe('ACCOUNT_PIN_NOT_SET');
    // Another kids profile is fine.
    expect((await switchTo(kidAuth, sibling.id)).statusCode).toBe(200);

    // Only the account holder (account token + password) sets the PIN.
    const setPin = (auth: Auth, body: object) => t.app.inject({ method: 'PUT', url: '/v1/account/pin', headers: auth, payload: body });
    expect((await setPin(kidAuth, { pin: '2468', password: GOOD_PASSWORD })).json().code).toBe('PROFILE_SESSION');
    expect((await setPin(u.auth, { pin: '2468', password: 'wrong-password' })).json().code).toBe('PASSWORD_INCORRECT');
    expect((await setPin(u.auth, { pin: '24x8', password: GOOD_PASSWORD })).statusCode).toBe(400);
    expect((await setPin(u.auth, { pin: '2468', password: GOOD_PASSWORD })).statusCode).toBe(204);

    expect((await switchTo(kidAuth, adult.id)).json().code).toBe('PIN_REQUIRED');
    expect((await switchTo(kidAuth, adult.id, { pin: '1111' })).json().code).toBe('PIN_INCORRECT');
    const ok = await switchTo(kidAuth, adult.id, { pin: '2468' });
    expect(ok.statusCode).toBe(200);
    expect(ok.json().profile.id).toBe(adult.id);
    // The adult session goes back to kids freely.
    expect((await switchTo({ authorization: `Bearer ${ok.json().accessToken}` }, kid.id)).statusCode).toBe(200);

    // The account PIN also loosens a kids profile's ceiling; a wrong one does not.
    const loosen = (pin: string) => t.app.inject({ method: 'PATCH', url: `/v1/profiles/${kid.id}`, headers: u.auth, payload: { maturityCeiling: 'PG-13', currentPin: pin } });
    expect((await loosen('9999')).json().code).toBe('PIN_INCORRECT');
    expect((await t.app.inject({ method: 'PATCH', url: `/v1/profiles/${kid.id}`, headers: u.auth, payload: { maturityCeiling: 'PG-13' } })).json().code).toBe('PASSWORD_REQUIRED');
    expect((await loosen('2468')).json().maturityCeiling).toBe('PG-13');

    // Five account-PIN attempts per window (four above, one here), then even the right PIN waits.
    expect((await switchTo(kidAuth, adult.id, { pin: '0000' })).json().code).toBe('PIN_INCORRECT');
    const locked = await switchTo(kidAuth, adult.id, { pin: '2468' });
    expect(locked.statusCode).toBe(429);
    expect(Number(locked.headers['retry-after'])).toBeGreaterThan(0);
    expect(locked.json().detail).toMatch(/PIN/);
  });
});
