import type { Config } from '../../platform/index.js';
import type { PlaybackUrls } from '../contract.js';

/** The config a URL builder needs: the public host and the public ports. */
export type UrlConfig = Pick<Config, 'publicHost' | 'ports'>;

/**
 * Ports a URL leaves out (RFC 3986 §3.2.3). RTMP's 1935 stays explicit: it is what DESIGN.md and the
 * README show (`rtmp://HOST:1935/live`) and what users compare against in OBS's Server field.
 */
const DEFAULT_PORTS: Record<string, number> = { http: 80, https: 443 };

/** `scheme://host[:port]`, with the port omitted when it is the scheme default and IPv6 hosts bracketed. */
export function toOrigin(scheme: string, host: string, port: number): string {
  const h = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
  return port === DEFAULT_PORTS[scheme] ? `${scheme}://${h}` : `${scheme}://${h}:${port}`;
}

/** Absolute publish and playback URLs of one live stream (playback points at the edge). */
export function toLiveStreamUrls(config: UrlConfig, streamId: string): { rtmpUrl: string; whipUrl: string; playback: PlaybackUrls } {
  const edge = toOrigin('http', config.publicHost, config.ports.edge);
  const id = encodeURIComponent(streamId);
  return {
    // OBS "Server" field; the stream key goes in "Stream Key", so it is not part of this URL.
    rtmpUrl: `${toOrigin('rtmp', config.publicHost, config.ports.rtmp)}/live`,
    whipUrl: `${toOrigin('http', config.publicHost, config.ports.ingestHttp)}/whip/${id}`,
    playback: { hls: `${edge}/live/${id}/master.m3u8`, dash: `${edge}/live/${id}/manifest.mpd` },
  };
}

/** Absolute edge URLs of files in an asset's folder (thumbnails), from their paths relative to it. */
export function toAssetMediaUrls<T extends Record<string, string>>(config: UrlConfig, assetId: string, files: T): T {
  const base = `${toOrigin('http', config.publicHost, config.ports.edge)}/vod/${encodeURIComponent(assetId)}/`;
  return Object.fromEntries(Object.entries(files).map(([k, v]) => [k, base + v])) as T;
}

/** The ClearKey licence endpoint (the key server), as MPDs name it and players call it. */
export function clearKeyLicenseUrl(config: UrlConfig): string {
  return `${toOrigin('http', config.publicHost, config.ports.api)}/v1/drm/clearkey`;
}

/** Where AES-128 key URIs point: the key server's `/v1/keys/` (the key ID follows). */
export function aes128KeyUrlPrefix(config: UrlConfig): string {
  return `${toOrigin('http', config.publicHost, config.ports.api)}/v1/keys/`;
}

/** Absolute playback URLs of one on-demand asset at the edge. */
export function toAssetPlaybackUrls(config: UrlConfig, assetId: string): PlaybackUrls {
  const edge = toOrigin('http', config.publicHost, config.ports.edge);
  const id = encodeURIComponent(assetId);
  return { hls: `${edge}/vod/${id}/master.m3u8`, dash: `${edge}/vod/${id}/manifest.mpd` };
}
