import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryLiveState, createLogger, playbackPolicyKey } from '../../platform/index.js';
import { PlaybackPolicies } from './playback-policies.js';
import { createTestApp, type TestApp } from '../test-support/test-app.js';

describe('PlaybackPolicies', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ env: { PLAYBACK_SIGNING_KEY: 'policies-test-signing-key-0123456789' } });
  });
  afterAll(() => t?.close());

  it('publishes every policy, signed and public, and republishes what the live state lost', async () => {
    const u = await t.signup();
    const signed = await t.createStream(u.auth, { title: 's', playbackPolicy: 'signed' });
    const open = await t.createStream(u.auth, { title: 'o' });
    const liveState = new MemoryLiveState();
    const policies = new PlaybackPolicies({ sql: t.sql, liveState, logger: createLogger('silent') });
    await policies.start(50);
    try {
      expect(await liveState.get(playbackPolicyKey(signed.id))).toBe('signed');
      // An explicit "public": a missing entry means "unknown", never "public".
      expect(await liveState.get(playbackPolicyKey(open.id))).toBe('public');
      await liveState.del(playbackPolicyKey(signed.id));
      const deadline = Date.now() + 3000;
      while (!(await liveState.get(playbackPolicyKey(signed.id))) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect(await liveState.get(playbackPolicyKey(signed.id))).toBe('signed');
      expect(await policies.policyOf(signed.id)).toBe('signed');
      expect(await policies.policyOf(open.id)).toBe('public');
      // Media that does not exist (or was deleted) has nothing to serve: the edge answers 404.
      expect(await policies.policyOf('no-such-media')).toBe('gone');
    } finally {
      policies.close();
      await liveState.close();
    }
  });
});
