// Serves pages bundled into generated modules by `npm run build:dashboard` (the dashboard, the API reference) with ETags and a CSP.
import type { Context } from "hono";
import type { AppEnv } from "../app-env";
import { ApiError } from "../lib/errors";

export interface StaticAsset {
  contentType: string;
  etag: string;
  body: string;
}

/** Everything such a page loads comes from this Worker: no inline code, no CDN, no third-party request. */
export const selfOnlyContentSecurityPolicy = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join("; ");

/** Answers with `assets[name]` (304 when the client holds its ETag), or the API's 404 error. */
export function serveAsset(c: Context<AppEnv>, assets: Record<string, StaticAsset>, name: string, what: string): Response {
  // Own properties only: `constructor`, `__proto__` and `toString` are inherited by every object and are not files.
  const asset = Object.hasOwn(assets, name) ? assets[name] : undefined;
  if (!asset) throw new ApiError("not_found", `No ${what} file ${name}`);
  const headers = {
    "Content-Type": asset.contentType,
    "Content-Security-Policy": selfOnlyContentSecurityPolicy,
    "Cache-Control": "no-cache",
    ETag: asset.etag,
  };
  if (c.req.header("if-none-match") === asset.etag) return c.body(null, 304, headers);
  return c.body(asset.body, 200, headers);
}
