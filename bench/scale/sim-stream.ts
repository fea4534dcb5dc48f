/**
 * A simulated packager stream for the scale benchmark: timelines of several renditions published to
 * the live catalog exactly as the packager does, without FFmpeg or media bytes.
 */
import { LiveCatalog, RenditionTimeline, type StreamState } from '../../packager/index.js';

/** Shape of a simulated stream. */
export interface SimStreamOptions {
  streamId: string;
  renditions: readonly string[];
  partSeconds: number;
  partsPerSegment: number;
  dvrWindowSeconds: number;
  epoch: string;
}

/** One live stream's renditions, advanced one part at a time. */
export class SimStream {
  readonly timelines: RenditionTimeline[];
  private ticks = 0;
  private readonly t0 = Date.now();

  constructor(
    private readonly catalog: LiveCatalog,
    readonly o: SimStreamOptions,
  ) {
    this.timelines = o.renditions.map(
      (rendition) =>
        new RenditionTimeline({
          streamId: o.streamId,
          rendition,
          kind: rendition === 'audio' ? 'audio' : 'video',
          timescale: 90000,
          initName: 'init-1.mp4',
          partTarget: o.partSeconds,
          segmentTarget: o.partSeconds * o.partsPerSegment,
          dvrWindowSeconds: o.dvrWindowSeconds,
          firstMsn: 1,
          epoch: o.epoch,
        }),
    );
  }

  /** The stream-level state the origin needs for multivariant playlists and MPDs. */
  streamState(): StreamState {
    const o = this.o;
    return {
      streamId: o.streamId,
      sessionId: o.epoch,
      startedAtMs: this.t0,
      expectedRenditions: [...o.renditions],
      partTarget: o.partSeconds,
      segmentTarget: o.partSeconds * o.partsPerSegment,
      dvrWindowSeconds: o.dvrWindowSeconds,
      ended: false,
      renditions: o.renditions.map((name, i) =>
        name === 'audio'
          ? { name, kind: 'audio' as const, codec: 'mp4a.40.2', bandwidth: 160_000, sampleRate: 48000, channels: 2, timescale: 90000 }
          : { name, kind: 'video' as const, codec: 'avc1.64001f', bandwidth: 3_000_000 >> i, width: 1280 >> i, height: 720 >> i, frameRate: 30, timescale: 90000 },
      ),
    };
  }

  /** Where the next part of every rendition goes. */
  get next(): { msn: number; part: number } {
    const t = this.timelines[0];
    return { msn: t.msn, part: t.nextPart };
  }

  /** Adds one part to every rendition (closing the segment after `partsPerSegment`) without publishing. */
  advance(): { msn: number; part: number } {
    const pos = this.next;
    const last = pos.part === this.o.partsPerSegment - 1;
    const ticks = this.ticks;
    this.ticks += this.o.partSeconds * 90000;
    for (const t of this.timelines) {
      t.addPart({ duration: this.o.partSeconds, independent: pos.part === 0 }, ticks, this.t0 + (ticks / 90) , { lastOfSegment: last });
      if (last) t.closeSegment(this.o.partSeconds * this.o.partsPerSegment);
    }
    return pos;
  }

  /** Publishes what every rendition recorded since the last publish. */
  async publish(): Promise<void> {
    for (const t of this.timelines) await this.catalog.publish(t);
  }

  /** One part everywhere, published. */
  async publishPart(): Promise<{ msn: number; part: number }> {
    const pos = this.advance();
    await this.publish();
    return pos;
  }
}
