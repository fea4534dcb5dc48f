import jwt from 'jsonwebtoken';
import { describe, expect, it } from 'vitest';
import { PlaybackAuth, signPlaybackToken } from './playback-auth.js';

const KEY = 'k'.repeat(32);

describe('playback tokens', () => {
  it('signs HS256 tokens with sub, iat and exp = iat + ttl', () => {
    const t = signPlaybackToken(KEY, { sub: 'stream-1', ttlSeconds: 300 });
    const decoded = jwt.decode(t, { complete: true })!;
    expect(decoded.header).toEqual({ alg: 'HS256', typ: 'JWT' });
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

  it('accepts only HS256 with the configured key', () => {
    const auth = new PlaybackAuth(KEY);
    const exp = Math.floor(Date.now() / 1000) + 60;
    expect(auth.check('s1', jwt.sign({ sub: 's1', exp }, KEY, { algorithm: 'HS384' }))).toBe('invalid');
    expect(auth.check('s1', jwt.sign({ sub: 's1', exp }, 'other'.repeat(8), { algorithm: 'HS256' }))).toBe('invalid');
    expect(auth.check('s1', jwt.sign({ sub: 's1', exp }, KEY, { algorithm: 'HS256' }))).toBe('ok');
    expect(auth.check('s1', jwt.sign({ sub: 42, exp }, KEY, { algorithm: 'HS256' }))).toBe('invalid');
  });
});
