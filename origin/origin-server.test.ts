import http from 'node:http';
import zlib from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FsBlobStore, MemoryLiveState, createLogger, createMetricsRegistry, loadConfig } from '../platform/index.js';
import { tempDir } from '../platform/test-support/env.js';
import { LiveCatalog, RenditionTimeline, type RenditionInfo } from '../packager/index.js';
import { OriginServer } from './origin-server.js';
import m3u8Parser from 'm3u8-parser';

const STREAM = 'stream1';
const FIRST_MSN = 1000;

/** A rendition whose parts the test produces by hand, through the same catalog the packager uses. */
async function setup(env: Record<string, string> = {}) {
  const dir = await tempDir('origin-test-');
  const blobs = new FsBlobStore(dir);
  const catalog = new LiveCatalog(new MemoryLiveState());
  const config = loadConfig({ NODE_ENV: 'test', DATA_DIR: dir, ORIGIN_PORT: '0', BIND_HOST: '127.0.0.1', ORIGIN_BLOCKING_TIMEOUT_MS: '1500', ...env });
  const origin = new OriginServer({ blobs, catalog, logger: createLogger('silent'), metrics: createMetricsRegistry(false) }, config);
  await origin.start();
  const renditions: RenditionInfo[] = [
    { name: '360p', kind: 'video', codec: 'avc1.64001e', bandwidth: 900_000, width: 640, height: 360, frameRate: 30, timescale: 15360 },
    { name: 'audio', kind: 'audio', codec: 'mp4a.40.2', bandwidth: 130_000, sampleRate: 48000, channels: 2, timescale: 48000 },
  ];
  await catalog.putStream({ streamId: STREAM, sessionId: 's', startedAtMs: Date.now(), renditions, expectedRenditions: renditions.map((r) => r.name), partTarget: 0.5, segmentTarget: 2, dvrWindowSeconds: 60, ended: false });
  const timelines = new Map(
    renditions.map((r) => [
      r.name,
      new RenditionTimeline({ streamId: STREAM, rendition: r.name, kind: r.kind, timescale: r.timescale, initName: `init-${FIRST_MSN}.mp4`, partTarget: 0.5, segmentTarget: 2, dvrWindowSeconds: 60, firstMsn: FIRST_MSN }),
    ]),
  );
  for (const r of renditions) await blobs.put(`live/${STREAM}/${r.name}/init-${FIRST_MSN}.mp4`, Buffer.from(`init ${r.name}`));
  let t = 0;
  /** Writes one part to every rendition (storage first, then the catalog), closing segments every 4 parts. */
  async function addPart(): Promise<{ msn: number; part: number }> {
    let pos = { msn: 0, part: 0 };
    for (const [name, tl] of timelines) {
      pos = tl.addPart({ duration: 0.5, independent: tl.nextPart === 0 }, t, Date.now());
      await blobs.put(`live/${STREAM}/${name}/part-${pos.msn}.${pos.part}.m4s`, Buffer.from(`part ${name} ${pos.msn}.${pos.part}`));
      if (pos.part === 3) {
        // As in the packager, a segment is the concatenation of its parts.
        await blobs.put(`live/${STREAM}/${name}/seg-${pos.msn}.m4s`, Buffer.from([0, 1, 2, 3].map((i) => `part ${name} ${pos.msn}.${i}`).join('')));
        tl.closeSegment(2);
      }
      await catalog.publish(tl);
    }
    t += 0.5 * 15360;
    return pos;
  }
  return { origin, base: `http://127.0.0.1:${origin.port}`, addPart, catalog, timelines, blobs };
}

describe('OriginServer', () => {
  let ctx: Awaited<ReturnType<typeof setup>>;
  beforeAll(async () => {
    ctx = await setup();
    for (let i = 0; i < 10; i++) await ctx.addPart(); // two complete segments and half of the third
  });
  afterAll(() => ctx.origin.close());

  it('serves LL-HLS media playlists that an independent parser reads', async () => {
    const res = await fetch(`${ctx.base}/live/${STREAM}/360p/index.m3u8`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/vnd.apple.mpegurl');
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    const parser = new m3u8Parser.Parser();
    parser.push(await res.text());
    parser.end();
    const m = parser.manifest as any;
    expect(m.mediaSequence).toBe(FIRST_MSN);
    expect(m.segments).toHaveLength(2);
    expect(m.serverControl.canBlockReload).toBe(true);
    expect(m.partInf.partTarget).toBe(0.5);
    expect(m.preloadSegment.preloadHints[0].uri).toBe(`part-${FIRST_MSN + 2}.2.m4s`);
    expect(m.renditionReports[0].uri).toContain('audio');
  });

  it('holds a blocking reload until the part exists, then answers with it', async () => {
    const started = Date.now();
    const pending = fetch(`${ctx.base}/live/${STREAM}/360p/index.m3u8?_HLS_msn=${FIRST_MSN + 2}&_HLS_part=2`);
    await new Promise((r) => setTimeout(r, 300));
    await ctx.addPart();
    const res = await pending;
    expect(res.status).toBe(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(280);
    expect(await res.text()).toContain(`part-${FIRST_MSN + 2}.2.m4s`);
    expect(res.headers.get('cache-control')).toMatch(/max-age=\d+/);
  });

  it('holds a preload-hint part request until the part is written', async () => {
    const pending = fetch(`${ctx.base}/live/${STREAM}/audio/part-${FIRST_MSN + 2}.3.m4s`);
    await new Promise((r) => setTimeout(r, 200));
    await ctx.addPart();
    const res = await pending;
    expect(res.status).toBe(200);
    expect(await res.text()).toBe(`part audio ${FIRST_MSN + 2}.3`);
    expect(res.headers.get('cache-control')).toContain('immutable');
  });

  it('answers 400 for a request too far ahead and 503 after holding too long', async () => {
    const far = await fetch(`${ctx.base}/live/${STREAM}/360p/index.m3u8?_HLS_msn=${FIRST_MSN + 10}`);
    expect(far.status).toBe(400);
    expect(far.headers.get('content-type')).toBe('application/problem+json');
    expect((await far.json()).code).toBe('TOO_FAR_AHEAD');
    const slow = await fetch(`${ctx.base}/live/${STREAM}/360p/index.m3u8?_HLS_msn=${FIRST_MSN + 4}&_HLS_part=0`);
    expect(slow.status).toBe(503);
    expect((await slow.json()).code).toBe('BLOCKING_TIMEOUT');
    const bad = await fetch(`${ctx.base}/live/${STREAM}/360p/index.m3u8?_HLS_part=1`);
    expect(bad.status).toBe(400);
  });

  it('answers delta updates with EXT-X-SKIP', async () => {
    for (let i = 0; i < 40; i++) await ctx.addPart();
    const full = await (await fetch(`${ctx.base}/live/${STREAM}/360p/index.m3u8`)).text();
    const delta = await (await fetch(`${ctx.base}/live/${STREAM}/360p/index.m3u8?_HLS_skip=YES`)).text();
    expect(delta).toMatch(/#EXT-X-SKIP:SKIPPED-SEGMENTS=\d+/);
    expect(delta.length).toBeLessThan(full.length);
  });

  it('serves playlists gzip or br as asked, with Vary, the same bytes while the catalog stands still', async () => {
    for (let i = 0; i < 8; i++) await ctx.addPart(); // a playlist long enough to compress
    const raw = (encoding?: string) =>
      new Promise<{ headers: http.IncomingHttpHeaders; body: Buffer }>((resolve, reject) => {
        http.get(`${ctx.base}/live/${STREAM}/360p/index.m3u8`, { headers: encoding ? { 'accept-encoding': encoding } : {} }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ headers: res.headers, body: Buffer.concat(chunks) }));
        }).on('error', reject);
      });
    const plain = await raw();
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(plain.headers.vary).toBe('Accept-Encoding');
    const text = plain.body.toString();
    expect(text).toContain('#EXTM3U');
    const gz = await raw('gzip, deflate');
    expect(gz.headers['content-encoding']).toBe('gzip');
    expect(zlib.gunzipSync(gz.body).toString()).toBe(text);
    expect(gz.body.length).toBeLessThan(plain.body.length / 2);
    const br = await raw('gzip, deflate, br');
    expect(br.headers['content-encoding']).toBe('br');
    expect(zlib.brotliDecompressSync(br.body).toString()).toBe(text);
    // q=0 refuses a coding.
    expect((await raw('br;q=0, gzip')).headers['content-encoding']).toBe('gzip');
    expect((await raw('identity')).headers['content-encoding']).toBeUndefined();
    // Memoised: the same version gives the same compressed bytes; a new part gives a new playlist.
    expect((await raw('br')).body.equals(br.body)).toBe(true);
    await ctx.addPart();
    const after = await raw();
    expect(after.body.toString()).not.toBe(text);
  });

  it('serves init, segments and byte ranges as immutable media', async () => {
    const seg = await fetch(`${ctx.base}/live/${STREAM}/360p/seg-${FIRST_MSN}.m4s`);
    expect(seg.status).toBe(200);
    expect(seg.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(await seg.text()).toBe(`part 360p ${FIRST_MSN}.0part 360p ${FIRST_MSN}.1part 360p ${FIRST_MSN}.2part 360p ${FIRST_MSN}.3`);
    const range = await fetch(`${ctx.base}/live/${STREAM}/360p/seg-${FIRST_MSN}.m4s`, { headers: { range: 'bytes=0-3' } });
    expect(range.status).toBe(206);
    expect(await range.text()).toBe('part');
    const etag = seg.headers.get('etag')!;
    const again = await fetch(`${ctx.base}/live/${STREAM}/360p/seg-${FIRST_MSN}.m4s`, { headers: { 'if-none-match': etag } });
    expect(again.status).toBe(304);
    const init = await fetch(`${ctx.base}/live/${STREAM}/360p/init-${FIRST_MSN}.mp4`);
    expect(await init.text()).toBe('init 360p');
  });

  it('streams the segment being produced as its parts complete (DASH availabilityTimeOffset)', async () => {
    if (ctx.timelines.get('360p')!.nextPart === 0) await ctx.addPart();
    const msn = ctx.timelines.get('360p')!.msn;
    const res = await fetch(`${ctx.base}/live/${STREAM}/360p/seg-${msn}.m4s`);
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    const first = new TextDecoder().decode((await reader.read()).value);
    expect(first).toContain(`part 360p ${msn}.0`);
    const rest: string[] = [];
    const done = (async () => {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        rest.push(new TextDecoder().decode(value));
      }
    })();
    while (ctx.timelines.get('360p')!.msn === msn) await ctx.addPart();
    await done;
    expect(first + rest.join('')).toBe([0, 1, 2, 3].map((i) => `part 360p ${msn}.${i}`).join(''));
  });

  it('never reads outside the media root', async () => {
    await ctx.blobs.put('secret.txt', Buffer.from('secret'));
    for (const p of ['/live/../secret.txt', '/live/%2e%2e/secret.txt', '/vod/x/..%2f..%2fsecret.txt', '/vod/x/%00', '/etc/passwd']) {
      const res = await fetch(`${ctx.base}${p}`);
      expect(res.status).toBe(404);
      expect(await res.text()).not.toContain('secret');
    }
  });

  it('renders the multivariant playlist and a dynamic MPD', async () => {
    const master = await (await fetch(`${ctx.base}/live/${STREAM}/master.m3u8`)).text();
    expect(master).toContain('#EXT-X-STREAM-INF');
    expect(master).toContain('TYPE=AUDIO');
    const mpd = await fetch(`${ctx.base}/live/${STREAM}/manifest.mpd`);
    expect(mpd.status).toBe(200);
    expect(await mpd.text()).toContain('type="dynamic"');
  });
});

describe('OriginServer while a stream starts', () => {
  it('holds the master and media playlists until every rendition has a complete segment', async () => {
    const ctx = await setup();
    try {
      const master = fetch(`${ctx.base}/live/${STREAM}/master.m3u8`);
      const media = fetch(`${ctx.base}/live/${STREAM}/audio/index.m3u8`);
      await new Promise((r) => setTimeout(r, 200));
      for (let i = 0; i < 4; i++) await ctx.addPart(); // closes the first segment of every rendition
      const [m, a] = await Promise.all([master, media]);
      expect(m.status).toBe(200);
      expect(await m.text()).toContain('#EXT-X-STREAM-INF');
      expect(a.status).toBe(200);
      expect(await a.text()).toContain('#EXTINF');
    } finally {
      await ctx.origin.close();
    }
  });
});

describe('OriginServer under a flood of blocking requests', () => {
  it('holds at most ORIGIN_MAX_HELD_REQUESTS and answers the rest 503 ORIGIN_BUSY at once', async () => {
    const ctx = await setup({ ORIGIN_MAX_HELD_REQUESTS: '3' });
    try {
      for (let i = 0; i < 5; i++) await ctx.addPart();
      const next = `${ctx.base}/live/${STREAM}/360p/index.m3u8?_HLS_msn=${FIRST_MSN + 1}&_HLS_part=1`;
      const held = [0, 1, 2].map(() => fetch(next));
      await new Promise((r) => setTimeout(r, 200));
      const started = Date.now();
      const refused = await fetch(next);
      expect(refused.status).toBe(503);
      expect(refused.headers.get('retry-after')).toBe('1');
      expect((await refused.json()).code).toBe('ORIGIN_BUSY');
      expect(Date.now() - started).toBeLessThan(500);
      await ctx.addPart();
      for (const res of await Promise.all(held)) expect(res.status).toBe(200);
      // Released requests free their places.
      const again = fetch(`${ctx.base}/live/${STREAM}/360p/index.m3u8?_HLS_msn=${FIRST_MSN + 1}&_HLS_part=2`);
      await new Promise((r) => setTimeout(r, 100));
      await ctx.addPart();
      expect((await again).status).toBe(200);
    } finally {
      await ctx.origin.close();
    }
  });
});
