/**
 * The neutral description of how a presentation is encrypted, which both manifest writers read (the
 * key and DRM code is the only part that talks to key providers), and its HLS and DASH signalling.
 */

/** Key system identifiers (dashif.org/identifiers/content_protection, W3C EME). */
export const KEY_SYSTEMS = {
  clearKey: { uuid: 'e2719d58-a985-b3c9-781a-b030af78d30e', hlsKeyFormat: 'org.w3.clearkey' },
  commonPssh: { uuid: '1077efec-c0b2-4d02-ace3-3c1e52e2fb4b' },
} as const;

/** How media is encrypted and where its key comes from. */
export interface EncryptionInfo {
  /** `cbcs`/`cenc`: Common Encryption of samples (EME players); `aes-128`: whole segments (HLS). */
  method: 'cbcs' | 'cenc' | 'aes-128';
  /** Key ID, 32 lowercase hex digits. */
  kid: string;
  /** cbcs/cenc: the ClearKey licence server (DASH `Laurl`); aes-128: the key URI. */
  keyUri: string;
  /** aes-128: the IV, 32 hex digits. */
  iv?: string;
  /**
   * The init segments' pssh boxes, base64, by system ID (32 hex digits). DRM vendors' systems are also
   * listed in the MPD with their box; the W3C common system stays in band (see dashContentProtection).
   */
  pssh?: { systemId: string; box: string }[];
}

/** A key ID as the UUID form DASH writes in `cenc:default_KID`. */
export function kidAsUuid(kid: string): string {
  return `${kid.slice(0, 8)}-${kid.slice(8, 12)}-${kid.slice(12, 16)}-${kid.slice(16, 20)}-${kid.slice(20)}`;
}

const HLS_METHOD = { cbcs: 'SAMPLE-AES', cenc: 'SAMPLE-AES-CTR', 'aes-128': 'AES-128' } as const;

/**
 * The attributes of EXT-X-KEY / EXT-X-SESSION-KEY (RFC 8216bis §4.4.4.4): AES-128 names its key URI and
 * IV; sample encryption names the key ID for ClearKey (the URI is a data: URI of the key ID, which is
 * what EME players hand to the CDM; the licence URL is player configuration).
 */
export function hlsKeyAttributes(e: EncryptionInfo): string {
  if (e.method === 'aes-128') return `METHOD=AES-128,URI="${e.keyUri}"${e.iv ? `,IV=0x${e.iv}` : ''}`;
  const kid = Buffer.from(e.kid, 'hex').toString('base64');
  return `METHOD=${HLS_METHOD[e.method]},URI="data:text/plain;base64,${kid}",KEYID=0x${e.kid},KEYFORMAT="${KEY_SYSTEMS.clearKey.hlsKeyFormat}",KEYFORMATVERSIONS="1"`;
}

/** EXT-X-KEY line. */
export function hlsKeyTag(e: EncryptionInfo): string {
  return `#EXT-X-KEY:${hlsKeyAttributes(e)}`;
}

/** EXT-X-SESSION-KEY line for the multivariant playlist (§4.4.6.5): lets players open the key session before any media playlist. */
export function hlsSessionKeyTag(e: EncryptionInfo): string {
  return `#EXT-X-SESSION-KEY:${hlsKeyAttributes(e)}`;
}

/** The MPD namespaces ContentProtection needs. */
export const DASH_CENC_NAMESPACES = { 'xmlns:cenc': 'urn:mpeg:cenc:2013', 'xmlns:dashif': 'https://dashif.org/CPS' } as const;

/**
 * ContentProtection elements of an AdaptationSet (ISO/IEC 23009-1 §5.8.4.1, DASH-IF IOP §7.7.2,
 * DASH-IF ClearKey): the mp4protection scheme with the default KID, then ClearKey with its licence
 * URL. The W3C common-PSSH system is signalled in band (the init segments' pssh), not here: dash.js
 * 5 takes a common-system ContentProtection for ClearKey and hands its pssh to the CDM as "keyids"
 * init data, which Chromium refuses, while from the default KID alone it builds valid "keyids".
 * AES-128 has no DASH signalling.
 */
export function dashContentProtection(e: EncryptionInfo, indent: string): string[] {
  if (e.method === 'aes-128') return [];
  const lines = [
    `${indent}<ContentProtection schemeIdUri="urn:mpeg:dash:mp4protection:2011" value="${e.method}" cenc:default_KID="${kidAsUuid(e.kid)}"/>`,
    `${indent}<ContentProtection schemeIdUri="urn:uuid:${KEY_SYSTEMS.clearKey.uuid}" value="ClearKey1.0">`,
    `${indent}  <dashif:Laurl>${e.keyUri.replace(/&/g, '&amp;')}</dashif:Laurl>`,
    `${indent}</ContentProtection>`,
  ];
  const common = KEY_SYSTEMS.commonPssh.uuid.replace(/-/g, '');
  for (const p of e.pssh ?? []) {
    if (p.systemId === common) continue;
    lines.push(`${indent}<ContentProtection schemeIdUri="urn:uuid:${kidAsUuid(p.systemId)}">`, `${indent}  <cenc:pssh>${p.box}</cenc:pssh>`, `${indent}</ContentProtection>`);
  }
  return lines;
}
