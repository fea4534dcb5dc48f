import { AppError, type Config } from '../platform/index.js';
import type { ContentKeyGrant, KeyProvider, KeyRequest } from '../packager/contract.js';
import type { PublishAuthorizer, PublishMeta } from '../ingest/contract.js';
import {
  INTERNAL_TOKEN_HEADER, type AssetStatus, type AssetView, type LiveStreamControl, type LiveStreamStatus,
  type MediaPolicy, type PublishAuthorization, type RecordingAssetInput,
} from './contract.js';

/** How long one internal call may take before the caller gives up (a publish handshake is waiting). */
const TIMEOUT_MS = 5000;

/**
 * LiveStreamControl over HTTP, for a live pipeline running in another process than control-api:
 * calls the /internal/v1 routes with config.internalToken.
 */
export class ControlApiClient implements LiveStreamControl, PublishAuthorizer, KeyProvider {
  private readonly base: string;

  constructor(
    private readonly deps: { fetch?: typeof fetch },
    private readonly config: Pick<Config, 'controlApiUrl' | 'internalToken'>,
  ) {
    this.base = config.controlApiUrl.replace(/\/$/, '');
  }

  /** May this stream key publish now? */
  async authorizePublish(streamKey: string): Promise<PublishAuthorization> {
    const res = await this.call('POST', '/internal/v1/publish-authorizations', { streamKey }, [200]);
    return (await res.json()) as PublishAuthorization;
  }

  /** ingest's PublishAuthorizer port, over HTTP. */
  authorize(streamKey: string, _meta: PublishMeta): Promise<PublishAuthorization> {
    return this.authorizePublish(streamKey);
  }

  /** The packager's KeyProvider over HTTP: the content key of (media, period), made on first request. */
  async contentKey(req: KeyRequest): Promise<ContentKeyGrant> {
    const res = await this.call('POST', '/internal/v1/content-keys', req, [200]);
    const body = (await res.json()) as { kid: string; key: string; iv: string };
    return { kid: body.kid, key: Buffer.from(body.key, 'base64'), iv: Buffer.from(body.iv, 'hex') };
  }

  /** A stream's or asset's playback policy, from control-api's database. */
  async playbackPolicy(mediaId: string): Promise<MediaPolicy> {
    const res = await this.call('GET', `/internal/v1/playback-policies/${encodeURIComponent(mediaId)}`, undefined, [200]);
    return ((await res.json()) as { policy: MediaPolicy }).policy;
  }

  /** Reports a stream's status; false when the stream does not exist. */
  async setStreamStatus(streamId: string, status: LiveStreamStatus): Promise<boolean> {
    const res = await this.call('POST', `/internal/v1/live-streams/${encodeURIComponent(streamId)}/status`, { status }, [204, 404]);
    return res.status === 204;
  }

  /** Registers a recording as an asset; undefined when the stream does not exist. */
  async createRecordingAsset(input: RecordingAssetInput): Promise<AssetView | undefined> {
    const res = await this.call('POST', '/internal/v1/assets', input, [201, 404]);
    return res.status === 201 ? ((await res.json()) as AssetView) : undefined;
  }

  /** Updates an asset's processing state; false when the asset does not exist. */
  async setAssetStatus(assetId: string, status: AssetStatus, durationSeconds?: number): Promise<boolean> {
    const body = durationSeconds === undefined ? { status } : { status, durationSeconds };
    const res = await this.call('POST', `/internal/v1/assets/${encodeURIComponent(assetId)}/status`, body, [204, 404]);
    return res.status === 204;
  }

  private async call(method: string, path: string, body: object | undefined, expected: number[]): Promise<Response> {
    const doFetch = this.deps.fetch ?? fetch;
    let res: Response;
    try {
      res = await doFetch(`${this.base}${path}`, {
        method,
        headers: { ...(body ? { 'content-type': 'application/json' } : {}), [INTERNAL_TOKEN_HEADER]: this.config.internalToken },
        body: body ? JSON.stringify(body) : undefined,
        signal: AbortSignal.timeout(TIMEOUT_MS),
      });
    } catch (err) {
      throw new AppError(502, 'CONTROL_API_UNREACHABLE', `control-api ${method} ${path} failed: ${(err as Error).message}`);
    }
    if (!expected.includes(res.status)) {
      const detail = await res.text().catch(() => '');
      throw new AppError(502, 'CONTROL_API_ERROR', `control-api ${method} ${path} answered ${res.status}: ${detail.slice(0, 300)}`);
    }
    return res;
  }
}
