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
});

export type Config = {
  adminApiKey: string | undefined;
  piiKey: string;
  corsOrigins: string[];
  trustForwardedHeaders: boolean;
  version: string;
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
  };
  cache.set(env, config);
  return config;
}
