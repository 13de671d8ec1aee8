// Authentication middleware: API key from `Authorization: Bearer` or `X-API-Key`, and scope checks.
import { createMiddleware } from "hono/factory";
import { findActiveKey, type Scope } from "../core/keys";
import type { AppEnv } from "../app-env";
import { secretsEqual } from "./crypto";
import { ApiError } from "./errors";

function presentedKey(headers: Headers): string | undefined {
  const authorization = headers.get("authorization");
  if (authorization) {
    const match = authorization.match(/^Bearer\s+(.+)$/i);
    return match?.[1]?.trim();
  }
  return headers.get("x-api-key")?.trim() || undefined;
}

/** Requires a valid key holding `scope` (an `admin` key holds every scope). */
export function requireScope(scope: Scope) {
  return createMiddleware<AppEnv>(async (c, next) => {
    const secret = presentedKey(c.req.raw.headers);
    if (!secret) throw new ApiError("unauthorized", "API key is missing");
    const adminKey = c.var.config.adminApiKey;
    let principal: { id: string; scopes: Scope[] } | null = null;
    if (adminKey && (await secretsEqual(secret, adminKey))) principal = { id: "bootstrap-admin", scopes: ["admin"] };
    else principal = await findActiveKey(c.env.DB, secret);
    if (!principal) throw new ApiError("unauthorized", "Invalid API key");
    if (!principal.scopes.includes(scope) && !principal.scopes.includes("admin"))
      throw new ApiError("forbidden", `This API key lacks the '${scope}' scope`);
    c.set("apiKeyId", principal.id);
    await next();
  });
}
