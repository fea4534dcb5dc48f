// Minimal typings for the independent manifest parsers the tests use (they ship none).
declare module 'm3u8-parser' {
  /** videojs m3u8-parser: push text, end(), then read `manifest`. */
  export class Parser {
    push(text: string): void;
    end(): void;
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    manifest: any;
  }
  const m3u8: { Parser: typeof Parser };
  export default m3u8;
}

declare module 'mpd-parser' {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  export function parse(manifest: string, options?: { manifestUri?: string; NOW?: number; clientOffset?: number }): any;
}
