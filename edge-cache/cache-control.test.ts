import { describe, expect, it } from 'vitest';
import { parseCacheControl, storagePolicy } from './cache-control.js';

const defaults = { staleIfErrorMs: 30_000, blockingReloadTtlMs: 0 };
const facts = (cacheControl?: string, extra: Partial<Parameters<typeof storagePolicy>[0]> = {}) => ({
  status: 200,
  cacheControl,
  setCookie: false,
  ...extra,
});

describe('cache-control', () => {
  it('parses the directives the edge acts on, case-insensitively, ignoring unknown ones', () => {
    expect(parseCacheControl('Public, MAX-AGE=31536000, immutable')).toMatchObject({ maxAge: 31536000, immutable: true, noStore: false });
    expect(parseCacheControl('no-cache="set-cookie", s-maxage=5, max-age=1, stale-if-error=7, foo=bar')).toMatchObject({
      noCache: true,
      sMaxAge: 5,
      maxAge: 1,
      staleIfError: 7,
    });
    expect(parseCacheControl('max-age=abc, private, no-store')).toMatchObject({ maxAge: undefined, private: true, noStore: true });
    expect(parseCacheControl(undefined)).toEqual({ noStore: false, noCache: false, private: false, immutable: false });
  });

  it('stores immutable media for its max-age', () => {
    expect(storagePolicy(facts('public, max-age=31536000, immutable'), defaults)).toEqual({
      store: true,
      freshMs: 31536000_000,
      staleIfErrorMs: 30_000,
      immutable: true,
    });
  });

  it('prefers s-maxage, subtracts the Age an upstream cache reported, and honours stale-if-error', () => {
    expect(storagePolicy(facts('max-age=10, s-maxage=4, stale-if-error=9', { age: 1 }), defaults)).toMatchObject({ freshMs: 3000, staleIfErrorMs: 9000 });
    expect(storagePolicy(facts('max-age=2', { age: 5 }), defaults).freshMs).toBe(0);
  });

  it('keeps no-cache and max-age-less responses only as stale-if-error copies', () => {
    expect(storagePolicy(facts('no-cache'), defaults)).toMatchObject({ store: true, freshMs: 0, staleIfErrorMs: 30_000 });
    expect(storagePolicy(facts(undefined), defaults)).toMatchObject({ store: true, freshMs: 0 });
  });

  it('never stores no-store, private, Set-Cookie, Vary: * or non-200 responses', () => {
    expect(storagePolicy(facts('no-store'), defaults).store).toBe(false);
    expect(storagePolicy(facts('private, max-age=60'), defaults).store).toBe(false);
    expect(storagePolicy(facts('max-age=60', { setCookie: true }), defaults).store).toBe(false);
    expect(storagePolicy(facts('max-age=60', { vary: '*' }), defaults).store).toBe(false);
    expect(storagePolicy(facts('max-age=60', { status: 404 }), defaults).store).toBe(false);
    expect(storagePolicy(facts('max-age=60', { status: 206 }), defaults).store).toBe(false);
  });

  it('gives blocking-reload playlists at least the floor, even under no-cache, but never stores no-store', () => {
    const blocking = { ...defaults, blockingReloadTtlMs: 6000 };
    expect(storagePolicy(facts('no-cache'), blocking).freshMs).toBe(6000);
    expect(storagePolicy(facts('public, max-age=12'), blocking).freshMs).toBe(12_000);
    expect(storagePolicy(facts('no-store'), blocking).store).toBe(false);
  });
});
