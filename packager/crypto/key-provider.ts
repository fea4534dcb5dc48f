/**
 * The KeyProvider port: where the packager gets content keys. The built-in adapter is control-api's
 * key store (in process, or over its internal route when split); a DRM vendor plugs in with a CPIX
 * (DASH-IF Content Protection Information Exchange) adapter that answers the same call.
 */
import crypto from 'node:crypto';
import { psshBoxes } from './cenc-boxes.js';
import type { EncryptionInfo } from '../manifest/encryption-info.js';
import { KEY_SYSTEMS } from '../manifest/encryption-info.js';

/** Per stream or asset: how its media is encrypted. */
export type EncryptionMode = 'none' | 'aes-128' | 'cbcs' | 'cenc';

/** Which key is asked for: one per asset, one per live session and rotation period. */
export interface KeyRequest {
  /** The stream or asset id (what playback tokens name). */
  mediaId: string;
  /** `vod`, or `{sessionId}:{period}` for live. */
  period: string;
}

/** A content key as the packager uses it. */
export interface ContentKeyGrant {
  /** 32 hex digits. */
  kid: string;
  /** 16 bytes. */
  key: Buffer;
  /** 16 bytes: the cbcs constant IV, or the AES-128 IV. */
  iv: Buffer;
}

/** The port. The same request always gets the same key, from any process. */
export interface KeyProvider {
  contentKey(req: KeyRequest): Promise<ContentKeyGrant>;
}

/** A fresh random key (the built-in store's and tests' source of keys). */
export function randomContentKey(): ContentKeyGrant {
  return { kid: crypto.randomBytes(16).toString('hex'), key: crypto.randomBytes(16), iv: crypto.randomBytes(16) };
}

/** What the manifests say about media encrypted with `grant`; `keyUri` is the licence server (or AES-128 key URL). */
export function encryptionInfoFor(method: Exclude<EncryptionMode, 'none'>, grant: ContentKeyGrant, keyUri: string): EncryptionInfo {
  if (method === 'aes-128') return { method, kid: grant.kid, keyUri, iv: grant.iv.toString('hex') };
  const [common] = psshBoxes([Buffer.from(grant.kid, 'hex')]);
  return { method, kid: grant.kid, keyUri, pssh: [{ systemId: KEY_SYSTEMS.commonPssh.uuid.replace(/-/g, ''), box: common.toString('base64') }] };
}
