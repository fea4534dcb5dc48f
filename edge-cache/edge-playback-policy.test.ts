/** Per-stream playback policy at the edge fails closed: unknown, unanswerable or unverifiable means refused. */
import { afterEach, describe, expect, it } from 'vitest';
import { signPlaybackToken } from './playback-auth.js';
import { TestOrigin } from './test-origin.js';
import { get, startEdge, type TestEdge } from './test-helpers.js';

const KEY = 'edge-policy-test-key-0123456789abcdef';
const PLAYLIST = { 'content-type': 'application/vnd.apple.mpegurl', 'cache-control': 'no-cache' };

describe('edge playback policy', () => {
  let origin: TestOrigin;
  let edge: TestEdge | undefined;
  afterEach(async () => {
    await edge?.close();
    await origin?.kill();
  });

  async function setup(policy: (id: string) => Promise<'signed' | 'public'>, key?: string) {
    origin = await new TestOrigin().start();
    for (const id of ['open1', 'sig1']) origin.route(`/live/${id}/master.m3u8`, { headers: PLAYLIST, body: '#EXTM3U\n' });
    edge = await startEdge([origin.url], key ? { playbackSigningKey: key } : {}, { playbackPolicy: policy });
    return edge;
  }

  it('asks for each media id once, serves public media and wants a token for signed media', async () => {
    const asked: string[] = [];
    const e = await setup(async (id) => {
      asked.push(id);
      return id.startsWith('sig') ? 'signed' : 'public';
    }, KEY);
    expect((await get(`${e.url}/live/open1/master.m3u8`)).status).toBe(200);
    expect((await get(`${e.url}/live/sig1/master.m3u8`)).status).toBe(401);
    const token = signPlaybackToken(KEY, { sub: 'sig1', ttlSeconds: 60 });
    expect((await get(`${e.url}/live/sig1/master.m3u8?token=${token}`)).status).toBe(200);
    expect(asked.sort()).toEqual(['open1', 'sig1']);
    expect(origin.count('/live/sig1/master.m3u8')).toBe(1);
  });

  it('refuses with 503 when the policy cannot be looked up, instead of serving as if public', async () => {
    const e = await setup(async () => {
      throw new Error('control-api unreachable');
    }, KEY);
    const r = await get(`${e.url}/live/sig1/master.m3u8`);
    expect(r.status).toBe(503);
    expect(JSON.parse(r.body.toString()).code).toBe('POLICY_UNAVAILABLE');
    expect(origin.count('/live/sig1/master.m3u8')).toBe(0);
  });

  it('refuses signed media on an edge without a signing key (it could not check a token)', async () => {
    const e = await setup(async (id) => (id.startsWith('sig') ? 'signed' : 'public'));
    const r = await get(`${e.url}/live/sig1/master.m3u8`);
    expect(r.status).toBe(503);
    expect(JSON.parse(r.body.toString()).code).toBe('PLAYBACK_SIGNING_UNAVAILABLE');
    expect((await get(`${e.url}/live/open1/master.m3u8`)).status).toBe(200);
    expect(origin.count('/live/sig1/master.m3u8')).toBe(0);
  });
});
