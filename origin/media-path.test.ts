import { describe, it, expect } from 'vitest';
import { parseDirectives, parseMediaPath, storageKeyOf } from './media-path.js';

describe('parseMediaPath', () => {
  it('maps live playlists, init, segments and parts', () => {
    expect(parseMediaPath('/live/abc/master.m3u8')).toEqual({ scope: 'live', id: 'abc', kind: 'master' });
    expect(parseMediaPath('/live/abc/manifest.mpd')).toEqual({ scope: 'live', id: 'abc', kind: 'mpd' });
    expect(parseMediaPath('/live/abc/720p/index.m3u8')).toEqual({ scope: 'live', id: 'abc', kind: 'media-playlist', rendition: '720p' });
    const part = parseMediaPath('/live/abc/audio/part-17.3.m4s');
    expect(part).toEqual({ scope: 'live', id: 'abc', kind: 'part', rendition: 'audio', file: 'part-17.3.m4s', msn: 17, part: 3 });
    expect(storageKeyOf(part!)).toBe('live/abc/audio/part-17.3.m4s');
    expect(storageKeyOf(parseMediaPath('/live/abc/360p/seg-9.m4s')!)).toBe('live/abc/360p/seg-9.m4s');
    expect(storageKeyOf(parseMediaPath('/live/abc/360p/init-1.mp4')!)).toBe('live/abc/360p/init-1.mp4');
  });

  it('maps vod files one folder deep', () => {
    expect(storageKeyOf(parseMediaPath('/vod/a1/master.m3u8')!)).toBe('vod/a1/master.m3u8');
    expect(storageKeyOf(parseMediaPath('/vod/a1/720p/seg-3.m4s')!)).toBe('vod/a1/720p/seg-3.m4s');
    // A rendition's offline file is assembled, not stored.
    expect(parseMediaPath('/vod/a1/720p.mp4')).toEqual({ scope: 'vod', id: 'a1', kind: 'download', rendition: '720p' });
    expect(storageKeyOf(parseMediaPath('/vod/a1/720p.mp4')!)).toBeNull();
    expect(parseMediaPath('/vod/a1/72.0p.mp4')?.kind).not.toBe('download');
  });

  it.each([
    // An escaped slash the edge refuses must not name a path at the origin either.
    '/vod/abc/720p%2Fseg-1.m4s',
    '/live/abc/720p%2findex.m3u8',
    '/live/abc/%37%32%30p/seg-1.m4s',
    '/live/../etc/passwd',
    '/live/abc/%2e%2e/%2e%2e/etc/passwd',
    '/live/abc/..%2fseg-1.m4s',
    '/vod/abc/../../secret',
    '/vod/abc/%2e%2e%2fsecret',
    '/vod/abc/.hidden',
    '/vod/abc//etc/passwd',
    '/vod/abc/a/b/c.m4s',
    '/live/abc/720p/seg-1.m4s%00.txt',
    '/live/abc/720p\\seg-1.m4s',
    '//etc/passwd',
    '/live/abc/720p/seg-x.m4s',
    '/live/abc/720p/other.txt',
    '/live/%zz/master.m3u8',
    '/other/abc/master.m3u8',
  ])('rejects %s', (p) => {
    expect(parseMediaPath(p)).toBeNull();
  });
});

describe('parseDirectives', () => {
  it('parses blocking reload and skip', () => {
    expect(parseDirectives(new URLSearchParams('_HLS_msn=5&_HLS_part=2&_HLS_skip=YES'))).toEqual({ msn: 5, part: 2, skip: 'YES' });
    expect(parseDirectives(new URLSearchParams(''))).toEqual({});
  });

  it('rejects malformed directives with a reason', () => {
    expect(parseDirectives(new URLSearchParams('_HLS_part=2'))).toMatch(/requires _HLS_msn/);
    expect(parseDirectives(new URLSearchParams('_HLS_msn=-1'))).toMatch(/non-negative/);
    expect(parseDirectives(new URLSearchParams('_HLS_msn=1&_HLS_part=x'))).toMatch(/non-negative/);
    expect(parseDirectives(new URLSearchParams('_HLS_skip=NO'))).toMatch(/YES or v2/);
  });
});
