import { Counter, type Registry } from 'prom-client';
import { AppError, type Config } from '../../platform/index.js';
import type { DeviceInput, DeviceService } from '../billing/devices.js';
import type { PlanService } from '../billing/plans.js';
import type { ActiveSubscription, BillingService } from '../billing/subscriptions.js';
import type { PlaybackSessions, PlaybackSessionView } from './playback-sessions.js';

/** What a viewer may do with a title they may play. */
export interface EntitlementGrant {
  session: PlaybackSessionView;
  /** The tallest rendition the plan allows (lines); none without a cap. */
  maxResolution?: number;
  planId?: string;
}

/** A title as entitlements see it. */
export interface EntitledTitle {
  id: string;
  requiredPlan: string | null;
}

/**
 * The one "may this account play this title now, and how" decision, after the catalog's (published,
 * the profile's maturity ceiling): a title with a `requiredPlan` needs a subscription that entitles
 * now (403 SUBSCRIPTION_INACTIVE) on a plan of that tier or above (403 PLAN_REQUIRED); every title
 * playback holds one of the plan's concurrent streams (403 STREAM_LIMIT_REACHED; without a
 * subscription, FREE_STREAMING_LIMIT of free titles); the plan caps the resolution. Tokens,
 * heartbeats and licence renewals all ask here.
 */
export class Entitlements {
  private readonly refusals?: Counter<'code'>;

  constructor(
    private readonly deps: { billing: BillingService; plans: PlanService; sessions: PlaybackSessions; devices: DeviceService; metrics?: Registry },
    private readonly config: Config['billing'],
  ) {
    if (deps.metrics) {
      this.refusals = (deps.metrics.getSingleMetric('entitlement_refusals_total') as Counter<'code'> | undefined) ?? new Counter({
        name: 'entitlement_refusals_total',
        help: 'Playbacks, heartbeats, licences and downloads refused by entitlements, by code (PLAN_REQUIRED, SUBSCRIPTION_INACTIVE, STREAM_LIMIT_REACHED, DOWNLOADS_NOT_INCLUDED)',
        labelNames: ['code'],
        registers: [deps.metrics],
      });
      for (const code of ['PLAN_REQUIRED', 'SUBSCRIPTION_INACTIVE', 'STREAM_LIMIT_REACHED', 'DOWNLOADS_NOT_INCLUDED']) this.refusals.inc({ code }, 0);
    }
  }

  /** Counts a refusal on its way out. */
  private async counted<T>(work: Promise<T>): Promise<T> {
    try {
      return await work;
    } catch (err) {
      if (err instanceof AppError && err.status === 403) this.refusals?.inc({ code: err.code });
      throw err;
    }
  }

  /** The plan limits for a title, or the refusal. */
  private async limits(accountId: string, requiredPlan: string | null): Promise<{ streamingLimit: number; maxResolution?: number; planId?: string }> {
    const sub = await this.deps.billing.current(accountId);
    await this.requirePlan(sub, requiredPlan);
    if (sub?.entitled) return { streamingLimit: sub.plan.streaming_limit, maxResolution: sub.plan.max_resolution, planId: sub.plan.id };
    if (this.config.freeStreamingLimit === 0) throw new AppError(403, 'SUBSCRIPTION_INACTIVE', 'playback needs a subscription (POST /v1/subscriptions/checkout)');
    return { streamingLimit: this.config.freeStreamingLimit };
  }

  /** A title with a requiredPlan needs an entitling subscription of that tier or above. */
  private async requirePlan(sub: ActiveSubscription | undefined, requiredPlan: string | null): Promise<void> {
    if (requiredPlan) {
      if (!sub?.entitled) {
        const why = !sub ? 'this account has no subscription' : sub.row.status === 'past_due' ? 'the last payment failed and the grace period is over' : `the subscription is ${sub.row.status}`;
        throw new AppError(403, 'SUBSCRIPTION_INACTIVE', `${why}: this title needs the ${requiredPlan} plan or above (POST /v1/subscriptions/checkout)`, undefined, { requiredPlan });
      }
      if (sub.plan.tier < (await this.deps.plans.tierOf(requiredPlan))) {
        throw new AppError(403, 'PLAN_REQUIRED', `this title needs the ${requiredPlan} plan or above; this account has ${sub.plan.name}: change plans in the portal (POST /v1/subscriptions/portal)`, undefined, { requiredPlan, currentPlan: sub.plan.id });
      }
    }
  }

  forTitle(input: { accountId: string; profileId: string; title: EntitledTitle; device?: DeviceInput }): Promise<EntitlementGrant> {
    return this.counted(this.decideTitle(input));
  }

  private async decideTitle(input: { accountId: string; profileId: string; title: EntitledTitle; device?: DeviceInput }): Promise<EntitlementGrant> {
    const { accountId, title, device } = input;
    const limits = await this.limits(accountId, title.requiredPlan);
    if (device) await this.deps.devices.touch(accountId, device);
    const session = await this.deps.sessions.start(
      accountId,
      { profileId: input.profileId, titleId: title.id, requiredPlan: title.requiredPlan ?? undefined, ...(device ? { deviceId: device.id, deviceName: device.name, deviceType: device.type } : {}) },
      limits.streamingLimit,
    );
    return { session, ...(limits.maxResolution ? { maxResolution: limits.maxResolution } : {}), ...(limits.planId ? { planId: limits.planId } : {}) };
  }

  /**
   * Whether the account may download (or keep playing a download of) the title now: a subscription
   * that entitles, a plan that unlocks the title and includes downloads (403 SUBSCRIPTION_INACTIVE,
   * PLAN_REQUIRED, DOWNLOADS_NOT_INCLUDED). Returns the plan's download terms and resolution cap.
   */
  forDownload(accountId: string, title: EntitledTitle): Promise<{ planId: string; devices: number; days: number; maxResolution: number }> {
    return this.counted(this.decideDownload(accountId, title));
  }

  private async decideDownload(accountId: string, title: EntitledTitle): Promise<{ planId: string; devices: number; days: number; maxResolution: number }> {
    const sub = await this.deps.billing.current(accountId);
    if (!sub?.entitled) throw new AppError(403, 'SUBSCRIPTION_INACTIVE', 'downloads need an active subscription (POST /v1/subscriptions/checkout)');
    await this.requirePlan(sub, title.requiredPlan);
    if (!sub.plan.downloads_allowed) {
      throw new AppError(403, 'DOWNLOADS_NOT_INCLUDED', `the ${sub.plan.name} plan does not include downloads: change plans in the portal (POST /v1/subscriptions/portal)`, undefined, { currentPlan: sub.plan.id });
    }
    return { planId: sub.plan.id, devices: sub.plan.download_devices, days: sub.plan.download_days, maxResolution: sub.plan.max_resolution };
  }

  /** A licence renewal: the session named by a playback token, whoever's account it is. */
  async renewById(sessionId: string): Promise<PlaybackSessionView> {
    const owner = await this.deps.sessions.ownerOf(sessionId);
    if (!owner) throw new AppError(403, 'SESSION_ENDED', 'this playback session was ended (or signed out): start playback again');
    return this.renew(owner, sessionId);
  }

  /** A heartbeat (or licence renewal): the subscription still entitles and the session keeps its slot. */
  renew(accountId: string, sessionId: string): Promise<PlaybackSessionView> {
    return this.counted(
      (async () => {
        const session = await this.deps.sessions.get(accountId, sessionId);
        const limits = await this.limits(accountId, session.requiredPlan ?? null);
        return this.deps.sessions.renew(accountId, sessionId, limits.streamingLimit);
      })(),
    );
  }
}
