import crypto from 'node:crypto';
import { AppError, type LiveState } from '../../platform/index.js';
import { notFound } from '../http/http-errors.js';

/** What a playback session is of, and on which device. */
export interface SessionInfo {
  profileId?: string;
  titleId?: string;
  /** The title's requiredPlan, checked again on every renewal. */
  requiredPlan?: string;
  deviceId?: string;
  deviceName?: string;
  deviceType?: string;
}

export interface PlaybackSessionView extends SessionInfo {
  id: string;
  startedAt: string;
  /** The lease ends then unless the player renews it (heartbeat or licence). */
  expiresAt: string;
}

interface SessionRecord extends SessionInfo {
  accountId: string;
  startedAt: string;
}

/** A session's record outlives its lease, so a player back from a long pause can renew while a slot is free. */
const RECORD_TTL_MS = 6 * 3600_000;
const leaseSet = (accountId: string) => `playback-leases:${accountId}`;
const recordKey = (id: string) => `playback-session:${id}`;

/**
 * Concurrent playbacks of an account: each holds a lease in LiveState (Redis when split, so every
 * control-api process counts the same set) that expires `leaseSeconds` after its last renewal. A
 * device that starts again reuses its own session instead of taking a second slot.
 */
export class PlaybackSessions {
  constructor(
    private readonly deps: { liveState: LiveState },
    private readonly leaseSeconds: number,
  ) {}

  private async record(id: string): Promise<SessionRecord | undefined> {
    const raw = await this.deps.liveState.get(recordKey(id));
    return raw ? (JSON.parse(raw) as SessionRecord) : undefined;
  }

  private view(id: string, r: SessionRecord): PlaybackSessionView {
    const { accountId: _account, ...info } = r;
    return { id, ...info, expiresAt: new Date(Date.now() + this.leaseSeconds * 1000).toISOString() };
  }

  /** The account's sessions holding a lease now, oldest first. */
  async list(accountId: string): Promise<PlaybackSessionView[]> {
    const ids = await this.deps.liveState.leases(leaseSet(accountId));
    const records = await Promise.all(ids.map((id) => this.record(id)));
    return ids.flatMap((id, i) => (records[i] ? [this.view(id, records[i]!)] : []));
  }

  private refusal(limit: number, holders: PlaybackSessionView[]): AppError {
    return new AppError(
      403,
      'STREAM_LIMIT_REACHED',
      `this plan allows ${limit} concurrent stream${limit === 1 ? '' : 's'}, all in use: stop one (DELETE /v1/playback-sessions/:id) or wait for it to end`,
      undefined,
      { limit, sessions: holders },
    );
  }

  /** Starts a session within `limit` concurrent ones (403 STREAM_LIMIT_REACHED with the active sessions otherwise). */
  async start(accountId: string, info: SessionInfo, limit: number): Promise<PlaybackSessionView> {
    if (info.deviceId) {
      const mine = (await this.list(accountId)).find((s) => s.deviceId === info.deviceId);
      if (mine) {
        // What the device said before stays unless it says otherwise now.
        const { id: _id, expiresAt: _expires, ...before } = mine;
        const defined = Object.fromEntries(Object.entries(info).filter(([, v]) => v !== undefined));
        const renewed = await this.renewWithin(accountId, mine.id, { ...before, ...defined, accountId, startedAt: new Date().toISOString() }, limit);
        if (renewed) return renewed;
      }
    }
    const id = crypto.randomUUID();
    const record: SessionRecord = { ...info, accountId, startedAt: new Date().toISOString() };
    // The record first, so a holder listed by a racing start always has one.
    await this.deps.liveState.set(recordKey(id), JSON.stringify(record), RECORD_TTL_MS);
    const claim = await this.deps.liveState.claimLease(leaseSet(accountId), id, { limit, ttlMs: this.leaseSeconds * 1000 });
    if (!claim.granted) {
      await this.deps.liveState.del(recordKey(id));
      throw this.refusal(limit, await this.list(accountId));
    }
    return this.view(id, record);
  }

  private async renewWithin(accountId: string, id: string, record: SessionRecord, limit: number): Promise<PlaybackSessionView | undefined> {
    const claim = await this.deps.liveState.claimLease(leaseSet(accountId), id, { limit, ttlMs: this.leaseSeconds * 1000 });
    if (!claim.granted) return undefined;
    await this.deps.liveState.set(recordKey(id), JSON.stringify(record), RECORD_TTL_MS);
    return this.view(id, record);
  }

  /** The account a session belongs to (undefined once it ended or its record expired). */
  async ownerOf(id: string): Promise<string | undefined> {
    return (await this.record(id))?.accountId;
  }

  /** The account's session (404 for an unknown one or another account's). */
  async get(accountId: string, id: string): Promise<PlaybackSessionView & { accountId: string }> {
    const r = await this.record(id);
    if (!r || r.accountId !== accountId) throw notFound('playback session');
    return { ...this.view(id, r), accountId };
  }

  /** Renews a session's lease; one that lapsed gets it back only while a slot is free (403 STREAM_LIMIT_REACHED). */
  async renew(accountId: string, id: string, limit: number): Promise<PlaybackSessionView> {
    const r = await this.record(id);
    if (!r || r.accountId !== accountId) throw notFound('playback session');
    const renewed = await this.renewWithin(accountId, id, r, limit);
    if (!renewed) throw this.refusal(limit, await this.list(accountId));
    return renewed;
  }

  /** Ends a session and frees its slot. */
  async end(accountId: string, id: string): Promise<void> {
    await this.get(accountId, id);
    await this.deps.liveState.releaseLease(leaseSet(accountId), id);
    await this.deps.liveState.del(recordKey(id));
  }

  /** Ends every session of a device (signed out). */
  async endDevice(accountId: string, deviceId: string): Promise<number> {
    const sessions = (await this.list(accountId)).filter((s) => s.deviceId === deviceId);
    for (const s of sessions) await this.end(accountId, s.id);
    return sessions.length;
  }
}
