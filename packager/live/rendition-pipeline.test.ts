import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { FsBlobStore, MemoryLiveState, createLogger, createMetricsRegistry } from '../../platform/index.js';
import { tempDir } from '../../platform/test-support/env.js';
import { LiveCatalog } from './live-catalog.js';
import { createLiveMetrics } from './live-session.js';
import { RenditionPipeline } from './rendition-pipeline.js';
import type { RenditionInfo } from '../contract.js';

/** 24 s of 160x90 video as the live ladder writes it: fMP4, one fragment per frame, keyframes every 2 s. */
function liveLikeVideo(seconds: number): Buffer {
  return execFileSync('ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-t', String(seconds), '-i', 'testsrc2=size=160x90:rate=30',
    '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-g', '60', '-keyint_min', '60', '-sc_threshold', '0',
    '-force_key_frames', 'expr:gte(t,n_forced*2)', '-pix_fmt', 'yuv420p',
    '-movflags', 'empty_moov+default_base_moof+frag_every_frame', '-f', 'mp4', 'pipe:1',
  ], { maxBuffer: 64 * 1024 * 1024 });
}

describe('RenditionPipeline', () => {
  it('stores parts, segments and init, announces them in order, and deletes parts that left the live edge', async () => {
    const dir = await tempDir('pipeline-');
    const blobs = new FsBlobStore(dir);
    const catalog = new LiveCatalog(new MemoryLiveState());
    const announced: { msn: number; parts: number; segments: number }[] = [];
    const pipeline = new RenditionPipeline(
      { blobs, catalog, logger: createLogger('silent'), metrics: createLiveMetrics(createMetricsRegistry(false)) },
      {
        streamId: 's1',
        output: { name: '90p', kind: 'video', fd: 3, height: 90, width: 160, videoBitrateKbps: 100, fps: 30 },
        partTarget: 0.334,
        segmentTarget: 2,
        dvrWindowSeconds: 3600,
        firstMsn: 100,
        clock: { runOffsetSeconds: () => 0, wallClockMs: (t) => 1_700_000_000_000 + t * 1000 },
      },
    );
    const infos: RenditionInfo[] = [];
    pipeline.on('info', (i) => infos.push(i));
    const origPublish = catalog.publish.bind(catalog);
    /** Each announcement's preload hint, and the first part announced after it. */
    const hints: { hint: string; next?: string }[] = [];
    catalog.publish = async (t) => {
      // Storage first, then the announcement: every part listed is already readable.
      for (const ev of t.pendingEvents()) {
        const name = ev.e === 'part' ? `part-${ev.msn}.${ev.i}.m4s` : ev.e === 'seg' ? `seg-${ev.msn}.m4s` : undefined;
        if (name) expect(await blobs.head(`live/s1/90p/${name}`)).not.toBeNull();
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
});
