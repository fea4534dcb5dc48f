/**
 * FFmpeg as the independent check of encrypted output: frame checksums (framemd5) of fMP4 bytes,
 * decrypted with `-decryption_key` when a key is given. The bytes go through a pipe: FFmpeg 5.1 reads
 * every moof of a seekable fragmented file ahead and then decrypts each sample with the last one's
 * senc; even through a pipe it now and then pairs a sample with a later moof's senc, so checks that
 * compare against an expected decode ask up to three times (a wrong encryption never matches).
 */
import { spawn } from 'node:child_process';

/** Decoded-frame checksum lines (framemd5, without the header comments); rejects on FFmpeg errors. */
export function framemd5(bytes: Buffer, key?: Buffer): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const args = ['-hide_banner', '-loglevel', 'error', ...(key ? ['-decryption_key', key.toString('hex')] : []), '-i', 'pipe:0', '-f', 'framemd5', '-'];
    const child = spawn('ffmpeg', args);
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.stdin.on('error', () => {});
    child.stdin.end(bytes);
    child.on('close', (code) => (code === 0 && !/error|invalid/i.test(err) ? resolve(out.split('\n').filter((l) => l && !l.startsWith('#'))) : reject(new Error(err.slice(0, 400) || `ffmpeg exited ${code}`))));
  });
}

/** The decrypted frames, asked of FFmpeg up to three times until they match `expected`. */
export async function decryptedMatching(bytes: Buffer, key: Buffer, expected: readonly string[]): Promise<string[]> {
  let got: string[] = [];
  for (let attempt = 0; attempt < 3; attempt++) {
    got = await framemd5(bytes, key).catch(() => []);
    if (got.length === expected.length && got.every((l, i) => l === expected[i])) break;
  }
  return got;
}

/** How many frames FFmpeg decodes with `key`, asked up to three times before its error is reported. */
export async function decodedFrameCount(bytes: Buffer, key: Buffer): Promise<number> {
  let last: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return (await framemd5(bytes, key)).length;
    } catch (err) {
      last = err;
    }
  }
  throw last;
}
