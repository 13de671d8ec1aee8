// Authentication middleware: API key from `Authorization: Bearer` or `X-API-Key`, per-key rate limit, and scope checks.
import type { Context } from "hono";
import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../../app-env";
import { keyCache, type Principal } from "../../core/ledger/key-cache";
import { findActiveKey, isWellFormedKey, touchKey, type Scope } from "../../core/ledger/keys";
import { sha256Hex } from "../../lib/crypto";
import { ApiError } from "../../lib/errors";
import { clientIpFromHeaders } from "../../lib/ip";

/** The secret a request presents, from `Authorization: Bearer` or `X-API-Key`; undefined when it presents none. */
export function presentedKey(headers: Headers): string | undefined {
  const authorization = headers.get("authorization");
  if (authorization) {
    const match = authorization.match(/^Bearer\s+(.+)$/i);
    return match?.[1]?.trim();
  }
  return headers.get("x-api-key")?.trim() || undefined;
}

const BOOTSTRAP_ADMIN: Principal = { id: "bootstrap-admin", scopes: ["admin"], lastUsedAt: null };
const encoder = new TextEncoder();

/** The hash of ADMIN_API_KEY, computed once per isolate and value. */
let adminHash: { secret: string; hash: Promise<string> } | undefined;
function adminKeyHash(secret: string): Promise<string> {
  if (adminHash?.secret !== secret) adminHash = { secret, hash: sha256Hex(secret) };
  return adminHash.hash;
}

/**
 * The key whose secret has this hash: from the isolate's cache when it holds an answer, else from D1 (and then cached).
 * A cache miss is what costs D1 work, so misses are counted per client by AUTH_FAILURE_LIMITER and refused past its limit:
 * a client presenting random keys gets a few lookups a minute, then 429s that cost nothing.
 */
async function lookUp(c: Context<AppEnv>, secretHash: string): Promise<Principal | null> {
  const { config } = c.var;
  const now = Date.now();
  const cached = keyCache.get(secretHash, now, config.keyCacheSeconds * 1000);
  if (cached !== undefined) return cached;
  const client = clientIpFromHeaders(c.req.raw.headers, config.trustForwardedHeaders) ?? "unknown";
  const { success } = await c.env.AUTH_FAILURE_LIMITER.limit({ key: client });
  if (!success)
    throw new ApiError("rate_limited", "Too many requests with unknown API keys from this client; try again in a minute", {
      headers: { "Retry-After": "60" },
    });
  const principal = await findActiveKey(c.env.DB, secretHash);
  keyCache.set(secretHash, principal, now);
  return principal;
}

/**
 * Requires a valid key holding `scope` (an `admin` key holds every scope) within its per-minute request limit
 * (API_KEY_LIMITER, a Workers Rate Limiting binding: no Durable Object or D1 round trip). Secrets that cannot be keys
 * are refused before any lookup.
 */
export function requireScope(scope: Scope) {
  const middleware = createMiddleware<AppEnv>(async (c, next) => {
    const secret = presentedKey(c.req.raw.headers);
    if (!secret) throw new ApiError("unauthorized", "API key is missing");
    const { config } = c.var;
    const secretHash = await sha256Hex(secret);
    const isAdmin =
      config.adminApiKey !== undefined &&
      crypto.subtle.timingSafeEqual(encoder.encode(secretHash), encoder.encode(await adminKeyHash(config.adminApiKey)));
    const principal = isAdmin ? BOOTSTRAP_ADMIN : isWellFormedKey(secret) ? await lookUp(c, secretHash) : null;
    if (!principal) throw new ApiError("unauthorized", "Invalid API key");
    if (!principal.scopes.includes(scope) && !principal.scopes.includes("admin"))
      throw new ApiError("forbidden", `This API key lacks the '${scope}' scope`);
    const { success } = await c.env.API_KEY_LIMITER.limit({ key: principal.id });
    if (!success)
      throw new ApiError("rate_limited", "This API key has exceeded its per-minute request limit", { headers: { "Retry-After": "60" } });
    if (principal !== BOOTSTRAP_ADMIN) c.executionCtx.waitUntil(touchKey(c.env.DB, principal));
    c.set("apiKeyId", principal.id);
    c.set("apiKeyScopes", principal.scopes);
    await next();
  });
  // Read by the router (routes/openapi.ts), which documents the scope as the role of the route's security requirement.
  return Object.assign(middleware, { requiredScope: scope });
}
