import crypto from 'node:crypto';
import type { ProfileView, TitleView } from '../contract.js';
import type { TestApp } from './test-app.js';

/** A bearer header. */
type Auth = { authorization: string };

/** A ready uploaded asset of the account, as the VOD worker would leave it. */
export async function readyAsset(t: TestApp, accountId: string, durationSeconds = 600): Promise<string> {
  const id = crypto.randomUUID();
  await t.services.assets.createUploaded({ id, accountId, uploadId: crypto.randomUUID(), title: 'source' });
  await t.services.assets.onReady({
    assetId: id, durationSeconds, atMs: Date.now(),
    tracks: { video: [], audio: [], captions: [] },
    thumbnails: { poster: 'poster.jpg', sprite: 'sprite.jpg', vtt: 'thumbnails.vtt' },
  });
  return id;
}

/** Creates and publishes a title through the API. */
export async function publishedTitle(t: TestApp, owner: { accountId: string; auth: Auth }, body: Record<string, unknown>): Promise<TitleView> {
  const type = (body.type as string | undefined) ?? 'movie';
  const payload = { type, maturityRating: 'PG', ...body, ...(type === 'series' ? {} : { assetId: await readyAsset(t, owner.accountId) }) };
  const created = await t.app.inject({ method: 'POST', url: '/v1/titles', headers: owner.auth, payload });
  if (created.statusCode !== 201) throw new Error(`create: ${created.statusCode} ${created.body}`);
  const published = await t.app.inject({ method: 'POST', url: `/v1/titles/${created.json().id}/publish`, headers: owner.auth });
  if (published.statusCode !== 200) throw new Error(`publish: ${published.statusCode} ${published.body}`);
  return published.json() as TitleView;
}

/** Adds a profile to the account. */
export async function addProfile(t: TestApp, auth: Auth, body: Record<string, unknown>): Promise<ProfileView> {
  const res = await t.app.inject({ method: 'POST', url: '/v1/profiles', headers: auth, payload: body });
  if (res.statusCode !== 201) throw new Error(`profile: ${res.statusCode} ${res.body}`);
  return res.json() as ProfileView;
}

