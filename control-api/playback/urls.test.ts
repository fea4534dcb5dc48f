import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { toAssetPlaybackUrls, toLiveStreamUrls, toOrigin } from './urls.js';

const GOLDEN = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '__fixtures__', 'urls.golden.json');
const ID = '0b7c4f6e-3a51-4c2e-9d7f-5f1e2a3b4c5d';

/** Every case the URL builders must get right: default ports, custom ports, IPv6, a DNS name. */
function cases() {
  const ports = { api: 8080, rtmp: 1935, ingestHttp: 8085, origin: 8090, edge: 8091 };
  const configs = {
    defaults: { publicHost: '127.0.0.1', ports },
    schemeDefaultPorts: { publicHost: 'live.example.com', ports: { ...ports, rtmp: 1935, ingestHttp: 80, edge: 80 } },
    customRtmpPort: { publicHost: 'live.example.com', ports: { ...ports, rtmp: 19350 } },
    ipv6: { publicHost: '2001:db8::1', ports },
  };
  return Object.fromEntries(
    Object.entries(configs).map(([name, config]) => [name, { live: toLiveStreamUrls(config, ID), asset: toAssetPlaybackUrls(config, ID) }]),
  );
}

describe('URL builders', () => {
  it('match the golden file', () => {
    const actual = `${JSON.stringify(cases(), null, 2)}\n`;
    if (process.env.UPDATE_GOLDENS) fs.writeFileSync(GOLDEN, actual);
    expect(actual).toBe(fs.readFileSync(GOLDEN, 'utf8'));
  });

  it('leave out exactly the scheme default port', () => {
    expect(toOrigin('http', 'h', 80)).toBe('http://h');
    expect(toOrigin('http', 'h', 443)).toBe('http://h:443');
    expect(toOrigin('rtmp', 'h', 1935)).toBe('rtmp://h:1935');
    expect(toOrigin('rtmp', '[::1]', 1936)).toBe('rtmp://[::1]:1936');
  });
});
