/**
 * The ingest module's public contract: the publish-authorization port it calls and the bus topics it
 * publishes. The packager subscribes to these; control-api implements the authorizer.
 */
import type { Rung } from '../platform/index.js';

/** Who is asking to publish. */
export interface PublishMeta {
  /** The publisher's IP address (no port). */
  remoteAddress: string;
}

/** The authorizer's answer: which stream the key publishes to, and how to package it. */
export type PublishDecision =
  | {
      ok: true;
      streamId: string;
      /** Package the source as is (no transcoding). */
      passthrough?: boolean;
      /** A per-stream ladder instead of the configured default. */
      ladder?: Rung[];
      /** Sample encryption of the session (the packager gets the keys from its KeyProvider). */
      encryption?: StreamEncryption;
    }
  | { ok: false; reason: string };

/** How a live session is encrypted, and the licence server players are pointed at. */
export interface StreamEncryption {
  scheme: 'cbcs' | 'cenc';
  licenseUrl: string;
  /** A new key every this many segments (0: one key per session). */
  rotationSegments: number;
}

/** Port: decides whether a stream key may publish (control-api implements it, in-process or over HTTP). */
export interface PublishAuthorizer {
  authorize(streamKey: string, meta: PublishMeta): Promise<PublishDecision>;
}

/**
 * Over HTTP (split deployment) the authorizer is `POST {controlApiUrl}{PUBLISH_AUTHORIZE_PATH}` with
 * `authorization: Bearer {internalToken}`, body `{streamKey, remoteAddress}`, answering a PublishDecision.
 */
export const PUBLISH_AUTHORIZE_PATH = '/internal/ingest/authorize';

/** Video as the publisher described it (metadata and sequence header); fps 0 = not announced. */
export interface IngestVideoInfo {
  codec: string;
  width: number;
  height: number;
  fps: number;
}

/** Audio as the publisher's sequence header describes it. */
export interface IngestAudioInfo {
  codec: string;
  sampleRate: number;
  channels: number;
}

/** Bus topics published by ingest (`module.noun.pastTense`). */
// A type alias (not an interface) so it satisfies the bus's TopicMap index signature.
export type IngestTopics = {
  /** A publisher was authorized and its media is flowing: the packager starts pulling `sourceUrl`. */
  'ingest.stream.started': {
    streamId: string;
    /** One publish connection; a reconnect is a new session of the same streamId. */
    sessionId: string;
    /**
     * Internal URL the packager reads the stream from (HTTP-FLV on the ingest's loopback listener,
     * keyed by a per-session token, never by the stream key). Valid while the session is live.
     */
    sourceUrl: string;
    startedAtMs: number;
    remoteAddress: string;
    video?: IngestVideoInfo;
    audio?: IngestAudioInfo;
    passthrough?: boolean;
    ladder?: Rung[];
    encryption?: StreamEncryption;
  };
  /** The publish session is over (publisher left, was refused late, or the ingest worker restarted). */
  'ingest.stream.ended': {
    streamId: string;
    sessionId: string;
    endedAtMs: number;
    reason: string;
  };
  /** Periodic per-session ingest statistics. */
  'ingest.stream.stats': {
    streamId: string;
    sessionId: string;
    /** Bits per second received from the publisher over the last interval, in kbit/s. */
    bitrateKbps: number;
    /** Video frames per second received over the last interval. */
    fps: number;
    /** Frames dropped so far because the packager read too slowly. */
    droppedFrames: number;
    /** Bytes received in this session. */
    bytesIn: number;
    atMs: number;
  };
};

/** Ingest topic names. */
export type IngestTopic = keyof IngestTopics;
