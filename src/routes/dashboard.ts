// Serves the dashboard (bundled by `npm run build:dashboard` into a generated module) from the Worker, with a strict CSP.
import type { Context } from "hono";
import { Hono } from "hono";
import type { AppEnv } from "../app-env";
import { ApiError } from "../lib/errors";
import { dashboardAssets } from "./dashboard-assets.generated";

export const dashboard = new Hono<AppEnv>();

/** Everything the dashboard loads comes from this Worker: no inline code, no CDN. */
export const dashboardContentSecurityPolicy = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join("; ");

function serveFile(c: Context<AppEnv>, name: string): Response {
  // Own properties only: `constructor`, `__proto__` and `toString` are inherited by every object and are not files.
  const asset = Object.hasOwn(dashboardAssets, name) ? dashboardAssets[name] : undefined;
  if (!asset) throw new ApiError("not_found", `No dashboard file ${name}`);
  const headers = {
    "Content-Type": asset.contentType,
    "Content-Security-Policy": dashboardContentSecurityPolicy,
    "Cache-Control": "no-cache",
    ETag: asset.etag,
  };
  if (c.req.header("if-none-match") === asset.etag) return c.body(null, 304, headers);
  return c.body(asset.body, 200, headers);
}

const shell = (c: Context<AppEnv>) => serveFile(c, "index.html");

dashboard.get("/dashboard", shell);
dashboard.get("/dashboard/", shell);
/** What the page needs of the configuration: where a DOI's catalog page is (CATALOG_RECORD_URL). */
dashboard.get("/dashboard/settings.json", (c) => {
  c.header("Cache-Control", "no-cache");
  return c.json({ catalog_record_url: c.var.config.catalogRecordUrl });
});
dashboard.get("/dashboard/:file{.+}", (c) => serveFile(c, c.req.param("file")));
