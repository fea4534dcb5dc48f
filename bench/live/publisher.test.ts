import { describe, expect, it } from 'vitest';
import { progressSampler, publisherArgs, pushClockOffsetMs } from './publisher.js';

describe('publisherArgs', () => {
  it('publishes in real time like OBS: x264 zerolatency, fixed 2 s GOP, AAC, FLV, with a progress clock', () => {
    const a = publisherArgs({ url: 'rtmp://h/live/k', seconds: 50 });
    expect(a.join(' ')).toContain('-progress pipe:1 -stats_period 0.1 -re -f lavfi -i testsrc2=size=1280x720:rate=30');
    expect(a.join(' ')).toContain('-g 60 -keyint_min 60 -sc_threshold 0');
    expect(a.slice(-3)).toEqual(['-f', 'flv', 'rtmp://h/live/k']);
  });
});

describe('progressSampler', () => {
  it('emits out_time of each complete -progress block, however the text is split', () => {
    const got: number[] = [];
    const feed = progressSampler((ms) => got.push(ms));
    feed('frame=3\nout_time_us=100000\nout_ti');
    feed('me=00:00:00.1\nprogress=continue\nframe=6\nout_time_us=N/A\nprogress=continue\nout_time_us=200');
    feed('500\nprogress=end\n');
    expect(got).toEqual([100, 200.5]);
  });
});

describe('pushClockOffsetMs', () => {
  it('takes the least wall − media past the start-up, ignoring a late first frame and read jitter', () => {
    const samples = [
      { wallMs: 10_090, mediaMs: 0 }, // first frame left late: skipped
      { wallMs: 13_020, mediaMs: 3000 },
      { wallMs: 13_105, mediaMs: 3100 },
      { wallMs: 14_001, mediaMs: 4000 },
      { wallMs: 14_150, mediaMs: 4100 },
    ];
    expect(pushClockOffsetMs(samples)).toBe(10_001);
    expect(pushClockOffsetMs(samples.slice(0, 1))).toBeNull();
  });
});
