import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { nginxConfig, type NginxConfigOptions } from './nginx-config.js';
import { findTool } from './tools.js';

const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), '__fixtures__');
const OPTIONS: NginxConfigOptions = { prefix: '/tmp/sf-bench-nginx-X/', listenPort: 18091, originPort: 18090, workers: 1, cacheMaxMiB: 2048 };

/** Compares with the stored golden file; UPDATE_GOLDEN=1 rewrites it. */
function expectGolden(name: string, actual: string): void {
  const file = path.join(FIXTURES, name);
  if (process.env.UPDATE_GOLDEN === '1') fs.writeFileSync(file, actual);
  expect(actual).toBe(fs.readFileSync(file, 'utf8'));
}

describe('nginxConfig', () => {
  it('matches the golden file', () => {
    expectGolden('nginx.conf', nginxConfig(OPTIONS));
  });

  it('keeps the comparison honest: lock on, query in the key, buffering, keep-alive upstream', () => {
    const conf = nginxConfig({ ...OPTIONS, workers: 'auto' });
    expect(conf).toContain('worker_processes auto;');
    expect(conf).toContain('proxy_cache_lock on;');
    expect(conf).toContain('proxy_cache_key $scheme$proxy_host$uri$is_args$args;');
    expect(conf).toContain('proxy_buffering on;');
    expect(conf).toContain('keepalive 256;');
    expect(conf).toContain('access_log off;');
    expect(conf).toContain('server 127.0.0.1:18090;');
  });

  // The generated text must be a config the real binary accepts, not only the golden we wrote.
  it.skipIf(!findTool('nginx'))('is accepted by `nginx -t` (skipped when Debian nginx is not installed)', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sf-nginx-conf-test-'));
    try {
      fs.chmodSync(dir, 0o755);
      const conf = path.join(dir, 'nginx.conf');
      fs.writeFileSync(conf, nginxConfig({ ...OPTIONS, prefix: dir }));
      const r = spawnSync(findTool('nginx')!, ['-t', '-q', '-p', dir, '-c', conf, '-e', path.join(dir, 'error.log')], { encoding: 'utf8' });
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
