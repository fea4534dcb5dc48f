import { describe, expect, it } from 'vitest';
import { bearerToken, parseTarget } from './request-target.js';

describe('request target', () => {
  it('keys plain media by path and drops unknown query parameters and the token', () => {
    expect(parseTarget('/live/s1/720p/part-3.1.m4s')).toEqual({ key: '/live/s1/720p/part-3.1.m4s', mediaId: 's1', blocking: false });
    expect(parseTarget('/vod/a-9_x/720p/seg-1.m4s?token=abc&x=1')).toEqual({
      key: '/vod/a-9_x/720p/seg-1.m4s',
      mediaId: 'a-9_x',
      token: 'abc',
      blocking: false,
    });
  });

  it('normalises blocking-reload directives into a fixed order', () => {
    const a = parseTarget('/live/s1/720p/index.m3u8?_HLS_skip=YES&token=t&_HLS_part=02&_HLS_msn=10');
    expect(a).toEqual({ key: '/live/s1/720p/index.m3u8?_HLS_msn=10&_HLS_part=2&_HLS_skip=YES', mediaId: 's1', token: 't', blocking: true });
    expect(parseTarget('/live/s1/720p/index.m3u8?_HLS_msn=10')).toMatchObject({ key: '/live/s1/720p/index.m3u8?_HLS_msn=10', blocking: true });
    expect(parseTarget('/live/s1/720p/index.m3u8?_HLS_skip=v2')).toMatchObject({ key: '/live/s1/720p/index.m3u8?_HLS_skip=v2', blocking: false });
    expect(parseTarget('/live/s1/720p/index.m3u8?token=a%2Eb')).toMatchObject({ token: 'a.b' });
  });

  it('takes a /t/{token} prefix off the path: it is the token, not part of the key', () => {
    expect(parseTarget('/t/aaa.bbb.ccc/live/s1/720p/index.m3u8?_HLS_msn=3&token=ignored')).toEqual({
      key: '/live/s1/720p/index.m3u8?_HLS_msn=3',
      mediaId: 's1',
      token: 'aaa.bbb.ccc',
      blocking: true,
    });
    expect(parseTarget('/t/x')).toBeUndefined();
    expect(parseTarget('/t//live/s1/master.m3u8')).toBeUndefined();
    expect(parseTarget('/t/x/etc/passwd')).toBeUndefined();
    expect(parseTarget('/t/x/live/s1/../s2/master.m3u8')).toBeUndefined();
  });

  it('keys only live media playlists by delivery directives: anywhere else they are dropped', () => {
    // Cache pollution: one origin fetch and one stored copy per random value, before.
    for (const path of ['/live/s1/720p/seg-5.m4s', '/live/s1/720p/part-5.1.m4s', '/live/s1/master.m3u8', '/live/s1/manifest.mpd', '/vod/a1/720p/index.m3u8']) {
      expect(parseTarget(`${path}?_HLS_msn=${Math.floor(Math.random() * 1e9)}&_HLS_part=3&_HLS_skip=YES`)).toEqual({ key: path, mediaId: path.split('/')[2], blocking: false });
      // Malformed directives on them are ignored, not refused.
      expect(parseTarget(`${path}?_HLS_msn=-1&token=t`)).toEqual({ key: path, mediaId: path.split('/')[2], token: 't', blocking: false });
    }
  });

  it('reports malformed directives', () => {
    expect(parseTarget('/live/s1/720p/index.m3u8?_HLS_msn=-1')).toBe('_HLS_msn must be a non-negative integer');
    expect(parseTarget('/live/s1/720p/index.m3u8?_HLS_msn=1&_HLS_part=x')).toBe('_HLS_part must be a non-negative integer');
    expect(parseTarget('/live/s1/720p/index.m3u8?_HLS_part=1')).toBe('_HLS_part requires _HLS_msn');
    expect(parseTarget('/live/s1/720p/index.m3u8?_HLS_skip=NO')).toBe('_HLS_skip must be YES or v2');
  });

  it('refuses anything that is not a plain media path', () => {
    for (const bad of [
      '/',
      '/healthz',
      '/live/s1',
      '/live/s1/',
      '/live/s1/../s2/master.m3u8',
      '/live/s1/./master.m3u8',
      '/live/s1//master.m3u8',
      '/live/s1/%2e%2e/master.m3u8',
      '/live/s 1/master.m3u8',
      '/live/s1/.hidden',
      '/other/s1/master.m3u8',
      `/live/${'x'.repeat(65)}/master.m3u8`,
    ]) {
      expect(parseTarget(bad), bad).toBeUndefined();
    }
  });

  it('reads bearer tokens', () => {
    expect(bearerToken('Bearer abc.def')).toBe('abc.def');
    expect(bearerToken('bearer   x ')).toBe('x');
    expect(bearerToken('Basic abc')).toBeUndefined();
    expect(bearerToken(undefined)).toBeUndefined();
  });
});
