// Authentication middleware: API key from `Authorization: Bearer` or `X-API-Key`, per-key rate limit, and scope checks.
import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../../app-env";
import { findActiveKey, touchKey, type Scope } from "../../core/ledger/keys";
import { rateLimitHeaders, shardOf } from "../../core/ledger/pipeline";
import { secretsEqual, sha256Hex } from "../../lib/crypto";
import { ApiError } from "../../lib/errors";

/** The secret a request presents, from `Authorization: Bearer` or `X-API-Key`; undefined when it presents none. */
export function presentedKey(headers: Headers): string | undefined {
  const authorization = headers.get("authorization");
  if (authorization) {
    const match = authorization.match(/^Bearer\s+(.+)$/i);
    return match?.[1]?.trim();
  }
  return headers.get("x-api-key")?.trim() || undefined;
}

/**
 * Requires a valid key holding `scope` (an `admin` key holds every scope) within its per-minute request limit. The limit
 * is counted by the secret's hash in parallel with the key lookup, so it costs no extra round trip.
 */
export function requireScope(scope: Scope) {
  const middleware = createMiddleware<AppEnv>(async (c, next) => {
    const secret = presentedKey(c.req.raw.headers);
    if (!secret) throw new ApiError("unauthorized", "API key is missing");
    const { config } = c.var;
    const secretHash = await sha256Hex(secret);
    const limiter = c.env.RATE_LIMITER.getByName(`key:${shardOf(secretHash, config.rateLimitShards)}`);
    const [principal, decision] = await Promise.all([
      config.adminApiKey && (await secretsEqual(secret, config.adminApiKey))
        ? { id: "bootstrap-admin", scopes: ["admin"] as Scope[], lastUsedAt: null }
        : findActiveKey(c.env.DB, secretHash),
      limiter.takeCounter({ subject: secretHash, at: Date.now() }, config.apiRateLimitPerMinute, 60_000),
    ]);
    if (!principal) throw new ApiError("unauthorized", "Invalid API key");
    if (!principal.scopes.includes(scope) && !principal.scopes.includes("admin"))
      throw new ApiError("forbidden", `This API key lacks the '${scope}' scope`);
    if (!decision.allowed)
      throw new ApiError("rate_limited", `This API key is limited to ${config.apiRateLimitPerMinute} requests per minute`, {
        headers: rateLimitHeaders(decision, true),
      });
    if (principal.id !== "bootstrap-admin") c.executionCtx.waitUntil(touchKey(c.env.DB, principal));
    c.set("apiKeyId", principal.id);
    await next();
  });
  // Read by the router (routes/openapi.ts), which documents the scope as the role of the route's security requirement.
  return Object.assign(middleware, { requiredScope: scope });
}
