import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from './config.js';
import { tempDir } from './test-support/env.js';

const GOOD = 'b3f1c9e27a4d8f60e5c1b7a9d2f4e6c8';
const TOKEN = '5e9a1c3b7d2f4a6c8e0b1d3f5a7c9e2b';

describe('secrets', () => {
  it('refuses to run split services or production without real secrets', () => {
    const split = (env: Record<string, string>) => () => loadConfig({ NODE_ENV: 'development', ...env }, { split: true });
    expect(split({ INTERNAL_TOKEN: TOKEN })).toThrow(/JWT_SECRET must be set/);
    expect(split({ JWT_SECRET: GOOD })).toThrow(/INTERNAL_TOKEN must be set/);
    expect(split({ JWT_SECRET: GOOD, INTERNAL_TOKEN: 'short-token' })).toThrow(/INTERNAL_TOKEN must be at least 32/);
    // The placeholders shipped in deploy/k8s/config.yaml and the like, however long.
    expect(split({ JWT_SECRET: 'CHANGE-ME-CHANGE-ME-CHANGE-ME-CHANGE-ME', INTERNAL_TOKEN: TOKEN })).toThrow(/JWT_SECRET is a placeholder/);
    expect(split({ JWT_SECRET: GOOD, INTERNAL_TOKEN: TOKEN, PLAYBACK_SIGNING_KEY: 'replace_me_with_a_real_signing_key_please' })).toThrow(/PLAYBACK_SIGNING_KEY is a placeholder/);
    expect(split({ JWT_SECRET: 'a'.repeat(40), INTERNAL_TOKEN: TOKEN })).toThrow(/too few distinct/);
    expect(() => loadConfig({ NODE_ENV: 'production', JWT_SECRET: GOOD, INTERNAL_TOKEN: 'CHANGE-ME' })).toThrow(/INTERNAL_TOKEN/);
    expect(split({ JWT_SECRET: GOOD, INTERNAL_TOKEN: TOKEN }, )().internalToken).toBe(TOKEN);
    // One process in development still starts with nothing set.
    expect(() => loadConfig({ NODE_ENV: 'development' })).not.toThrow();
  });

  it('keeps one process\'s generated secrets in DATA_DIR, so tokens survive a restart', async () => {
    const dir = await tempDir('secrets-');
    const first = loadConfig({ NODE_ENV: 'development', DATA_DIR: dir }, { localSecrets: true });
    const again = loadConfig({ NODE_ENV: 'development', DATA_DIR: dir }, { localSecrets: true });
    expect(first.auth.jwtSecret).toHaveLength(64);
    expect(again.auth.jwtSecret).toBe(first.auth.jwtSecret);
    expect(again.internalToken).toBe(first.internalToken);
    expect(again.edge.playbackSigningKey).toBe(first.edge.playbackSigningKey);
    expect(first.edge.playbackSigningKey).toBeTruthy();
    const file = path.join(dir, 'secrets.json');
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    // A value set in the environment wins over the stored one.
    expect(loadConfig({ NODE_ENV: 'development', DATA_DIR: dir, JWT_SECRET: GOOD }, { localSecrets: true }).auth.jwtSecret).toBe(GOOD);
    // Without the option nothing is stored or read.
    expect(loadConfig({ NODE_ENV: 'development', DATA_DIR: dir }).auth.jwtSecret).not.toBe(first.auth.jwtSecret);
  });
});
