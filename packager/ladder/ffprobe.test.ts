import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProbeError, parseRate, probeSource, sourceFps } from './ffprobe.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'probe-test-'));
const file = (name: string) => path.join(tmp, name);

/** Makes a one-second test file with FFmpeg. */
function make(name: string, args: string[]): string {
  const out = file(name);
  const r = spawnSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', ...args, '-t', '1', out]);
  if (r.status !== 0) throw new Error(r.stderr.toString());
  return out;
}

describe('probeSource (real ffprobe)', () => {
  let av: string;
  let audioOnly: string;
  let silent: string;
  beforeAll(() => {
    av = make('av.mp4', ['-f', 'lavfi', '-i', 'testsrc2=size=320x180:rate=25', '-f', 'lavfi', '-i', 'sine', '-c:v', 'libx264', '-preset', 'ultrafast', '-c:a', 'aac']);
    audioOnly = make('a.m4a', ['-f', 'lavfi', '-i', 'sine', '-c:a', 'aac']);
    silent = make('v.flv', ['-f', 'lavfi', '-i', 'testsrc2=size=256x144:rate=30000/1001', '-c:v', 'libx264', '-preset', 'ultrafast']);
  });
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('reads size, frame rate, codecs and duration', async () => {
    const p = await probeSource(av, { ffprobePath: 'ffprobe' });
    expect(p).toMatchObject({ width: 320, height: 180, fps: 25, videoCodec: 'h264', audioCodec: 'aac', audioSampleRate: 44100 });
    expect(p.durationSeconds).toBeGreaterThan(0.9);
  });

  it('reports a video-only source without audio, and NTSC rates', async () => {
    const p = await probeSource(silent, { ffprobePath: 'ffprobe' });
    expect(p.audioCodec).toBeUndefined();
    expect(p.fps).toBeCloseTo(29.97, 2);
  });

  it('fails with PROBE_NO_VIDEO for an audio-only source', async () => {
    await expect(probeSource(audioOnly, { ffprobePath: 'ffprobe' })).rejects.toMatchObject({ code: 'PROBE_NO_VIDEO' });
  });

  it('fails with PROBE_UNSUPPORTED_CODEC outside the accepted list', async () => {
    await expect(probeSource(av, { ffprobePath: 'ffprobe', videoCodecs: ['hevc'] })).rejects.toMatchObject({ code: 'PROBE_UNSUPPORTED_CODEC' });
  });

  it('fails with PROBE_FAILED for garbage, without echoing the URL path', async () => {
    const bad = file('garbage.flv');
    fs.writeFileSync(bad, 'not media at all');
    const err = (await probeSource(bad, { ffprobePath: 'ffprobe' }).catch((e: unknown) => e)) as ProbeError;
    expect(err).toBeInstanceOf(ProbeError);
    expect(err.code).toBe('PROBE_FAILED');
  });

  it('fails with PROBE_TIMEOUT when a live source never answers', async () => {
    const sockets: net.Socket[] = [];
    const server = net.createServer((s) => sockets.push(s)); // accepts, never responds
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as net.AddressInfo).port;
    const t0 = Date.now();
    const err = (await probeSource(`http://127.0.0.1:${port}/ingest/secret-token.flv`, { ffprobePath: 'ffprobe', timeoutMs: 700 }).catch((e: unknown) => e)) as ProbeError;
    expect(err.code).toBe('PROBE_TIMEOUT');
    expect(err.message).not.toContain('secret-token');
    expect(Date.now() - t0).toBeLessThan(3000);
    sockets.forEach((s) => s.destroy());
    await new Promise<void>((r) => server.close(() => r()));
  });

  it('takes the base rate for live FLV and snaps to standard rates', () => {
    expect(sourceFps(30, 1000 / 33)).toBe(30);
    expect(sourceFps(1000, 25)).toBe(25);
    expect(sourceFps(0, 0)).toBe(30);
    expect(sourceFps(29.96, 0)).toBeCloseTo(30000 / 1001, 6);
    expect(sourceFps(12.5, 12.5)).toBe(12.5);
  });

  it('parses ffprobe rates', () => {
    expect(parseRate('30000/1001')).toBeCloseTo(29.97, 2);
    expect(parseRate('0/0')).toBe(0);
    expect(parseRate('25')).toBe(25);
    expect(parseRate(undefined)).toBe(0);
  });
});
