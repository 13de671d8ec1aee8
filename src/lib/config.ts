// Parses the Worker's environment once into typed, named settings.
import { z } from "zod";
import { ApiError } from "./errors";

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
  ADMIN_API_KEY: z.string().min(8, "ADMIN_API_KEY must be at least 8 characters").optional(),
  PII_KEY: z.string().min(8, "PII_KEY must be set (at least 8 characters)"),
  CORS_ORIGINS: list,
  TRUST_FORWARDED_HEADERS: flag,
  VERSION: z.string().default("0.1.0"),
  DOWNLOAD_ACTIONS: list.transform((actions) => (actions.length > 0 ? actions : ["download", "bundle.download", "metadata.download"])),
  DOWNLOAD_RATE_LIMIT: z.coerce.number().int().min(1).default(100),
  DOWNLOAD_RATE_WINDOW_SECONDS: z.coerce.number().int().min(1).default(3600),
  API_RATE_LIMIT_PER_MINUTE: z.coerce.number().int().min(1).default(6000),
  DEDUP_WINDOW_SECONDS: z.coerce.number().int().min(0).default(3600),
  LEDGER_SHARDS: z.coerce.number().int().min(1).max(1024).default(32),
  RATE_LIMIT_SHARDS: z.coerce.number().int().min(1).max(1024).default(64),
  LEDGER_FLUSH_DELAY_MS: z.coerce.number().int().min(0).max(60_000).default(250),
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
  apiRateLimitPerMinute: number;
  dedupWindowSeconds: number;
  /** Durable Objects that stage events and hold dedup windows; users are spread over them by their key. */
  ledgerShards: number;
  /** Durable Objects that hold per-IP download limits; IPs are spread over them by their hash. */
  rateLimitShards: number;
  /** How long a staged event may wait before its shard flushes to D1. */
  ledgerFlushDelayMs: number;
};

const cache = new WeakMap<object, Config>();

export function getConfig(env: Env): Config {
  const cached = cache.get(env);
  if (cached) return cached;
  const parsed = ConfigSchema.safeParse(env);
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
    apiRateLimitPerMinute: value.API_RATE_LIMIT_PER_MINUTE,
    dedupWindowSeconds: value.DEDUP_WINDOW_SECONDS,
    ledgerShards: value.LEDGER_SHARDS,
    rateLimitShards: value.RATE_LIMIT_SHARDS,
    ledgerFlushDelayMs: value.LEDGER_FLUSH_DELAY_MS,
  };
  cache.set(env, config);
  return config;
}
