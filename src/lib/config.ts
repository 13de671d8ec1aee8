// Parses the Worker's environment once into typed, named settings.
import { z } from "zod";
import { ApiError } from "./errors";
import { REGIONS, type Region } from "./region";

/** Which actions are COUNTER requests (each also an investigation) and investigations only. */
export interface CounterRules {
  requestActions: ReadonlySet<string>;
  investigationActions: ReadonlySet<string>;
}

export const DEFAULT_COUNTER_REQUEST_ACTIONS = ["download", "bundle.download"] as const;
export const DEFAULT_COUNTER_INVESTIGATION_ACTIONS = ["view", "metadata.download", "preview"] as const;

const flag = z
  .enum(["true", "false", "1", "0", ""])
  .optional()
  .transform((value) => value === "true" || value === "1");

const list = z
  .string()
  .optional()
  .transform((value) =>
    (value ?? "")
      .split(",")
      .map((item) => item.trim())
      .filter(Boolean),
  );

const ConfigSchema = z.object({
  ENVIRONMENT: z.enum(["development", "production"], "ENVIRONMENT must be development or production (the default)").default("production"),
  ADMIN_API_KEY: z.string().min(8, "ADMIN_API_KEY must be at least 8 characters").optional(),
  PII_KEY: z.string().min(8, "PII_KEY must be set (at least 8 characters)"),
  CORS_ORIGINS: list,
  TRUST_FORWARDED_HEADERS: flag,
  VERSION: z.string().default("0.1.0"),
  DOWNLOAD_ACTIONS: list.transform((actions) => (actions.length > 0 ? actions : ["download", "bundle.download", "metadata.download"])),
  DOWNLOAD_RATE_LIMIT: z.coerce.number().int().min(1).default(100),
  DOWNLOAD_RATE_WINDOW_SECONDS: z.coerce.number().int().min(1).default(3600),
  IPV6_LIMIT_PREFIX: z.coerce.number().int().min(32, "IPV6_LIMIT_PREFIX must be 32-128 (bits of an IPv6 network)").max(128, "IPV6_LIMIT_PREFIX must be 32-128 (bits of an IPv6 network)").default(64),
  DOWNLOAD_BYTES_LIMIT: z.coerce.number().int().min(0).default(0),
  DOWNLOAD_BYTES_WINDOW_SECONDS: z.coerce.number().int().min(1).default(3600),
  KEY_CACHE_SECONDS: z.coerce.number().int().min(0).max(300).default(30),
  DEDUP_WINDOW_SECONDS: z.coerce.number().int().min(0).default(3600),
  LEDGER_SHARDS: z.coerce.number().int().min(1).max(1024).default(32),
  LEDGER_REGION_SHARDS: z.coerce.number().int().min(1).max(256).default(8),
  D1_PRIMARY_REGION: z.enum(REGIONS, `D1_PRIMARY_REGION must be one of ${REGIONS.join(", ")}`).default("enam"),
  RATE_LIMIT_SHARDS: z.coerce.number().int().min(1).max(1024).default(64),
  LEDGER_FLUSH_DELAY_MS: z.coerce.number().int().min(0).max(60_000).default(250),
  LEDGER_STAGING_MAX_ROWS: z.coerce.number().int().min(1).default(2_500_000),
  LEDGER_STAGING_MAX_BYTES: z.coerce.number().int().min(1).default(4 * 1024 ** 3),
  DENIAL_WINDOW_SECONDS: z.coerce.number().int().min(1).default(300),
  DOWNLOAD_TOKEN_SECRET: z.string().min(16, "DOWNLOAD_TOKEN_SECRET must be at least 16 characters").optional(),
  DOWNLOAD_LINK_TTL_SECONDS: z.coerce.number().int().min(1).max(3600).default(900),
  PUBLIC_BASE_URL: z.url().optional(),
  BUNDLE_MAX_BYTES: z.coerce.number().int().min(1).max(4 * 1024 ** 3 - 64 * 1024 ** 2, "BUNDLE_MAX_BYTES must stay under 4 GiB (ZIP without ZIP64)").default(2 * 1024 ** 3),
  BUNDLE_TTL_HOURS: z.coerce.number().min(0.01).default(24),
  BUNDLE_QUOTA_BYTES: z.coerce.number().int().min(1).default(4 * 1024 ** 3),
  BUNDLE_MAX_ACTIVE_JOBS: z.coerce.number().int().min(1).default(2),
  BUNDLE_PART_BYTES: z.coerce.number().int().min(5 * 1024 ** 2, "BUNDLE_PART_BYTES must be at least 5 MiB (R2's minimum part)").default(8 * 1024 ** 2),
  BUNDLE_SLICE_BYTES: z.coerce.number().int().min(1).default(32 * 1024 ** 2),
  JOB_STALE_MINUTES: z.coerce.number().int().min(1).default(15),
  RETENTION_DAYS: z.coerce.number().int().min(1).default(180),
  ROLLUP_RETENTION_DAYS: z.coerce.number().int().min(0).default(0),
  ROLLUP_SETTLE_SECONDS: z.coerce.number().int().min(0).max(86_400).default(60),
  CATALOG_RECORD_URL: z.string().min(1).default("https://doi.org/{doi}"),
  CATALOG_SEARCH_URL: z.string().min(1).default("https://commons.datacite.org/doi.org?query={dois}"),
  ALERT_SPIKE_FACTOR: z.coerce.number().min(1).default(10),
  ALERT_SPIKE_FLOOR: z.coerce.number().int().min(0).default(20),
  ALERT_MIRROR_RECORDS: z.coerce.number().int().min(1).default(50),
  ALERT_FAILURE_SHARE: z.coerce.number().gt(0).max(1).default(0.5),
  ALERT_FAILURE_MIN_EVENTS: z.coerce.number().int().min(1).default(20),
  ALERT_QUIET_HOURS: z.coerce.number().min(0.1).default(24),
  ALERT_SETTLE_SECONDS: z.coerce.number().int().min(0).max(3600).default(60),
  WEBHOOK_TIMEOUT_MS: z.coerce.number().int().min(100).max(30_000).default(10_000),
  WEBHOOKS_ALLOW_LOCAL: flag,
  SEAL_SIGNING_KEY: z.string().min(1).optional(),
  SEAL_RETIRED_PUBLIC_KEYS: z.string().min(1).optional(),
  SEAL_MARGIN_SECONDS: z.coerce.number().int().min(1).max(86_400).default(300),
  SEAL_MAX_WINDOW_ROWS: z.coerce.number().int().min(1).max(10_000_000).default(1_000_000),
  VERIFY_INLINE_ROWS: z.coerce.number().int().min(0).default(200_000),
  COUNTER_REQUEST_ACTIONS: list.transform((actions) => (actions.length > 0 ? actions : [...DEFAULT_COUNTER_REQUEST_ACTIONS])),
  COUNTER_INVESTIGATION_ACTIONS: list.transform((actions) => (actions.length > 0 ? actions : [...DEFAULT_COUNTER_INVESTIGATION_ACTIONS])),
  COUNTER_PLATFORM: z.string().trim().min(1).default("download-audit"),
  COUNTER_PUBLISHER: z.string().trim().min(1).optional(),
  COUNTER_PUBLISHER_ID: z
    .string()
    .trim()
    .regex(/^(isni|orcid|grid|urn|client-id):\S+$/, "COUNTER_PUBLISHER_ID must be type:value with type isni, orcid, grid, urn or client-id")
    .optional(),
  DATACITE_USAGE_URL: z.url().optional(),
  DATACITE_USAGE_TOKEN: z.string().min(1).optional(),
});

// Links handed out (download links, bundle status URLs) must not take their origin from the request's Host header,
// which a client chooses; only a local development run may fall back to it.
const ValidConfigSchema = ConfigSchema.refine((value) => value.ENVIRONMENT === "development" || value.PUBLIC_BASE_URL !== undefined, {
  path: ["PUBLIC_BASE_URL"],
  message: "PUBLIC_BASE_URL must be set unless ENVIRONMENT=development",
});

export type Config = {
  adminApiKey: string | undefined;
  piiKey: string;
  corsOrigins: string[];
  trustForwardedHeaders: boolean;
  version: string;
  /** Actions that are downloads: rate limited per client IP and deduplicated per user and resource. */
  downloadActions: Set<string>;
  downloadRateLimit: number;
  downloadRateWindowSeconds: number;
  /** IPv6 clients are limited per network of this many bits (a /64 is one subscriber); IPv4 per address. */
  ipv6LimitPrefix: number;
  /** Bytes the service may serve per client IP and per user key in any window; 0 turns the byte budget off. */
  downloadBytesLimit: number;
  downloadBytesWindowSeconds: number;
  /** How long an isolate trusts a key lookup: the bound on how long a revoked key keeps working elsewhere. */
  keyCacheSeconds: number;
  dedupWindowSeconds: number;
  /** Ledger shards that stage events with a client-chosen id (spread by the id, placed in the D1 primary's region). */
  ledgerShards: number;
  /** Ledger shards per region for every other event (spread by client IP or user), each holding its IPs' download limits. */
  ledgerRegionShards: number;
  /** The location hint D1's primary was created with: id shards live there, and it is the region of requests the edge cannot place. */
  d1PrimaryRegion: Region;
  /** Durable Objects per region that hold per-user byte budgets; user keys are spread over them by their hash. */
  rateLimitShards: number;
  /** How long a staged event may wait before its shard flushes to D1. */
  ledgerFlushDelayMs: number;
  /** Staging bound per ledger shard (rows, bytes of row JSON): beyond it new events are answered 503, never dropped. */
  ledgerStagingMaxRows: number;
  ledgerStagingMaxBytes: number;
  /** After a client's first refused download in this window, its further refusals are one row with a count. */
  denialWindowSeconds: number;
  /** Signs download links (HMAC) and seals the user they carry (AES-GCM); downloads answer 500 while it is unset. */
  downloadTokenSecret: string | undefined;
  /** Default lifetime of a signed download link; a request may ask for up to 3,600 s. */
  downloadLinkTtlSeconds: number;
  /** Origin of the links the service hands out; required unless ENVIRONMENT=development, where the request's origin serves. */
  publicBaseUrl: string | undefined;
  /** Largest bundle (sum of its entries) accepted; larger requests are refused with 413 before any work. */
  bundleMaxBytes: number;
  bundleTtlHours: number;
  /** Bytes one API key may hold in live (unexpired) bundles, those still building counted at their estimate. */
  bundleQuotaBytes: number;
  /** Bundle jobs one API key may have pending or processing at once. */
  bundleMaxActiveJobs: number;
  /** Size of every multipart part of a bundle but the last (R2 needs ≥ 5 MiB and equal sizes). */
  bundlePartBytes: number;
  /** Input bytes a bundle job processes per Durable Object alarm before it checkpoints and continues in a new one. */
  bundleSliceBytes: number;
  /** A pending/processing job without progress for this long is failed by the cron. */
  jobStaleMinutes: number;
  /** Raw events older than this many days are archived to R2 and deleted by the daily job. */
  retentionDays: number;
  /** Rollups older than this many days are deleted by the daily job; 0 keeps them forever. */
  rollupRetentionDays: number;
  /** How long the rollup waits for events still being flushed to D1 before it rolls up what they were received in. */
  rollupSettleSeconds: number;
  /** Export `link` of a single record; placeholders {doi}, {resource_type}, {resource_id}. */
  catalogRecordUrl: string;
  /** Export `link` of a bundle; {dois} is its DOIs as `"a" OR "b"`, URL-encoded. */
  catalogSearchUrl: string;
  /** Alert rules (src/core/alerts/rules.ts): see docs/alerts.md for what each threshold means. */
  alerts: {
    /** A record's downloads in the last hour alert above factor × its trailing 28-day hourly mean + floor. */
    spikeFactor: number;
    spikeFloor: number;
    /** A user key downloading more than this many distinct records in an hour is mirroring. */
    mirrorRecords: number;
    /** Share of failed downloads in the last 15 minutes that alerts, once at least `failureMinEvents` were attempted. */
    failureShare: number;
    failureMinEvents: number;
    /** An alert that has not fired for this long is over; the next firing opens a new one. */
    quietHours: number;
    /** Rule windows end this long ago, so events still being flushed from the ledger shards to D1 are judged next run. */
    settleSeconds: number;
  };
  /** Time a webhook receiver has to answer one delivery attempt. */
  webhookTimeoutMs: number;
  /** Development only: webhooks may use http:// and loopback hosts (a receiver on this machine). */
  webhooksAllowLocal: boolean;
  /** Ed25519 private JWK (with `kid`) that signs seals; sealing answers 503 while it is unset. */
  sealSigningKey: string | undefined;
  /** JSON array of the public JWKs of earlier signing keys: still trusted and listed, never used to sign. */
  sealRetiredPublicKeys: string | undefined;
  /** Seals cover receipt times up to now minus this; never less than the ledger's flush delay plus a minute. */
  sealMarginMs: number;
  /** A window holding more rows is cut short, so that one cron run always finishes its seal. */
  sealMaxWindowRows: number;
  /** A verification over at most this many sealed rows answers at once; larger ones run as a job. */
  verifyInlineRows: number;
  /** COUNTER requests (each also an investigation) and investigation-only actions; see docs/counter.md. */
  counterRules: CounterRules;
  /** `platform` of Dataset Reports. */
  counterPlatform: string;
  /** `publisher` of Dataset Reports; the platform when unset. */
  counterPublisher: string;
  /** `publisher-id` of Dataset Reports, as `type:value` (e.g. `grid:grid.1234.5`, `client-id:datacite.abc`). */
  counterPublisherId: string | undefined;
  /** DataCite's usage-reports API base (e.g. https://api.datacite.org); monthly DSRs are submitted when it and the token are set. */
  dataciteUsageUrl: string | undefined;
  dataciteUsageToken: string | undefined;
};

const cache = new WeakMap<object, Config>();

export function getConfig(env: Env): Config {
  const cached = cache.get(env);
  if (cached) return cached;
  const parsed = ValidConfigSchema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`).join("; ");
    console.error(JSON.stringify({ level: "error", message: "invalid configuration", problems }));
    throw new ApiError("internal", "The service is misconfigured");
  }
  const value = parsed.data;
  const config: Config = {
    adminApiKey: value.ADMIN_API_KEY,
    piiKey: value.PII_KEY,
    corsOrigins: value.CORS_ORIGINS,
    trustForwardedHeaders: value.TRUST_FORWARDED_HEADERS,
    version: value.VERSION,
    downloadActions: new Set(value.DOWNLOAD_ACTIONS),
    downloadRateLimit: value.DOWNLOAD_RATE_LIMIT,
    downloadRateWindowSeconds: value.DOWNLOAD_RATE_WINDOW_SECONDS,
    ipv6LimitPrefix: value.IPV6_LIMIT_PREFIX,
    downloadBytesLimit: value.DOWNLOAD_BYTES_LIMIT,
    downloadBytesWindowSeconds: value.DOWNLOAD_BYTES_WINDOW_SECONDS,
    keyCacheSeconds: value.KEY_CACHE_SECONDS,
    dedupWindowSeconds: value.DEDUP_WINDOW_SECONDS,
    ledgerShards: value.LEDGER_SHARDS,
    ledgerRegionShards: value.LEDGER_REGION_SHARDS,
    d1PrimaryRegion: value.D1_PRIMARY_REGION,
    rateLimitShards: value.RATE_LIMIT_SHARDS,
    ledgerFlushDelayMs: value.LEDGER_FLUSH_DELAY_MS,
    ledgerStagingMaxRows: value.LEDGER_STAGING_MAX_ROWS,
    ledgerStagingMaxBytes: value.LEDGER_STAGING_MAX_BYTES,
    denialWindowSeconds: value.DENIAL_WINDOW_SECONDS,
    downloadTokenSecret: value.DOWNLOAD_TOKEN_SECRET,
    downloadLinkTtlSeconds: value.DOWNLOAD_LINK_TTL_SECONDS,
    publicBaseUrl: value.PUBLIC_BASE_URL?.replace(/\/+$/, ""),
    bundleMaxBytes: value.BUNDLE_MAX_BYTES,
    bundleTtlHours: value.BUNDLE_TTL_HOURS,
    bundleQuotaBytes: value.BUNDLE_QUOTA_BYTES,
    bundleMaxActiveJobs: value.BUNDLE_MAX_ACTIVE_JOBS,
    bundlePartBytes: value.BUNDLE_PART_BYTES,
    bundleSliceBytes: value.BUNDLE_SLICE_BYTES,
    jobStaleMinutes: value.JOB_STALE_MINUTES,
    retentionDays: value.RETENTION_DAYS,
    rollupRetentionDays: value.ROLLUP_RETENTION_DAYS,
    rollupSettleSeconds: value.ROLLUP_SETTLE_SECONDS,
    catalogRecordUrl: value.CATALOG_RECORD_URL,
    catalogSearchUrl: value.CATALOG_SEARCH_URL,
    alerts: {
      spikeFactor: value.ALERT_SPIKE_FACTOR,
      spikeFloor: value.ALERT_SPIKE_FLOOR,
      mirrorRecords: value.ALERT_MIRROR_RECORDS,
      failureShare: value.ALERT_FAILURE_SHARE,
      failureMinEvents: value.ALERT_FAILURE_MIN_EVENTS,
      quietHours: value.ALERT_QUIET_HOURS,
      settleSeconds: value.ALERT_SETTLE_SECONDS,
    },
    webhookTimeoutMs: value.WEBHOOK_TIMEOUT_MS,
    webhooksAllowLocal: value.WEBHOOKS_ALLOW_LOCAL,
    sealSigningKey: value.SEAL_SIGNING_KEY,
    sealRetiredPublicKeys: value.SEAL_RETIRED_PUBLIC_KEYS,
    sealMarginMs: Math.max(value.SEAL_MARGIN_SECONDS * 1000, value.LEDGER_FLUSH_DELAY_MS + 60_000),
    sealMaxWindowRows: value.SEAL_MAX_WINDOW_ROWS,
    verifyInlineRows: value.VERIFY_INLINE_ROWS,
    counterRules: { requestActions: new Set(value.COUNTER_REQUEST_ACTIONS), investigationActions: new Set(value.COUNTER_INVESTIGATION_ACTIONS) },
    counterPlatform: value.COUNTER_PLATFORM,
    counterPublisher: value.COUNTER_PUBLISHER ?? value.COUNTER_PLATFORM,
    counterPublisherId: value.COUNTER_PUBLISHER_ID,
    dataciteUsageUrl: value.DATACITE_USAGE_URL?.replace(/\/+$/, ""),
    dataciteUsageToken: value.DATACITE_USAGE_TOKEN,
  };
  cache.set(env, config);
  return config;
}
