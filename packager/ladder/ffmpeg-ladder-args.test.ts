import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseLadder } from '../../platform/index.js';
import {
  ffmpegLadderArgs,
  protocolWhitelist,
  fitLadder,
  fpsRational,
  outputFps,
  redactLadderArgs,
  scaledWidth,
  type LadderArgs,
  type LadderArgsOptions,
} from './ffmpeg-ladder-args.js';

const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), '__fixtures__');
const LADDER = parseLadder('720p:720:2800,480p:480:1400,360p:360:800');
const INPUT = { kind: 'url', url: 'http://127.0.0.1:40001/ingest/tok123.flv' } as const;

/** Compares with the stored golden file; UPDATE_GOLDEN=1 rewrites it. */
function expectGolden(name: string, actual: LadderArgs): void {
  const file = path.join(FIXTURES, `${name}.json`);
  const text = `${JSON.stringify(actual, null, 2)}\n`;
  if (process.env.UPDATE_GOLDEN === '1') fs.writeFileSync(file, text);
  expect(JSON.parse(text)).toEqual(JSON.parse(fs.readFileSync(file, 'utf8')));
}

function build(over: Partial<LadderArgsOptions>): LadderArgs {
  return ffmpegLadderArgs({
    input: INPUT,
    source: { width: 1920, height: 1080, fps: 30, hasAudio: true, audioCodec: 'aac' },
    rungs: LADDER,
    ...over,
  });
}

describe('ffmpegLadderArgs goldens', () => {
  it('default ladder on a 1080p30 source', () => {
    const out = build({});
    expectGolden('ladder-1080p-source', out);
    expect(out.outputs.map((o) => [o.name, o.fd])).toEqual([['720p', 3], ['480p', 4], ['360p', 5], ['audio', 6]]);
  });

  it('480p source drops the 720p rung and never upscales', () => {
    const out = build({ source: { width: 854, height: 480, fps: 30, hasAudio: true, audioCodec: 'aac' } });
    expectGolden('ladder-480p-source', out);
    expect(out.outputs.filter((o) => o.kind === 'video').map((o) => o.height)).toEqual([480, 360]);
  });

  it('odd 25 fps source keeps 25 fps and a 50-frame GOP', () => {
    const out = build({ source: { width: 1280, height: 720, fps: 25, hasAudio: true, audioCodec: 'aac' } });
    expectGolden('ladder-25fps-source', out);
    const g = out.args.indexOf('-g');
    expect(out.args[g + 1]).toBe('50');
  });

  it('passthrough copies video and AAC audio to two pipes', () => {
    const out = build({ passthrough: true });
    expectGolden('ladder-passthrough', out);
    expect(out.args).not.toContain('-filter_complex');
  });

  it('source without audio has no audio output', () => {
    const out = build({ source: { width: 1280, height: 720, fps: 30, hasAudio: false } });
    expectGolden('ladder-no-audio', out);
    expect(out.outputs.every((o) => o.kind === 'video')).toBe(true);
    expect(out.args.join(' ')).not.toContain('-c:a');
  });
});

describe('ladder rules', () => {
  it('keeps the GOP, keyint and forced keyframes on the segment grid in every rendition', () => {
    const { args } = build({ segmentSeconds: 4 });
    const values = (flag: string) => args.flatMap((a, i) => (a === flag ? [args[i + 1]] : []));
    expect(values('-g')).toEqual(['120', '120', '120']);
    expect(values('-keyint_min')).toEqual(['120', '120', '120']);
    expect(new Set(values('-force_key_frames'))).toEqual(new Set(['expr:gte(t,n_forced*4)']));
    expect(new Set(values('-sc_threshold'))).toEqual(new Set(['0']));
  });

  it('clamps fast sources to at most 30 fps, halving when that fits', () => {
    expect(outputFps(60)).toBe(30);
    expect(outputFps(50)).toBe(25);
    expect(outputFps(59.94)).toBeCloseTo(29.97, 2);
    expect(outputFps(29.97)).toBeCloseTo(29.97, 2);
    expect(outputFps(120)).toBe(30);
    expect(outputFps(0)).toBe(30);
    expect(outputFps(1000 / 33)).toBe(30);
    expect(outputFps(60.6)).toBe(30);
    expect(fpsRational(29.97)).toBe('30000/1001');
    expect(fpsRational(25)).toBe('25');
    expect(fpsRational(12.5)).toBe('12500/1000');
  });

  it('gives a 29.97 source a 60-frame GOP and an exact NTSC rate', () => {
    const { args } = build({ source: { width: 1280, height: 720, fps: 29.97, hasAudio: true } });
    expect(args[args.indexOf('-g') + 1]).toBe('60');
    expect(args[args.indexOf('-r') + 1]).toBe('30000/1001');
  });

  it('a source below every rung gets one rung at its own even height', () => {
    expect(fitLadder(LADDER, 241)).toEqual([{ name: '240p', height: 240, videoBitrateKbps: 356 }]);
    expect(fitLadder(LADDER, 360).map((r) => r.height)).toEqual([360]);
  });

  it('computes widths the way scale=-2:H does', () => {
    expect(scaledWidth(1920, 1080, 720)).toBe(1280);
    expect(scaledWidth(1920, 1080, 360)).toBe(640);
    expect(scaledWidth(320, 180, 144)).toBe(256);
    expect(scaledWidth(1080, 1920, 720)).toBe(406);
  });

  it('transcodes non-AAC audio in passthrough', () => {
    const { args } = build({ passthrough: true, source: { width: 640, height: 360, fps: 30, hasAudio: true, audioCodec: 'mp3' } });
    expect(args.join(' ')).toContain('-c:a aac');
  });

  it('redacts the input URL for logs', () => {
    const { args } = build({});
    expect(redactLadderArgs(args).join(' ')).not.toContain('tok123');
  });
});

describe('protocolWhitelist', () => {
  it('allows only the input URL\'s own protocol and its transport', () => {
    expect(protocolWhitelist('http://127.0.0.1:4000/ingest/tok/s.flv')).toBe('http,tcp');
    expect(protocolWhitelist('https://cdn.example/x.m3u8')).toBe('https,tls,tcp');
    expect(protocolWhitelist('rtmp://h/live/k')).toBe('rtmp,tcp');
    expect(protocolWhitelist('/data/upload.mp4')).toBe('file');
    expect(protocolWhitelist('file:///data/upload.mp4')).toBe('file');
  });

  it('is passed right before the ladder\'s network input', () => {
    const out = ffmpegLadderArgs({ input: { kind: 'url', url: 'http://127.0.0.1:4000/ingest/t/s.flv' }, source: { width: 1280, height: 720, fps: 30, hasAudio: true, audioCodec: 'aac' }, rungs: LADDER, segmentSeconds: 2 });
    const i = out.args.indexOf('-i');
    expect(out.args.slice(i - 2, i)).toEqual(['-protocol_whitelist', 'http,tcp']);
  });
});
