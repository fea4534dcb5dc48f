import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cmcdOf, parseCmcdList, type Cmcd } from './cmcd.js';
import { get, metricValue, startEdge, type TestEdge } from './test-helpers.js';
import { TestOrigin } from './test-origin.js';

const parse = (s: string): Cmcd => {
  const c: Cmcd = {};
  parseCmcdList(s, c);
  return c;
};

describe('CMCD parsing (CTA-5004)', () => {
  it('reads integers, booleans, tokens and quoted strings, commas inside quotes included', () => {
    expect(parse('br=3200,bs,d=4004,mtp=25400,ot=v,rtp=15000,sid="6e2fb550-c457-11e9-bb97-0800200c9a66",cid="movie,part 2",tb=6000,su,bl=21300,st=v,sf=h,v=2,pr=1.25')).toEqual({
      br: 3200, bs: true, d: 4004, mtp: 25400, ot: 'v', rtp: 15000, sid: '6e2fb550-c457-11e9-bb97-0800200c9a66', cid: 'movie,part 2', tb: 6000, su: true, bl: 21300, st: 'v', sf: 'h', v: 2, pr: 1.25,
    });
    expect(parse('sid="a\\"b"')).toEqual({ sid: 'a"b' });
  });

  it('ignores unknown keys and drops values of the wrong type, out of range or oversized', () => {
    expect(parse('xyz=1,com.example-key="v",br=-5,bl=abc,ot=zz,sf=h,mtp=99999999999,bs=maybe,su=false')).toEqual({ sf: 'h', su: false });
    expect(parse(`sid="${'x'.repeat(65)}",cid="ok"`)).toEqual({ cid: 'ok' });
    expect(parse(`br=1,${'a'.repeat(3000)}`)).toEqual({});
    expect(parse(',,, ,br=10,')).toEqual({ br: 10 });
  });

  it('takes the query parameter and the four headers together', () => {
    const q = encodeURIComponent('bl=1000,br=800,ot=v,sid="s1"');
    expect(cmcdOf(`/vod/a/720p/seg-1.m4s?CMCD=${q}`, {})).toEqual({ bl: 1000, br: 800, ot: 'v', sid: 's1' });
    expect(cmcdOf('/vod/a/720p/seg-1.m4s', { 'cmcd-request': 'bl=2000,mtp=9000', 'cmcd-object': 'br=1500,d=2000,ot=av', 'cmcd-status': 'bs', 'cmcd-session': 'sid="s2",sf=h,st=l' })).toEqual({
      bl: 2000, mtp: 9000, br: 1500, d: 2000, ot: 'av', bs: true, sid: 's2', sf: 'h', st: 'l',
    });
    expect(cmcdOf('/vod/a/master.m3u8?token=x', {})).toBeUndefined();
    expect(cmcdOf('/vod/a/x.m4s?CMCD=%E0%A4%A', {})).toBeUndefined();
  });
});

describe('CMCD at the edge', () => {
  let origin: TestOrigin;
  let edge: TestEdge;

  beforeAll(async () => {
    origin = await new TestOrigin().start();
    origin.route('/vod/a1/720p/seg-1.m4s', { headers: { 'content-type': 'video/mp4', 'cache-control': 'max-age=60' }, body: 'segment' });
    edge = await startEdge([origin.url]);
  });
  afterAll(async () => {
    await edge.close();
    await origin.kill();
  });

  it('turns the CMCD players send into metrics, serving and caching the media as without it', async () => {
    const q = encodeURIComponent('bl=4000,br=2800,mtp=12000,ot=v,su,sid="sid-one-7f3a"');
    const first = await get(`${edge.url}/vod/a1/720p/seg-1.m4s?CMCD=${q}`);
    expect(first.status).toBe(200);
    const second = await get(`${edge.url}/vod/a1/720p/seg-1.m4s`, { 'cmcd-request': 'bl=500,mtp=3000', 'cmcd-object': 'br=2800,ot=v', 'cmcd-status': 'bs', 'cmcd-session': 'sid="sid-two-7f3a"' });
    expect(second.headers['x-cache']).toBe('HIT');
    expect(second.body.toString()).toBe('segment');
    await get(`${edge.url}/vod/a1/720p/seg-1.m4s`, { 'cmcd-object': `ot=v,br=${'9'.repeat(20)}` });
    expect(await metricValue(edge.registry, 'edge_cmcd_requests_total', '{ot="v"}')).toBe(3);
    expect(await metricValue(edge.registry, 'edge_cmcd_buffer_starvation_total')).toBe(1);
    expect(await metricValue(edge.registry, 'edge_cmcd_startup_requests_total')).toBe(1);
    expect(await metricValue(edge.registry, 'edge_cmcd_buffer_length_seconds_count')).toBe(2);
    expect(await metricValue(edge.registry, 'edge_cmcd_buffer_length_seconds_sum')).toBeCloseTo(4.5);
    expect(await metricValue(edge.registry, 'edge_cmcd_measured_throughput_bits_per_second_sum')).toBe(15_000_000);
    // The oversized bitrate was dropped: two observations, not three.
    expect(await metricValue(edge.registry, 'edge_cmcd_encoded_bitrate_bits_per_second_count')).toBe(2);
    // One upstream fetch: CMCD never reaches the cache key.
    expect(origin.count('/vod/a1/720p/seg-1.m4s')).toBe(1);
    // Session ids are not labels.
    expect(await edge.registry.metrics()).not.toMatch(/sid-(one|two)-7f3a/);
  });
});
