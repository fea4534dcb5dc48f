import jwt from 'jsonwebtoken';
import { describe, expect, it } from 'vitest';
import { PlaybackAuth, signPlaybackToken } from './playback-auth.js';

const KEY = 'k'.repeat(32);

describe('playback tokens', () => {
  it('signs HS256 tokens with sub, iat and exp = iat + ttl', () => {
    const t = signPlaybackToken(KEY, { sub: 'stream-1', ttlSeconds: 300 });
    const decoded = jwt.decode(t, { complete: true })!;
    expect(decoded.header).toEqual({ alg: 'HS256', typ: 'playback+jwt' });
    expect(decoded.payload).toMatchObject({ iss: 'streamforge', aud: 'streamforge-playback', sub: 'stream-1' });
    const p = decoded.payload as jwt.JwtPayload;
    expect(p.sub).toBe('stream-1');
    expect(p.exp! - p.iat!).toBe(300);
    expect(() => signPlaybackToken('', { sub: 'x', ttlSeconds: 1 })).toThrow();
    expect(() => signPlaybackToken(KEY, { sub: 'x', ttlSeconds: 0 })).toThrow();
  });

  it('verifies subject and expiry, also on memoised repeats', () => {
    const auth = new PlaybackAuth(KEY);
    const now = Date.now();
    const t = signPlaybackToken(KEY, { sub: 's1', ttlSeconds: 10 });
    expect(auth.check('s1', t, now)).toBe('ok');
    expect(auth.check('s1', t, now)).toBe('ok');
    expect(auth.check('s2', t, now)).toBe('wrong-subject');
    // The memo must not outlive exp.
    expect(auth.check('s1', t, now + 11_000)).toBe('expired');
    expect(auth.check('s1', undefined)).toBe('missing');
    expect(auth.check('s1', 'a.b.c')).toBe('invalid');
    expect(auth.check('s1', 'x'.repeat(5000))).toBe('invalid');
  });

  it('accepts only HS256 playback tokens with the configured key', () => {
    const auth = new PlaybackAuth(KEY);
    const iat = Math.floor(Date.now() / 1000);
    const exp = iat + 60;
    const typed = { algorithm: 'HS256' as const, header: { alg: 'HS256' as const, typ: 'playback+jwt' } };
    const claims = { iss: 'streamforge', aud: 'streamforge-playback', iat, exp };
    expect(auth.check('s1', jwt.sign({ ...claims, sub: 's1' }, KEY, { ...typed, algorithm: 'HS384', header: { alg: 'HS384', typ: 'playback+jwt' } }))).toBe('invalid');
    expect(auth.check('s1', jwt.sign({ ...claims, sub: 's1' }, 'other'.repeat(8), typed))).toBe('invalid');
    expect(auth.check('s1', jwt.sign({ ...claims, sub: 's1' }, KEY, typed))).toBe('ok');
    expect(auth.check('s1', jwt.sign({ ...claims, sub: 42 }, KEY, typed))).toBe('invalid');
  });

  it('refuses any other JWT signed with the same key: an access token, an untyped token, other issuer or audience, a longer life', () => {
    const auth = new PlaybackAuth(KEY);
    const iat = Math.floor(Date.now() / 1000);
    const exp = iat + 600;
    // What control-api issues as an access token, had an operator reused the key for JWT_SECRET.
    expect(auth.check('s1', jwt.sign({ sub: 's1', iss: 'streamforge', aud: 'streamforge-api', iat, exp }, KEY, { algorithm: 'HS256' }))).toBe('invalid');
    const typed = { algorithm: 'HS256' as const, header: { alg: 'HS256' as const, typ: 'playback+jwt' } };
    const good = { sub: 's1', iss: 'streamforge', aud: 'streamforge-playback', iat, exp };
    expect(auth.check('s1', jwt.sign(good, KEY, { algorithm: 'HS256' }))).toBe('invalid'); // typ JWT
    expect(auth.check('s1', jwt.sign({ ...good, iss: 'someone-else' }, KEY, typed))).toBe('invalid');
    expect(auth.check('s1', jwt.sign({ ...good, aud: 'streamforge-api' }, KEY, typed))).toBe('invalid');
    expect(auth.check('s1', jwt.sign({ ...good, exp: iat + 86_401 }, KEY, typed))).toBe('invalid');
    const { iat: _iat, ...noIat } = good;
    expect(auth.check('s1', jwt.sign(noIat, KEY, { ...typed, noTimestamp: true }))).toBe('invalid');
    expect(auth.check('s1', jwt.sign(good, KEY, typed))).toBe('ok');
    expect(() => signPlaybackToken(KEY, { sub: 's1', ttlSeconds: 86_401 })).toThrow();
  });
});
