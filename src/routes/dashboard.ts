// Serves the dashboard (bundled by `npm run build:dashboard` into a generated module) from the Worker, with a strict CSP.
import type { Context } from "hono";
import { Hono } from "hono";
import type { AppEnv } from "../app-env";
import { dashboardAssets } from "./dashboard-assets.generated";
import { serveAsset } from "./static-assets";

export const dashboard = new Hono<AppEnv>();

const serveFile = (c: Context<AppEnv>, name: string) => serveAsset(c, dashboardAssets, name, "dashboard");
const shell = (c: Context<AppEnv>) => serveFile(c, "index.html");

dashboard.get("/dashboard", shell);
dashboard.get("/dashboard/", shell);
/** What the page needs of the configuration: where a DOI's catalog page is (CATALOG_RECORD_URL). */
dashboard.get("/dashboard/settings.json", (c) => {
  c.header("Cache-Control", "no-cache");
  return c.json({ catalog_record_url: c.var.config.catalogRecordUrl });
});
dashboard.get("/dashboard/:file{.+}", (c) => serveFile(c, c.req.param("file")));
