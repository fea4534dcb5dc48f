import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, GOOD_PASSWORD, type TestApp } from './test-support/test-app.js';

let t: TestApp;
/** Everything the app logged, as written by pino (after redaction). */
let logs = '';
beforeAll(async () => {
  const stream = new PassThrough();
  stream.on('data', (chunk: Buffer) => (logs += chunk.toString()));
  t = await createTestApp({ logStream: stream });
});
afterAll(async () => {
  await t?.close();
});

const expectProblem = (res: { statusCode: number; headers: Record<string, unknown>; json: () => unknown }, status: number, code: string) => {
  expect(res.statusCode).toBe(status);
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  expect(res.json()).toEqual({ type: expect.stringMatching(/^urn:streamforge:problem:/), title: expect.any(String), status, detail: expect.any(String), code });
};

describe('errors are application/problem+json', () => {
  it('bad JSON → 400 INVALID_JSON', async () => {
    const res = await t.app.inject({ method: 'POST', url: '/v1/accounts', headers: { 'content-type': 'application/json' }, payload: '{"email": ' });
    expectProblem(res, 400, 'INVALID_JSON');
  });

  it('unknown field → 400 VALIDATION_FAILED naming it', async () => {
    const u = await t.signup();
    const res = await t.app.inject({ method: 'POST', url: '/v1/live-streams', headers: u.auth, payload: { title: 'x', colour: 'red' } });
    expectProblem(res, 400, 'VALIDATION_FAILED');
    expect(res.json()).toMatchObject({ detail: 'body/colour is not an allowed field' });
  });

  it('schema violation names the field', async () => {
    const u = await t.signup();
    const res = await t.app.inject({ method: 'POST', url: '/v1/live-streams', headers: u.auth, payload: { title: '' } });
    expectProblem(res, 400, 'VALIDATION_FAILED');
    expect(res.json().detail).toMatch(/^body\/title /);
    const missing = await t.app.inject({ method: 'POST', url: '/v1/live-streams', headers: u.auth, payload: {} });
    expect(missing.json()).toMatchObject({ detail: 'body/title is required' });
    const rung = await t.app.inject({ method: 'POST', url: '/v1/live-streams', headers: u.auth, payload: { title: 'x', ladder: [{ name: 'a', height: 481, videoBitrateKbps: 100 }] } });
    expect(rung.json().detail).toMatch(/^body\/ladder\/0\/height /);
  });

  it('body over 64 KiB → 413 PAYLOAD_TOO_LARGE', async () => {
    const res = await t.app.inject({ method: 'POST', url: '/v1/accounts', payload: { email: 'big@example.test', password: 'x'.repeat(70_000) } });
    expectProblem(res, 413, 'PAYLOAD_TOO_LARGE');
  });

  it('unsupported content type → 415', async () => {
    const res = await t.app.inject({ method: 'POST', url: '/v1/auth/login', headers: { 'content-type': 'text/plain' }, payload: 'hello' });
    expectProblem(res, 415, 'UNSUPPORTED_MEDIA_TYPE');
  });

  it('unknown route → 404, wrong method → 405 with Allow', async () => {
    expectProblem(await t.app.inject({ method: 'GET', url: '/v1/nothing-here' }), 404, 'NOT_FOUND');
    const wrong = await t.app.inject({ method: 'PUT', url: '/v1/live-streams/123' });
    expectProblem(wrong, 405, 'METHOD_NOT_ALLOWED');
    expect(wrong.headers.allow).toBe('GET, DELETE');
  });

  it('an action POSTed with a JSON content type and no body still works', async () => {
    const u = await t.signup();
    const s = await t.createStream(u.auth);
    const res = await t.app.inject({ method: 'POST', url: `/v1/live-streams/${s.id}/disable`, headers: { ...u.auth, 'content-type': 'application/json' } });
    expect(res.statusCode).toBe(200);
  });
});

describe('OpenAPI, health, metrics', () => {
  it('/docs/json lists the public routes and hides the internal ones', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/docs/json' });
    expect(res.statusCode).toBe(200);
    const doc = res.json();
    expect(doc.openapi).toMatch(/^3\./);
    const paths = Object.keys(doc.paths);
    for (const p of ['/v1/accounts', '/v1/auth/login', '/v1/auth/refresh', '/v1/auth/logout', '/v1/me', '/v1/profiles', '/v1/profiles/{id}',
      '/v1/profiles/{id}/verify-pin', '/v1/live-streams', '/v1/live-streams/{id}', '/v1/live-streams/{id}/rotate-key',
      '/v1/live-streams/{id}/disable', '/v1/live-streams/{id}/enable', '/v1/assets/{id}', '/healthz', '/metrics']) {
      expect(paths, p).toContain(p);
    }
    expect(paths.filter((p) => p.startsWith('/internal'))).toEqual([]);
    expect(doc.paths['/v1/live-streams'].post.security).toEqual([{ bearerAuth: [] }]);
    expect(doc.components.securitySchemes.bearerAuth).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect((await t.app.inject({ method: 'GET', url: '/docs' })).statusCode).toBeLessThan(400);
  });

  it('/healthz answers ok', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/healthz' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ status: 'ok' });
  });

  it('/metrics exposes request counters and durations by route pattern', async () => {
    await t.app.inject({ method: 'GET', url: '/v1/live-streams/abc' });
    await t.app.inject({ method: 'GET', url: '/probe/for/admin.php' });
    const res = await t.app.inject({ method: 'GET', url: '/metrics' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    expect(res.body).toContain('# TYPE http_request_duration_seconds histogram');
    expect(res.body).toMatch(/http_requests_total\{service="control-api",method="GET",route="\/v1\/live-streams\/:id",status_code="401"\} \d+/);
    expect(res.body).not.toContain('/v1/live-streams/abc');
    expect(res.body).not.toContain('admin.php');
    expect(res.body).toMatch(/route="unmatched",status_code="404"/);
  });
});

describe('internal routes', () => {
  it('need the internal token', async () => {
    const url = '/internal/v1/publish-authorizations';
    const res = await t.app.inject({ method: 'POST', url, payload: { streamKey: 'sk_x' } });
    expectProblem(res, 401, 'UNAUTHORIZED');
    const wrong = await t.app.inject({ method: 'POST', url, headers: { 'x-internal-token': 'guess' }, payload: { streamKey: 'sk_x' } });
    expect(wrong.statusCode).toBe(401);
  });

  it('authorize publishes and take status reports', async () => {
    const u = await t.signup();
    const s = await t.createStream(u.auth);
    const headers = { 'x-internal-token': t.config.internalToken };
    const ok = await t.app.inject({ method: 'POST', url: '/internal/v1/publish-authorizations', headers, payload: { streamKey: s.streamKey } });
    expect(ok.json()).toEqual({ ok: true, streamId: s.id, accountId: u.accountId, passthrough: false, playbackPolicy: 'public' });
    const status = await t.app.inject({ method: 'POST', url: `/internal/v1/live-streams/${s.id}/status`, headers, payload: { status: 'live' } });
    expect(status.statusCode).toBe(204);
    // ingest's authorizer path and Bearer credential (ingest/contract.ts).
    const ingest = await t.app.inject({
      method: 'POST', url: '/internal/ingest/authorize', headers: { authorization: `Bearer ${t.config.internalToken}` },
      payload: { streamKey: s.streamKey, remoteAddress: '192.0.2.1' },
    });
    expect(ingest.json()).toEqual({ ok: false, reason: 'already-live' });
    const unknown = await t.app.inject({ method: 'POST', url: '/internal/v1/live-streams/nope/status', headers, payload: { status: 'live' } });
    expect(unknown.statusCode).toBe(404);
  });
});

describe('logs', () => {
  it('never contain passwords, stream keys or tokens', async () => {
    const email = 'logged@example.test';
    await t.app.inject({ method: 'POST', url: '/v1/accounts', payload: { email, password: GOOD_PASSWORD } });
    const login = (await t.app.inject({ method: 'POST', url: '/v1/auth/login', payload: { email, password: GOOD_PASSWORD } })).json();
    const auth = { authorization: `Bearer ${login.accessToken}` };
    const s = await t.createStream(auth);
    const rotated = (await t.app.inject({ method: 'POST', url: `/v1/live-streams/${s.id}/rotate-key`, headers: auth })).json();
    const headers = { 'x-internal-token': t.config.internalToken };
    await t.app.inject({ method: 'POST', url: '/internal/v1/publish-authorizations', headers, payload: { streamKey: s.streamKey } });
    await t.app.inject({ method: 'POST', url: '/v1/auth/refresh', payload: { refreshToken: login.refreshToken } });
    // A request that fails validation, carrying a secret in the bad body.
    await t.app.inject({ method: 'POST', url: '/v1/auth/login', payload: { email, password: GOOD_PASSWORD, extra: s.streamKey } });
    await new Promise((r) => setImmediate(r));
    expect(logs).toContain('incoming request'); // the capture works
    expect(logs).toContain('publish refused'); // ... and saw the refusal, with a masked key
    for (const secret of [GOOD_PASSWORD, s.streamKey!, rotated.streamKey, login.accessToken, login.refreshToken, t.config.internalToken]) {
      expect(logs).not.toContain(secret);
    }
  });
});
