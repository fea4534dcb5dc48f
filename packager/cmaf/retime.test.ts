import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Fmp4StreamParser, type Fmp4Fragment } from './fmp4-stream-parser.js';
import { shiftDecodeTime } from './retime.js';
import { box, fullBox, u32 } from './box-writer.js';

const fixture = fs.readFileSync(path.join(import.meta.dirname, '__fixtures__/video-320x180.mp4'));

function fragmentsOf(bytes: Buffer): Fmp4Fragment[] {
  const out: Fmp4Fragment[] = [];
  const p = new Fmp4StreamParser();
  p.on('fragment', (f) => out.push(f));
  p.push(bytes);
  return out;
}

describe('shiftDecodeTime', () => {
  it('moves a real fragment along the timeline and the parser reads the new time back', () => {
    const [, second] = fragmentsOf(fixture);
    const copy = Buffer.from(second.bytes);
    const delta = 90_000 * 3600; // an hour of 90 kHz ticks: past 32 bits after a few hours
    expect(shiftDecodeTime(copy, delta)).toBe(second.decodeTime + delta);
    const p = new Fmp4StreamParser();
    const seen: Fmp4Fragment[] = [];
    p.on('fragment', (f) => seen.push(f));
    p.push(fixture.subarray(0, fixture.indexOf(Buffer.from('moof')) - 4)); // init only
    p.push(copy);
    expect(seen[0].decodeTime).toBe(second.decodeTime + delta);
    expect(seen[0].duration).toBe(second.duration);
  });

  it('refuses a version-0 tfdt it would overflow, and chunks without one', () => {
    const tfdt0 = fullBox('tfdt', 0, 0, u32(0xfffffff0));
    const chunk = box('moof', box('traf', tfdt0));
    expect(shiftDecodeTime(Buffer.from(chunk), 5)).toBe(0xfffffff5);
    expect(() => shiftDecodeTime(Buffer.from(chunk), 100)).toThrow(/version-0/);
    expect(() => shiftDecodeTime(Buffer.from(box('moof', box('traf'))), 1)).toThrow(/without tfdt/);
    expect(() => shiftDecodeTime(Buffer.from(box('mdat')), 1)).toThrow(/no moof/);
  });
});
