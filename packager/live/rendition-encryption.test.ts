import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { FsBlobStore, MemoryLiveState, createLogger, createMetricsRegistry } from '../../platform/index.js';
import { tempDir } from '../../platform/test-support/env.js';
import { decryptedMatching, framemd5 } from '../../platform/test-support/ffmpeg-decrypt.js';
import { randomContentKey, type ContentKeyGrant, type KeyProvider } from '../crypto/key-provider.js';
import { LiveKeyRing } from '../crypto/live-keys.js';
import { LiveCatalog } from './live-catalog.js';
import { createLiveMetrics } from './live-session.js';
import { RenditionPipeline } from './rendition-pipeline.js';

/** 12 s of 160x90 as the live ladder writes it: one fragment per frame, keyframes every second. */
function liveLikeVideo(): Buffer {
  return execFileSync('ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-t', '12', '-i', 'testsrc2=size=160x90:rate=30',
    '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-g', '30', '-keyint_min', '30', '-sc_threshold', '0',
    '-force_key_frames', 'expr:gte(t,n_forced*1)', '-pix_fmt', 'yuv420p',
    '-movflags', 'empty_moov+default_base_moof+frag_every_frame', '-f', 'mp4', 'pipe:1',
  ], { maxBuffer: 64 * 1024 * 1024 });
}

/** The built-in store's behaviour in memory: one key per (media, period), made on first request. */
class MemoryKeys implements KeyProvider {
  readonly keys = new Map<string, ContentKeyGrant>();
  async contentKey(req: { mediaId: string; period: string }): Promise<ContentKeyGrant> {
    const id = `${req.mediaId}/${req.period}`;
    if (!this.keys.has(id)) this.keys.set(id, randomContentKey());
    return this.keys.get(id)!;
  }
}

async function packaged(bytes: Buffer, encryption?: { scheme: 'cbcs' | 'cenc'; keys: LiveKeyRing }) {
  const blobs = new FsBlobStore(await tempDir('live-enc-'));
  const pipeline = new RenditionPipeline(
    { blobs, catalog: new LiveCatalog(new MemoryLiveState()), logger: createLogger('silent'), metrics: createLiveMetrics(createMetricsRegistry(false)) },
    {
      streamId: 's1', output: { name: '90p', kind: 'video', fd: 3, height: 90, width: 160, videoBitrateKbps: 100, fps: 30 },
      partTarget: 0.334, segmentTarget: 1, dvrWindowSeconds: 3600, firstMsn: 500,
      clock: { runOffsetSeconds: () => 0, wallClockMs: (t) => 1_700_000_000_000 + t * 1000 },
      ...(encryption ? { encryption } : {}),
    },
  );
  // As a pipe delivers it: the key ring fetches the coming periods' keys between chunks.
  for (let i = 0; i < bytes.length; i += 4096) {
    pipeline.push(bytes.subarray(i, i + 4096));
    await new Promise((r) => setImmediate(r));
  }
  await pipeline.finish();
  const read = async (key: string) => {
    const obj = await blobs.get(`live/s1/90p/${key}`);
    const chunks: Buffer[] = [];
    for await (const c of obj!.body) chunks.push(c as Buffer);
    return Buffer.concat(chunks);
  };
  const state = pipeline.state!;
  return { state, init: await read(state.initName), segment: (msn: number) => read(`seg-${msn}.m4s`) };
}

describe.each(['cbcs', 'cenc'] as const)('live packaging with %s and keys rotating every 3 segments', (scheme) => {
  it('decrypts each key period, with its key, to the frames of the clear packaging of the same ladder output', async () => {
    const bytes = liveLikeVideo();
    const provider = new MemoryKeys();
    const keys = new LiveKeyRing({ keys: provider, logger: createLogger('silent') }, { mediaId: 's1', sessionId: 'sess', rotationSegments: 3 });
    await keys.start();
    const clear = await packaged(bytes);
    const enc = await packaged(bytes, { scheme, keys });
    expect(enc.state.segments.map((s) => s.msn)).toEqual(clear.state.segments.map((s) => s.msn));
    expect(enc.state.segments.length).toBe(12);
    // Every segment names its key; a new one every three segments, the same for the three.
    const kids = enc.state.segments.map((s) => s.kid!);
    expect(new Set(kids).size).toBe(4);
    for (let i = 0; i < 12; i++) expect(kids[i]).toBe(kids[i - (i % 3)]);
    for (let p = 0; p < 4; p++) {
      const msns = enc.state.segments.slice(3 * p, 3 * p + 3).map((s) => s.msn);
      const grant = [...provider.keys.values()].find((k) => k.kid === kids[3 * p])!;
      expect(grant).toBeDefined();
      const clearFile = Buffer.concat([clear.init, ...(await Promise.all(msns.map(clear.segment)))]);
      const encFile = Buffer.concat([enc.init, ...(await Promise.all(msns.map(enc.segment)))]);
      const expected = await framemd5(clearFile);
      expect(expected.length).toBe(90);
      expect(await decryptedMatching(encFile, grant.key, expected)).toEqual(expected);
      // Rotated periods say so in the fragments (seig sample groups); the first uses the init's default key.
      expect(encFile.includes('seig')).toBe(p > 0);
    }
  });
});
