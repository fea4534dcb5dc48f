import { execFileSync } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { FsBlobStore, MemoryLiveState, createLogger, createMetricsRegistry } from '../../platform/index.js';
import { tempDir } from '../../platform/test-support/env.js';
import { LiveCatalog } from './live-catalog.js';
import { createLiveMetrics, type LiveMetrics } from './live-session.js';
import { MAX_QUEUED_WRITES, RenditionPipeline } from './rendition-pipeline.js';
import type { RenditionInfo } from '../contract.js';
import { toRenditionPlaylist, toStreamMpd } from '../manifest/from-catalog.js';

/** 160x90 video (or another size) as the live ladder writes it: fMP4, one fragment per frame, keyframes every 2 s. */
function liveLikeVideo(seconds: number, size = '160x90'): Buffer {
  return execFileSync('ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-t', String(seconds), '-i', `testsrc2=size=${size}:rate=30`,
    '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-g', '60', '-keyint_min', '60', '-sc_threshold', '0',
    '-force_key_frames', 'expr:gte(t,n_forced*2)', '-pix_fmt', 'yuv420p',
    '-movflags', 'empty_moov+default_base_moof+frag_every_frame', '-f', 'mp4', 'pipe:1',
  ], { maxBuffer: 64 * 1024 * 1024 });
}

/** A 160x90 video pipeline as the live session builds one, numbering from `firstMsn`. */
function videoPipeline(deps: Omit<ConstructorParameters<typeof RenditionPipeline>[0], 'logger' | 'metrics'> & { metrics?: LiveMetrics }, streamId: string, firstMsn: number): RenditionPipeline {
  return new RenditionPipeline(
    { logger: createLogger('silent'), metrics: deps.metrics ?? createLiveMetrics(createMetricsRegistry(false)), ...deps },
    {
      streamId,
      output: { name: '90p', kind: 'video', fd: 3, height: 90, width: 160, videoBitrateKbps: 100, fps: 30 },
      partTarget: 0.334,
      segmentTarget: 2,
      dvrWindowSeconds: 3600,
      firstMsn,
      clock: { runOffsetSeconds: () => 0, wallClockMs: (t) => 1_700_000_000_000 + t * 1000 },
    },
  );
}

describe('RenditionPipeline', () => {
  it('stores parts, segments and init, announces them in order, and deletes parts that left the live edge', async () => {
    const dir = await tempDir('pipeline-');
    const blobs = new FsBlobStore(dir);
    const catalog = new LiveCatalog(new MemoryLiveState());
    const announced: { msn: number; parts: number; segments: number }[] = [];
    const infos: RenditionInfo[] = [];
    const pipeline = videoPipeline({ blobs, catalog, onInfo: async (i) => void infos.push(i) }, 's1', 100);
    const origPublish = catalog.publish.bind(catalog);
    /** Each announcement's preload hint, and the first part announced after it. */
    const hints: { hint: string; next?: string }[] = [];
    catalog.publish = async (t) => {
      // Storage first, then the announcement: every part listed is already readable.
      for (const ev of t.pendingEvents()) {
        const name = ev.e === 'part' ? `part-${ev.msn}.${ev.i}.m4s` : ev.e === 'seg' ? `seg-${ev.msn}.m4s` : undefined;
        if (name) expect(await blobs.head(`live/s1/90p/${name}`)).not.toBeNull();
        // The rendition is described (with a measured bitrate) before its first segment is listed.
        if (ev.e === 'seg') expect(infos.length).toBeGreaterThan(0);
        if (ev.e === 'part') for (const h of hints) h.next ??= `${ev.msn}.${ev.i}`;
      }
      await origPublish(t);
      const r = pipeline.state!;
      announced.push({ msn: r.current.msn, parts: r.current.parts.length, segments: r.segments.length });
      const hint = r.hint ?? { msn: r.current.msn, part: r.current.parts.length };
      if (!r.ended) hints.push({ hint: `${hint.msn}.${hint.part}` });
    };
    const bytes = liveLikeVideo(24);
    // Fed in small chunks with pauses, as a pipe delivers frames: parts are announced one by one.
    for (let i = 0; i < bytes.length; i += 1500) {
      pipeline.push(bytes.subarray(i, i + 1500));
      await new Promise((r) => setTimeout(r, 3));
    }
    await pipeline.finish();

    const state = pipeline.state!;
    expect(state.ended).toBe(true);
    expect(state.segments.map((s) => s.msn)).toEqual(Array.from({ length: 12 }, (_, i) => 100 + i));
    for (const s of state.segments) expect(s.duration).toBeCloseTo(2, 1);
    expect(state.segments[1].programDateTimeMs).toBe(1_700_000_000_000 + 2000);
    expect(infos[0]).toMatchObject({ name: '90p', kind: 'video', codec: expect.stringMatching(/^avc1\./), width: 160, height: 90 });
    // BANDWIDTH covers the peak segment bitrate; AVERAGE-BANDWIDTH is the measured average (RFC 8216bis §4.4.6.2).
    const rates: number[] = [];
    let bits = 0;
    let secs = 0;
    for (const seg of state.segments) {
      const size = (await blobs.head(`live/s1/90p/seg-${seg.msn}.m4s`))!.size;
      rates.push((size * 8) / seg.duration);
      bits += size * 8;
      secs += seg.duration;
    }
    const last = infos.at(-1)!;
    expect(last.bandwidth).toBeGreaterThanOrEqual(Math.max(...rates));
    expect(last.bandwidth).toBeLessThan(Math.max(...rates) * 1.1 + 1000);
    expect(last.averageBandwidth! / (bits / secs)).toBeCloseTo(1, 1);
    // Announced again only when a segment went above the advertised peak, not every segment.
    expect(infos.length).toBeLessThan(state.segments.length);
    expect(await blobs.head(`live/s1/90p/${state.initName}`)).not.toBeNull();
    // Every segment is stored and equals its parts; parts of old segments are gone, recent ones kept.
    const keys = (await blobs.list('live/s1/90p/')).map((b) => path.basename(b.key));
    for (const s of state.segments) expect(keys).toContain(`seg-${s.msn}.m4s`);
    expect(keys.filter((k) => k.startsWith('part-100.'))).toEqual([]);
    expect(keys.some((k) => k.startsWith('part-111.'))).toBe(true);
    // Every preload hint names the part that came next: never one that will not exist (§4.4.5.3).
    const followed = hints.filter((h) => h.next);
    expect(followed.length).toBeGreaterThan(60);
    for (const h of followed) expect(h.hint).toBe(h.next);
    // What a reader rebuilds from the catalog is what the packager holds.
    const loaded = (await catalog.loadRendition('s1', '90p'))!;
    expect(loaded.state.segments).toEqual(state.segments);
    expect(loaded.state.ended).toBe(true);
    // Announcements only move forward.
    for (let i = 1; i < announced.length; i++) {
      const [a, b] = [announced[i - 1], announced[i]];
      expect(b.msn > a.msn || (b.msn === a.msn && b.parts >= a.parts)).toBe(true);
    }
  }, 60_000);

  it('bounds its write queue when storage stalls: drops whole segments, then resumes after a discontinuity', async () => {
    const dir = await tempDir('pipeline-slow-');
    const fast = new FsBlobStore(dir);
    let stalled = true;
    // Storage that stalls (as a struggling S3 would) until the test lets it go.
    const blobs = Object.create(fast) as FsBlobStore;
    blobs.put = async (...args: Parameters<FsBlobStore['put']>) => {
      while (stalled) await new Promise((r) => setTimeout(r, 20));
      return fast.put(...args);
    };
    const registry = createMetricsRegistry(false);
    const metrics = createLiveMetrics(registry);
    const catalog = new LiveCatalog(new MemoryLiveState());
    const pipeline = videoPipeline({ blobs, catalog, metrics }, 's2', 1);
    // 40 s of media arrive while nothing can be written.
    const bytes = liveLikeVideo(40);
    let maxDepth = 0;
    for (let i = 0; i < bytes.length; i += 4000) {
      pipeline.push(bytes.subarray(i, i + 4000));
      maxDepth = Math.max(maxDepth, pipeline.queueDepth);
    }
    // Bounded: at most one segment's writes past the limit, however long storage stalls.
    expect(maxDepth).toBeLessThanOrEqual(MAX_QUEUED_WRITES + 8);
    const dropped = (await registry.getSingleMetric('packager_dropped_parts_total')!.get()).values.reduce((a, v) => a + v.value, 0);
    expect(dropped).toBeGreaterThan(30);
    expect((await registry.getSingleMetric('packager_write_queue_depth')!.get()).values[0].value).toBe(pipeline.queueDepth);
    // Storage recovers; new media continues the stream after a discontinuity.
    stalled = false;
    // Let the backlog drain (on a loaded machine that takes more than a few milliseconds).
    for (const deadline = Date.now() + 20_000; pipeline.queueDepth > 0 && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 20));
    const more = liveLikeVideo(8);
    pipeline.restart(false);
    for (let i = 0; i < more.length; i += 4000) pipeline.push(more.subarray(i, i + 4000));
    await pipeline.finish();
    const state = pipeline.state!;
    // Listed segments are whole: every segment with parts has parts that add up to it.
    for (const seg of state.segments) {
      if (seg.parts) expect(seg.parts.reduce((a, p) => a + p.duration, 0)).toBeCloseTo(seg.duration, 2);
      expect(await fast.head(`live/s2/90p/seg-${seg.msn}.m4s`)).not.toBeNull();
    }
    expect(state.segments.length).toBeLessThan(24);
    expect(state.segments.some((x) => x.discontinuity)).toBe(true);
    expect(pipeline.queueDepth).toBe(0);
  }, 60_000);

  it('keeps one init across a restart with the same sample entries, and writes and signals a new one when they change', async () => {
    const dir = await tempDir('pipeline-init-');
    const blobs = new FsBlobStore(dir);
    const catalog = new LiveCatalog(new MemoryLiveState());
    const pipeline = videoPipeline({ blobs, catalog }, 's3', 100);
    const feed = (bytes: Buffer) => {
      for (let i = 0; i < bytes.length; i += 4000) pipeline.push(bytes.subarray(i, i + 4000));
    };
    feed(liveLikeVideo(4));
    pipeline.restart(true);
    feed(liveLikeVideo(4));
    await pipeline.finish().catch(() => undefined);
    expect(pipeline.initKeysUsed).toEqual(['live/s3/90p/init-100.mp4']);
    // The publisher comes back at another size: new sample entries, a new init from the next segment on.
    const resumed = videoPipeline({ blobs, catalog }, 's4', 100);
    const small = liveLikeVideo(4);
    for (let i = 0; i < small.length; i += 4000) resumed.push(small.subarray(i, i + 4000));
    resumed.restart(true);
    const wide = liveLikeVideo(4, '192x90');
    for (let i = 0; i < wide.length; i += 4000) resumed.push(wide.subarray(i, i + 4000));
    await resumed.finish();
    const state = resumed.state!;
    const changed = state.segments.find((x) => x.initName);
    expect(changed).toBeDefined();
    expect(changed!.discontinuity).toBe(true);
    expect(resumed.initKeysUsed).toEqual(['live/s4/90p/init-100.mp4', `live/s4/90p/init-${changed!.msn}.mp4`]);
    const playlist = toRenditionPlaylist(state, { playlistType: 'VOD' });
    expect(playlist).toContain(`#EXT-X-DISCONTINUITY\n#EXT-X-MAP:URI="init-${changed!.msn}.mp4"`);
    expect(playlist.indexOf('#EXT-X-MAP:URI="init-100.mp4"')).toBeLessThan(playlist.indexOf(`init-${changed!.msn}.mp4`));
    // Each init decodes the segments listed under it (FFmpeg's HLS reader keeps the first init, so each
    // run of segments is checked as init + segments, the way a player appends them after EXT-X-MAP).
    const folder = path.join(dir, 'objects', 'live', 's4', '90p');
    const run = async (init: string, msns: number[]) => {
      const file = path.join(folder, `run-${init}`);
      await fs.writeFile(file, Buffer.concat([await fs.readFile(path.join(folder, init)), ...(await Promise.all(msns.map((m) => fs.readFile(path.join(folder, `seg-${m}.m4s`)))))]));
      const out = execFileSync('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-count_frames', '-show_entries', 'stream=width,nb_read_frames', '-of', 'csv=p=0', file], { encoding: 'utf8' });
      return out.trim();
    };
    const before = state.segments.filter((x) => x.msn < changed!.msn).map((x) => x.msn);
    const after = state.segments.filter((x) => x.msn >= changed!.msn).map((x) => x.msn);
    expect(await run('init-100.mp4', before)).toMatch(/^160,\d{2,}$/);
    expect(await run(`init-${changed!.msn}.mp4`, after)).toMatch(/^192,\d{2,}$/);
    // The MPD lists what follows the change, with that init.
    const stream = { streamId: 's4', sessionId: 'x', startedAtMs: 0, renditions: [{ name: '90p', kind: 'video' as const, codec: 'avc1.64000c', bandwidth: 100_000, width: 192, height: 90, timescale: state.timescale }], expectedRenditions: ['90p'], partTarget: 0.334, segmentTarget: 2, dvrWindowSeconds: 3600, ended: false };
    const mpd = toStreamMpd(stream, [state], Date.now());
    expect(mpd).toContain(`initialization="$RepresentationID$/init-${changed!.msn}.mp4"`);
    expect(mpd).toContain(`startNumber="${changed!.msn}"`);
  }, 60_000);
});
