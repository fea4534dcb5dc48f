import zlib from 'node:zlib';
import { LRUCache } from 'lru-cache';
import type { TextEncoding } from './http-replies.js';

/** Bodies smaller than this are sent as they are: compressing them saves less than it costs. */
const MIN_COMPRESS_BYTES = 1024;

/** A rendered playlist or MPD and its compressed forms, made once each, when first asked for. */
export class RenderedText {
  readonly body: Buffer;
  private gzip?: Buffer;
  private br?: Buffer;

  constructor(
    readonly version: string,
    text: string,
  ) {
    this.body = Buffer.from(text);
  }

  /** The bytes for a coding, and the coding actually used (identity for small bodies). */
  encoded(want: TextEncoding): { bytes: Buffer; encoding: TextEncoding } {
    if (want === 'identity' || this.body.length < MIN_COMPRESS_BYTES) return { bytes: this.body, encoding: 'identity' };
    if (want === 'br') {
      // Quality 5: most of brotli's gain on playlist text at a fraction of the top qualities' CPU.
      this.br ??= zlib.brotliCompressSync(this.body, {
        params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 5, [zlib.constants.BROTLI_PARAM_SIZE_HINT]: this.body.length },
      });
      return { bytes: this.br, encoding: 'br' };
    }
    this.gzip ??= zlib.gzipSync(this.body, { level: 6 });
    return { bytes: this.gzip, encoding: 'gzip' };
  }

  /** Bytes held, for the memo's bound. */
  get size(): number {
    return this.body.length + (this.gzip?.length ?? 0) + (this.br?.length ?? 0);
  }
}

/**
 * Responses rendered from the live catalog, one per key (rendition and variant), kept until the
 * catalog moves on: every request at the same version gets the same bytes without rendering, which
 * is what a burst of blocking reloads released by one part needs.
 */
export class PlaylistMemo {
  private readonly entries: LRUCache<string, RenderedText>;

  constructor(maxBytes = 64 * 1024 * 1024) {
    this.entries = new LRUCache<string, RenderedText>({ maxSize: maxBytes, sizeCalculation: (r) => 2 * r.body.length + 128 });
  }

  /** The text for key at version, rendered by render() only when the memo holds another version. */
  get(key: string, version: string, render: () => string): RenderedText {
    const hit = this.entries.get(key);
    if (hit && hit.version === version) return hit;
    const made = new RenderedText(version, render());
    this.entries.set(key, made);
    return made;
  }
}
