import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';

/** One rung of the live transcoding ladder. */
export interface Rung {
  name: string;
  height: number;
  videoBitrateKbps: number;
}

/** The whole platform configuration, validated once at boot (see README "Configuration"). */
export interface Config {
  env: 'development' | 'production' | 'test';
  dataDir: string;
  publicHost: string;
  logLevel: string;
  /** `pretty` for people at a terminal, `json` for log shippers. */
  logFormat: 'pretty' | 'json';
  ports: { api: number; rtmp: number; ingestHttp: number; origin: number; edge: number };
  /** Where ingest serves each live session to the packager (HTTP-FLV); split deployments bind a routable address. */
  ingest: { internalHost: string; internalPort: number; advertiseHost?: string };
  /** `/metrics` port of a service without an HTTP port of its own (a packager on its own). */
  metricsPort: number;
  /** Host the HTTP services bind to. */
  bindHost: string;
  databaseUrl?: string;
  redisUrl?: string;
  s3?: {
    bucket: string;
    endpoint?: string;
    region: string;
    accessKeyId?: string;
    secretAccessKey?: string;
    forcePathStyle: boolean;
  };
  kafkaBrokers?: string[];
  /** Which bus adapter carries events. */
  busDriver: 'memory' | 'redis' | 'kafka';
  /** [BUS_CLAIM_IDLE_SECONDS] A grouped Redis Streams message unacknowledged this long (its consumer died) is handed to another consumer. */
  busClaimIdleSeconds: number;
  auth: {
    jwtSecret: string;
    issuer: string;
    audience: string;
    accessTtlSeconds: number;
    refreshTtlSeconds: number;
    loginMaxAttempts: number;
    loginWindowSeconds: number;
    /** Emails whose accounts become admins at their next login (ADMIN_EMAILS, comma-separated). */
    adminEmails: string[];
    /** Accounts one client address may create per signupWindowSeconds. */
    signupMaxPerIp: number;
    signupWindowSeconds: number;
  };
  /** Per-account limits, so one account cannot start N ladders or fill the database. */
  quotas: { liveStreams: number; liveSessions: number; pendingUploads: number; storageBytes: number; commentsPerWindow: number; commentWindowSeconds: number };
  live: {
    partTargetSeconds: number;
    segmentSeconds: number;
    dvrWindowSeconds: number;
    reconnectGraceSeconds: number;
    ladder: Rung[];
    x264Preset: string;
    ffmpegPath: string;
    ffprobePath: string;
  };
  /** On-demand: uploads, the VOD job queue and the per-title ladder (README "VOD settings"). */
  /** The scheduled recommender: how often every profile's recommendations are recomputed. */
  recommendations: { refreshMinutes: number; timeoutSeconds: number };
  vod: {
    /** Where tus keeps uploads on the embedded default (`DATA_DIR/uploads`). */
    uploadDir: string;
    uploadMaxBytes: number;
    /** An upload not finished this long after it was created expires and its bytes are removed. */
    uploadExpirySeconds: number;
    segmentSeconds: number;
    /** Candidate rungs (their bitrates are the per-title caps' reference); the source picks which fit. */
    ladder: Rung[];
    crf: number;
    x264Preset: string;
    workerConcurrency: number;
    jobRetries: number;
    jobTimeoutSeconds: number;
    maxDurationSeconds: number;
    maxDimension: number;
  };
  origin: { blockingTimeoutMs: number; internalUrl: string; maxHeldRequests: number };
  edge: {
    originUrls: string[];
    cacheBytes: number;
    playbackSigningKey?: string;
    requireToken: boolean;
    diskCacheDir?: string;
    diskCacheBytes?: number;
    staleIfErrorSeconds: number;
    healthIntervalMs: number;
    connectTimeoutMs: number;
    upstreamTimeoutMs?: number;
    maxObjectBytes?: number;
    blockingReloadTtlSeconds: number;
  };
  /** Content protection: the key store's master key, the default policy, live key rotation, licence limits. */
  drm: {
    /** KEY_ENCRYPTION_KEY: 32 bytes (64 hex digits) that wrap every content key before it is stored. */
    keyEncryptionKey?: Buffer;
    /** Encryption of new streams and assets that do not choose one. */
    defaultEncryption: 'none' | 'aes-128' | 'cbcs' | 'cenc';
    /** Live: a new key every this many segments (0: one key per session). */
    keyRotationSegments: number;
    /** Licence and key requests per viewer token per minute. */
    licenseRequestsPerMinute: number;
  };
  /** Subscriptions and entitlements (README "Plans, subscriptions and payments"). */
  billing: {
    /** Who takes payments: the built-in test checkout (`local`) or Stripe. */
    provider: 'local' | 'stripe';
    stripeSecretKey?: string;
    /** STRIPE_WEBHOOK_SECRET (`whsec_...`): webhook signatures are checked against it. */
    stripeWebhookSecret?: string;
    /** STRIPE_API_URL: another Stripe API base (a local server speaking Stripe's wire format, in tests). */
    stripeApiUrl?: string;
    /** A past_due subscription keeps its entitlements this long after the payment failed. */
    pastDueGraceSeconds: number;
    /** A playback session's lease lives this long after its last heartbeat (or licence renewal). */
    playbackLeaseSeconds: number;
    /** Concurrent title playbacks of an account without a subscription (free titles). */
    freeStreamingLimit: number;
  };
  /** Internal URL services use to reach control-api when split into processes. */
  controlApiUrl: string;
  /** Shared secret for service-to-service calls (ingest → control-api authorization). */
  internalToken: string;
}

/** Thrown at boot for any invalid variable; the message names the variable. */
export class ConfigError extends Error {
  readonly code = 'CONFIG_INVALID';
}

type Env = Record<string, string | undefined>;

function str(env: Env, name: string, def: string): string {
  const v = env[name];
  return v === undefined || v === '' ? def : v;
}

function num(env: Env, name: string, def: number, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return def;
  const v = Number(raw);
  if (!Number.isFinite(v) || v < min || v > max) {
    throw new ConfigError(`${name}=${raw} must be a number between ${min} and ${max}`);
  }
  return v;
}

function port(env: Env, name: string, def: number): number {
  const v = num(env, name, def, 0, 65535);
  if (!Number.isInteger(v)) throw new ConfigError(`${name} must be an integer port`);
  return v;
}

function bool(env: Env, name: string, def: boolean): boolean {
  const raw = env[name];
  if (raw === undefined || raw === '') return def;
  if (/^(1|true|yes|on)$/i.test(raw)) return true;
  if (/^(0|false|no|off)$/i.test(raw)) return false;
  throw new ConfigError(`${name}=${raw} must be true or false`);
}

function url(env: Env, name: string): string | undefined {
  const raw = env[name];
  if (!raw) return undefined;
  try {
    new URL(raw);
  } catch {
    throw new ConfigError(`${name} is not a valid URL`);
  }
  return raw;
}

function logFormat(env: Env): 'pretty' | 'json' {
  const raw = env.LOG_FORMAT;
  if (raw === undefined || raw === '') return process.stdout.isTTY ? 'pretty' : 'json';
  if (raw !== 'pretty' && raw !== 'json') throw new ConfigError('LOG_FORMAT must be pretty or json');
  return raw;
}

/** Parses LIVE_LADDER, e.g. "720p:720:2800,480p:480:1400,360p:360:800". */
export function parseLadder(raw: string): Rung[] {
  const rungs = raw.split(',').map((part) => {
    const [name, height, kbps] = part.trim().split(':');
    const h = Number(height);
    const b = Number(kbps);
    if (!name || !/^[a-z0-9_-]+$/i.test(name) || !Number.isInteger(h) || h < 64 || h > 4320 || h % 2 || !(b > 0)) {
      throw new ConfigError(`LIVE_LADDER entry "${part}" must be name:evenHeight:kbps`);
    }
    return { name, height: h, videoBitrateKbps: b };
  });
  if (rungs.length === 0) throw new ConfigError('LIVE_LADDER must name at least one rung');
  return rungs.sort((a, b) => b.height - a.height);
}

const DEFAULT_LADDER = '720p:720:2800,480p:480:1400,360p:360:800';
const DEFAULT_VOD_LADDER = '1080p:1080:5000,720p:720:2800,480p:480:1400,360p:360:800';

/** Reads and validates the environment. Only this function reads process.env. */
export function loadConfig(env: Env = process.env, opts: { localSecrets?: boolean; split?: boolean } = {}): Config {
  const nodeEnv = str(env, 'NODE_ENV', 'development');
  if (!['development', 'production', 'test'].includes(nodeEnv)) {
    throw new ConfigError('NODE_ENV must be development, production or test');
  }
  const dataDir = path.resolve(str(env, 'DATA_DIR', './data'));
  // One process on embedded defaults: secrets nobody set are generated once and kept under DATA_DIR,
  // so sessions and playback tokens survive a restart and signed playback works out of the box.
  if (opts.localSecrets) env = { ...localSecrets(dataDir, env), ...definedOnly(env) };
  const publicHost = str(env, 'PUBLIC_HOST', '127.0.0.1');
  const ports = {
    api: port(env, 'API_PORT', 8080),
    rtmp: port(env, 'RTMP_PORT', 1935),
    ingestHttp: port(env, 'INGEST_HTTP_PORT', 8085),
    origin: port(env, 'ORIGIN_PORT', 8090),
    edge: port(env, 'EDGE_PORT', 8091),
  };
  const jwtSecret = env.JWT_SECRET ?? '';
  if (nodeEnv === 'production' && jwtSecret.length < 32) {
    throw new ConfigError('JWT_SECRET must be set to at least 32 characters in production');
  }
  // Split services must share secrets they were given, and production never runs on a placeholder.
  if (opts.split || nodeEnv === 'production') {
    for (const name of ['JWT_SECRET', 'INTERNAL_TOKEN'] as const) checkSecret(name, env[name], true);
    checkSecret('PLAYBACK_SIGNING_KEY', env.PLAYBACK_SIGNING_KEY, false);
  }
  const s3Bucket = env.S3_BUCKET;
  if (bool(env, 'EDGE_REQUIRE_TOKEN', false) && !env.PLAYBACK_SIGNING_KEY) {
    throw new ConfigError('EDGE_REQUIRE_TOKEN=true needs PLAYBACK_SIGNING_KEY');
  }
  const kafka = env.KAFKA_BROKERS?.split(',').map((b) => b.trim()).filter(Boolean);
  const redisUrl = url(env, 'REDIS_URL');
  const busDriver = str(env, 'BUS_DRIVER', kafka?.length ? 'kafka' : redisUrl ? 'redis' : 'memory');
  if (busDriver !== 'memory' && busDriver !== 'redis' && busDriver !== 'kafka') {
    throw new ConfigError('BUS_DRIVER must be memory, redis or kafka');
  }
  if (busDriver === 'redis' && !redisUrl) throw new ConfigError('BUS_DRIVER=redis needs REDIS_URL');
  if (busDriver === 'kafka' && !kafka?.length) throw new ConfigError('BUS_DRIVER=kafka needs KAFKA_BROKERS');
  const originPort = ports.origin;
  const originUrls = str(env, 'ORIGIN_URLS', `http://127.0.0.1:${originPort}`)
    .split(',')
    .map((u) => u.trim().replace(/\/$/, ''))
    .filter(Boolean);
  for (const u of originUrls) {
    try {
      new URL(u);
    } catch {
      throw new ConfigError(`ORIGIN_URLS entry "${u}" is not a URL`);
    }
  }
  // 1/3 s: ten frames at 30 fps, so PART-HOLD-BACK (3 × PART-TARGET) is 1 s.
  const partTarget = num(env, 'LIVE_PART_TARGET', 0.334, 0.1, 2);
  const segment = num(env, 'LIVE_SEGMENT_SECONDS', 2, 1, 10);
  if (segment < partTarget * 2) throw new ConfigError('LIVE_SEGMENT_SECONDS must be at least twice LIVE_PART_TARGET');

  return {
    env: nodeEnv as Config['env'],
    dataDir,
    publicHost,
    logLevel: str(env, 'LOG_LEVEL', nodeEnv === 'test' ? 'warn' : 'info'),
    logFormat: logFormat(env),
    ports,
    metricsPort: port(env, 'METRICS_PORT', 9464),
    ingest: {
      internalHost: str(env, 'INGEST_INTERNAL_HOST', '127.0.0.1'),
      internalPort: port(env, 'INGEST_INTERNAL_PORT', 0),
      advertiseHost: env.INGEST_ADVERTISE_HOST || undefined,
    },
    bindHost: str(env, 'BIND_HOST', '0.0.0.0'),
    databaseUrl: url(env, 'DATABASE_URL'),
    redisUrl,
    s3: s3Bucket
      ? {
          bucket: s3Bucket,
          endpoint: url(env, 'S3_ENDPOINT'),
          region: str(env, 'S3_REGION', 'us-east-1'),
          accessKeyId: env.S3_ACCESS_KEY_ID,
          secretAccessKey: env.S3_SECRET_ACCESS_KEY,
          forcePathStyle: bool(env, 'S3_FORCE_PATH_STYLE', Boolean(env.S3_ENDPOINT)),
        }
      : undefined,
    kafkaBrokers: kafka?.length ? kafka : undefined,
    busDriver,
    busClaimIdleSeconds: num(env, 'BUS_CLAIM_IDLE_SECONDS', 30, 1, 3600),
    auth: {
      // Without JWT_SECRET (development), a random secret: tokens do not survive a restart.
      jwtSecret: jwtSecret || crypto.randomBytes(32).toString('hex'),
      issuer: str(env, 'JWT_ISSUER', 'streamforge'),
      audience: str(env, 'JWT_AUDIENCE', 'streamforge-api'),
      accessTtlSeconds: num(env, 'ACCESS_TOKEN_TTL', 900, 30, 86400),
      refreshTtlSeconds: num(env, 'REFRESH_TOKEN_TTL', 30 * 86400, 60),
      loginMaxAttempts: num(env, 'LOGIN_MAX_ATTEMPTS', 10, 1, 1000),
      loginWindowSeconds: num(env, 'LOGIN_WINDOW_SECONDS', 900, 1),
      adminEmails: str(env, 'ADMIN_EMAILS', '').split(',').map((e) => e.trim().toLowerCase()).filter(Boolean),
      signupMaxPerIp: num(env, 'SIGNUP_MAX_PER_IP', 10, 1, 1_000_000),
      signupWindowSeconds: num(env, 'SIGNUP_WINDOW_SECONDS', 3600, 1),
    },
    quotas: {
      liveStreams: num(env, 'QUOTA_LIVE_STREAMS', 50, 1, 1_000_000),
      liveSessions: num(env, 'QUOTA_LIVE_SESSIONS', 5, 1, 100_000),
      pendingUploads: num(env, 'QUOTA_PENDING_UPLOADS', 20, 1, 100_000),
      storageBytes: num(env, 'QUOTA_STORAGE_BYTES', 1024 ** 4, 1),
      commentsPerWindow: num(env, 'COMMENTS_PER_WINDOW', 10, 1, 100_000),
      commentWindowSeconds: num(env, 'COMMENTS_WINDOW_SECONDS', 60, 1, 86_400),
    },
    live: {
      partTargetSeconds: partTarget,
      segmentSeconds: segment,
      dvrWindowSeconds: num(env, 'LIVE_DVR_WINDOW', 3600, 10),
      reconnectGraceSeconds: num(env, 'LIVE_RECONNECT_GRACE', 10, 0, 600),
      ladder: parseLadder(str(env, 'LIVE_LADDER', DEFAULT_LADDER)),
      x264Preset: str(env, 'LIVE_X264_PRESET', 'veryfast'),
      ffmpegPath: str(env, 'FFMPEG_PATH', 'ffmpeg'),
      ffprobePath: str(env, 'FFPROBE_PATH', 'ffprobe'),
    },
    recommendations: {
      refreshMinutes: num(env, 'RECS_REFRESH_MINUTES', 60, 1, 7 * 24 * 60),
      timeoutSeconds: num(env, 'RECS_TIMEOUT_SECONDS', 1800, 10),
    },
    vod: {
      uploadDir: path.join(dataDir, 'uploads'),
      uploadMaxBytes: num(env, 'UPLOAD_MAX_BYTES', 20 * 1024 ** 3, 1),
      uploadExpirySeconds: num(env, 'UPLOAD_EXPIRY_SECONDS', 86400, 10),
      segmentSeconds: num(env, 'VOD_SEGMENT_SECONDS', 4, 1, 10),
      ladder: parseLadder(str(env, 'VOD_LADDER', DEFAULT_VOD_LADDER)),
      crf: num(env, 'VOD_CRF', 23, 10, 40),
      x264Preset: str(env, 'VOD_X264_PRESET', 'veryfast'),
      workerConcurrency: num(env, 'VOD_WORKER_CONCURRENCY', 1, 1, 64),
      jobRetries: num(env, 'VOD_JOB_RETRIES', 3, 0, 20),
      jobTimeoutSeconds: num(env, 'VOD_JOB_TIMEOUT_SECONDS', 4 * 3600, 5),
      maxDurationSeconds: num(env, 'VOD_MAX_DURATION_SECONDS', 12 * 3600, 1),
      maxDimension: num(env, 'VOD_MAX_DIMENSION', 8192, 64, 16384),
    },
    origin: {
      blockingTimeoutMs: num(env, 'ORIGIN_BLOCKING_TIMEOUT_MS', 6000, 100, 60000),
      maxHeldRequests: num(env, 'ORIGIN_MAX_HELD_REQUESTS', 50000, 1, 10_000_000),
      internalUrl: str(env, 'ORIGIN_INTERNAL_URL', `http://127.0.0.1:${originPort}`),
    },
    edge: {
      originUrls,
      cacheBytes: num(env, 'EDGE_CACHE_BYTES', 512 * 1024 * 1024, 1024 * 1024),
      playbackSigningKey: env.PLAYBACK_SIGNING_KEY || undefined,
      requireToken: bool(env, 'EDGE_REQUIRE_TOKEN', false),
      diskCacheDir: env.EDGE_DISK_CACHE_DIR ? path.resolve(env.EDGE_DISK_CACHE_DIR) : undefined,
      diskCacheBytes: env.EDGE_DISK_CACHE_BYTES ? num(env, 'EDGE_DISK_CACHE_BYTES', 0, 1024 * 1024) : undefined,
      staleIfErrorSeconds: num(env, 'EDGE_STALE_IF_ERROR', 30, 0, 86400),
      healthIntervalMs: num(env, 'EDGE_HEALTH_INTERVAL_MS', 2000, 100, 600_000),
      connectTimeoutMs: num(env, 'EDGE_CONNECT_TIMEOUT_MS', 2000, 50, 60_000),
      upstreamTimeoutMs: env.EDGE_UPSTREAM_TIMEOUT_MS ? num(env, 'EDGE_UPSTREAM_TIMEOUT_MS', 0, 100, 600_000) : undefined,
      maxObjectBytes: env.EDGE_MAX_OBJECT_BYTES ? num(env, 'EDGE_MAX_OBJECT_BYTES', 0, 1024) : undefined,
      blockingReloadTtlSeconds: num(env, 'EDGE_BLOCKING_RELOAD_TTL', 6, 0, 3600),
    },
    drm: {
      keyEncryptionKey: keyEncryptionKey(env.KEY_ENCRYPTION_KEY),
      defaultEncryption: oneOf(env, 'DEFAULT_ENCRYPTION', ['none', 'aes-128', 'cbcs', 'cenc'] as const, 'none'),
      keyRotationSegments: num(env, 'KEY_ROTATION_SEGMENTS', 0, 0, 1_000_000),
      licenseRequestsPerMinute: num(env, 'LICENSE_REQUESTS_PER_MINUTE', 120, 1, 1_000_000),
    },
    billing: billingConfig(env),
    controlApiUrl: str(env, 'CONTROL_API_URL', `http://127.0.0.1:${ports.api}`),
    internalToken: env.INTERNAL_TOKEN || crypto.randomBytes(24).toString('hex'),
  };
}

/**
 * A secret good enough to run on: set (when required), at least 32 characters, not a placeholder left
 * from an example (CHANGE-ME, replace-me, ...) and not a run of few characters.
 */
function checkSecret(name: string, value: string | undefined, required: boolean): void {
  if (!value) {
    if (required) throw new ConfigError(`${name} must be set (the same value on every process) when services run separately or NODE_ENV=production`);
    return;
  }
  if (value.length < 32) throw new ConfigError(`${name} must be at least 32 characters (e.g. openssl rand -hex 32)`);
  const plain = value.toLowerCase().replace(/[^a-z0-9]/g, '');
  if (/changeme|replaceme|placeholder|yoursecret|secrethere/.test(plain)) throw new ConfigError(`${name} is a placeholder: set a random value (e.g. openssl rand -hex 32)`);
  if (new Set(value).size < 10) throw new ConfigError(`${name} has too few distinct characters to be a secret`);
}

function oneOf<T extends string>(env: Env, name: string, values: readonly T[], def: T): T {
  const v = str(env, name, def);
  if (!values.includes(v as T)) throw new ConfigError(`${name}=${v} must be one of ${values.join(', ')}`);
  return v as T;
}

/** PAYMENT_PROVIDER and its Stripe settings: stripe needs both the secret key and the webhook secret. */
function billingConfig(env: Env): Config['billing'] {
  const provider = oneOf(env, 'PAYMENT_PROVIDER', ['local', 'stripe'] as const, 'local');
  const stripeSecretKey = env.STRIPE_SECRET_KEY || undefined;
  const stripeWebhookSecret = env.STRIPE_WEBHOOK_SECRET || undefined;
  if (provider === 'stripe' && (!stripeSecretKey || !stripeWebhookSecret)) {
    throw new ConfigError('PAYMENT_PROVIDER=stripe needs STRIPE_SECRET_KEY (sk_...) and STRIPE_WEBHOOK_SECRET (whsec_...)');
  }
  if (stripeSecretKey && !/^(sk|rk)_(test|live)_/.test(stripeSecretKey)) throw new ConfigError('STRIPE_SECRET_KEY must be a secret or restricted key (sk_test_..., sk_live_..., rk_...)');
  if (stripeWebhookSecret && !stripeWebhookSecret.startsWith('whsec_')) throw new ConfigError('STRIPE_WEBHOOK_SECRET must be the endpoint signing secret (whsec_...)');
  const stripeApiUrl = env.STRIPE_API_URL || undefined;
  if (stripeApiUrl && !/^https?:\/\/[^/]+\/?$/.test(stripeApiUrl)) throw new ConfigError('STRIPE_API_URL must be a scheme and host, e.g. http://127.0.0.1:12111');
  return {
    provider, stripeSecretKey, stripeWebhookSecret, stripeApiUrl,
    pastDueGraceSeconds: num(env, 'PAST_DUE_GRACE_SECONDS', 3 * 86_400, 0, 90 * 86_400),
    playbackLeaseSeconds: num(env, 'PLAYBACK_LEASE_SECONDS', 90, 5, 3600),
    freeStreamingLimit: num(env, 'FREE_STREAMING_LIMIT', 2, 0, 100),
  };
}

/** KEY_ENCRYPTION_KEY: 64 hex digits (AES-256 key wrap, RFC 3394); unset means encryption is off. */
function keyEncryptionKey(raw: string | undefined): Buffer | undefined {
  if (!raw) return undefined;
  if (!/^[0-9a-fA-F]{64}$/.test(raw)) throw new ConfigError('KEY_ENCRYPTION_KEY must be 64 hex digits (32 bytes, e.g. openssl rand -hex 32)');
  const key = Buffer.from(raw, 'hex');
  if (new Set(key).size < 10) throw new ConfigError('KEY_ENCRYPTION_KEY has too few distinct bytes to be a secret');
  return key;
}

/** The secrets a one-process platform keeps in DATA_DIR/secrets.json (created 0600 on first boot). */
const LOCAL_SECRETS = ['JWT_SECRET', 'INTERNAL_TOKEN', 'PLAYBACK_SIGNING_KEY', 'KEY_ENCRYPTION_KEY'] as const;

function localSecrets(dataDir: string, env: Env): Record<string, string> {
  const file = path.join(dataDir, 'secrets.json');
  let stored: Record<string, string> = {};
  try {
    stored = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, string>;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new ConfigError(`${file} is unreadable: ${(err as Error).message}`);
  }
  const missing = LOCAL_SECRETS.filter((k) => !env[k] && !stored[k]);
  if (missing.length) {
    for (const k of missing) stored[k] = crypto.randomBytes(32).toString('hex');
    fs.mkdirSync(dataDir, { recursive: true });
    fs.writeFileSync(file, `${JSON.stringify(stored, null, 2)}\n`, { mode: 0o600 });
  }
  return Object.fromEntries(LOCAL_SECRETS.filter((k) => stored[k]).map((k) => [k, stored[k]]));
}

function definedOnly(env: Env): Env {
  return Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
}
