// Serves the dashboard (built into public/dashboard by `npm run build:dashboard`) from the Worker, with a strict CSP.
import type { Context } from "hono";
import { Hono } from "hono";
import type { AppEnv } from "../app-env";
import { ApiError } from "../lib/errors";

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

async function serveFile(c: Context<AppEnv>, path: string): Promise<Response> {
  const stored = await c.env.ASSETS.fetch(new Request(new URL(path, c.req.url), { headers: c.req.raw.headers }));
  if (stored.status === 404) throw new ApiError("not_found", `No dashboard file at ${path}`);
  const response = new Response(stored.body, stored);
  response.headers.set("Content-Security-Policy", dashboardContentSecurityPolicy);
  response.headers.set("Cache-Control", "no-cache");
  return response;
}

const shell = (c: Context<AppEnv>) => serveFile(c, "/dashboard/index.html");

dashboard.get("/dashboard", shell);
dashboard.get("/dashboard/", shell);
/** What the page needs of the configuration: where a DOI's catalog page is (CATALOG_RECORD_URL). */
dashboard.get("/dashboard/settings.json", (c) => {
  c.header("Cache-Control", "no-cache");
  return c.json({ catalog_record_url: c.var.config.catalogRecordUrl });
});
dashboard.get("/dashboard/:file{.+}", (c) => serveFile(c, c.req.path));
