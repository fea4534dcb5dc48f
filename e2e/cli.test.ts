/** The `streamforge upload` CLI against a running platform: progress, Ctrl-C and resume, waiting for ready. */
import crypto from 'node:crypto';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../control-api/index.js';
import { api, decodeFrames, signUp, startTestPlatform, type TestPlatform } from './support.js';

let platform: TestPlatform;
let token: string;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cli-e2e-'));
const clip = path.join(tmp, 'clip.mp4');

beforeAll(async () => {
  platform = await startTestPlatform({ VOD_SEGMENT_SECONDS: '2', VOD_LADDER: '360p:360:800,240p:240:400' });
  token = await signUp(platform.api);
  // About 6 MB: enough chunks to interrupt part-way.
  execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=30', '-f', 'lavfi', '-i', 'sine=frequency=440', '-t', '8', '-c:v', 'libx264', '-preset', 'ultrafast', '-qp', '12', '-c:a', 'aac', clip]);
}, 60_000);

afterAll(async () => {
  await platform?.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

function io(signal?: AbortSignal) {
  const out = new PassThrough();
  const err = new PassThrough();
  let stdout = '';
  let stderr = '';
  out.on('data', (d) => (stdout += d));
  err.on('data', (d) => (stderr += d));
  return {
    io: { stdout: out, stderr: err, env: { STREAMFORGE_API: platform.api, STREAMFORGE_TOKEN: token }, signal, stateFile: path.join(tmp, 'state.json') },
    text: () => ({ stdout, stderr }),
  };
}

describe('streamforge upload', () => {
  it('is interrupted part-way, resumes from the server offset on the next run, and waits for ready', async () => {
    const controller = new AbortController();
    const first = io(controller.signal);
    // Interrupt (as Ctrl-C does) once some chunks are in.
    const watcher = setInterval(() => {
      if (/Uploading \[#{6,}/.test(first.text().stderr)) controller.abort();
    }, 5);
    const code1 = await runCli(['upload', clip, '--title', 'CLI clip', '--chunk-mib', '0.5'], first.io);
    clearInterval(watcher);
    expect(code1).toBe(130);
    expect(first.text().stderr).toContain('run the same command again to resume');
    const state = JSON.parse(fs.readFileSync(path.join(tmp, 'state.json'), 'utf8')) as Record<string, { uploadId: string }>;
    const { uploadId } = Object.values(state)[0];
    const partial = (await api(platform.api, 'GET', `/v1/uploads/${uploadId}`, undefined, token)).body;
    expect(partial.status).toBe('uploading');
    expect(partial.offset).toBeGreaterThan(0);
    expect(partial.offset).toBeLessThan(fs.statSync(clip).size);

    const second = io();
    const code2 = await runCli(['upload', clip, '--title', 'CLI clip', '--chunk-mib', '0.5'], second.io);
    const { stdout, stderr } = second.text();
    expect(code2, stderr).toBe(0);
    expect(stderr).toMatch(/Resuming the earlier upload of clip\.mp4 at \d+\.\d MiB/);
    expect(stderr).toMatch(/Uploading \[#+\] 100% .* MiB\/s/);
    expect(stderr).toMatch(/Processing \[#+\] 100%/);
    const hls = /HLS: +(\S+)/.exec(stdout)?.[1];
    expect(hls).toMatch(/\/vod\/[0-9a-f-]{36}\/master\.m3u8$/);
    // The resumed upload is the same file, byte for byte, and the asset plays.
    const stored = fs.readFileSync(path.join(platform.dataDir, 'uploads', uploadId));
    expect(crypto.createHash('sha256').update(stored).digest('hex')).toBe(crypto.createHash('sha256').update(fs.readFileSync(clip)).digest('hex'));
    expect(await decodeFrames(hls!, 2)).toBeGreaterThan(50);
  }, 120_000);

  it('explains bad usage and a missing file', async () => {
    const a = io();
    expect(await runCli(['upload'], a.io)).toBe(2);
    expect(a.text().stderr).toContain('Usage: streamforge upload FILE');
    const b = io();
    expect(await runCli(['upload', path.join(tmp, 'nope.mp4')], b.io)).toBe(1);
    expect(b.text().stderr).toContain('cannot read');
  });
});
