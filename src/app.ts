// Builds the Hono app: cross-cutting middleware, the resource routers, errors and the OpenAPI document.
import { cors } from "hono/cors";
import { createMiddleware } from "hono/factory";
import { requestId } from "hono/request-id";
import { secureHeaders } from "hono/secure-headers";
import { getConfig } from "./lib/config";
import { ApiError, renderError } from "./lib/errors";
import { alertsRouter } from "./routes/alerts";
import { apiDocs } from "./routes/api-docs";
import { archives } from "./routes/archives";
import { bundlesRouter } from "./routes/bundles";
import { counter } from "./routes/counter";
import { dashboard } from "./routes/dashboard";
import { downloadsRouter } from "./routes/downloads";
import { events } from "./routes/events";
import { eventsExport } from "./routes/events-export";
import { facets } from "./routes/facets";
import { health } from "./routes/health";
import { home } from "./routes/home";
import { integrityRouter } from "./routes/integrity";
import { jobsRouter } from "./routes/jobs";
import { keys } from "./routes/keys";
import { maintenance } from "./routes/maintenance";
import { d1Session } from "./routes/middleware/d1-session";
import { privacyRouter } from "./routes/privacy";
import { D1_BOOKMARK_COMPONENT, router } from "./routes/openapi";
import { recordsRouter } from "./routes/records";
import { reports } from "./routes/reports";
import { reproduceRouter } from "./routes/reproduce";
import { stats } from "./routes/stats";
import { webhooksRouter } from "./routes/webhooks";

const base = router();

base.use(requestId({ headerName: "X-Request-Id" }));
base.use(secureHeaders({ crossOriginResourcePolicy: "cross-origin" }));
base.use(
  createMiddleware(async (c, next) => {
    c.set("config", getConfig(c.env));
    await next();
  }),
);
base.use(async (c, next) => {
    const origins = c.var.config.corsOrigins;
    if (origins.length === 0) return next();
    return cors({
      origin: origins.includes("*") ? "*" : origins,
      allowHeaders: ["Authorization", "X-API-Key", "Content-Type", "Range", "If-None-Match", "X-D1-Bookmark"],
      exposeHeaders: [
        "X-Request-Id", "Retry-After", "RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset",
        "Content-Disposition", "Content-Range", "Content-Length", "ETag", "X-D1-Bookmark",
      ],
      maxAge: 600,
    })(c, next);
});
base.use(d1Session);

export const app = base
  .route("/", home)
  .route("/", health)
  // Before `events`, whose GET /v1/events/{id} would otherwise claim /v1/events/export.csv.
  .route("/", eventsExport)
  .route("/", events)
  .route("/", facets)
  .route("/", keys)
  .route("/", stats)
  .route("/", reports)
  .route("/", counter)
  .route("/", maintenance)
  .route("/", archives)
  .route("/", recordsRouter)
  .route("/", downloadsRouter)
  .route("/", bundlesRouter)
  .route("/", reproduceRouter)
  .route("/", jobsRouter)
  .route("/", alertsRouter)
  .route("/", webhooksRouter)
  .route("/", integrityRouter)
  .route("/", privacyRouter)
  .route("/", dashboard)
  .route("/", apiDocs);

app.openAPIRegistry.registerComponent("securitySchemes", "bearerAuth", { type: "http", scheme: "bearer" });
app.openAPIRegistry.registerComponent("securitySchemes", "apiKeyHeader", { type: "apiKey", in: "header", name: "X-API-Key" });
const bookmarkSchema = { type: "string", pattern: "^[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{32}$" } as const;
app.openAPIRegistry.registerComponent("parameters", D1_BOOKMARK_COMPONENT, {
  name: "X-D1-Bookmark",
  in: "header",
  required: false,
  description: "The `X-D1-Bookmark` of an earlier answer: this request reads at least what that answer had written (read your writes). Without it, reads may come from a read replica a moment behind. Not a bookmark: 400.",
  schema: bookmarkSchema,
});
app.openAPIRegistry.registerComponent("headers", D1_BOOKMARK_COMPONENT, {
  description: "The D1 session's bookmark after this request (set when it read or wrote D1): send it back as `X-D1-Bookmark` to read this answer's writes.",
  schema: bookmarkSchema,
});

const apiDescription = [
  "An audit ledger of research-data downloads: record every download, metadata download and bundle of catalogued records",
  "(datasets with DOIs), serve the files themselves through signed links, and turn the ledger into statistics, reports and",
  "exports.",
  "",
  "- **Events**: ingest one, a batch or a historical import; query, export (CSV, NDJSON), daily and weekly reports, statistics.",
  "- **Catalog and downloads**: records (DataCite 4 / ISO 19115 JSON), files in R2, metadata PDFs, signed download links, ZIP bundles built by jobs.",
  "- **Administration**: API keys with scopes, rollups, retention with archives in R2 and their restore.",
  "",
  "**Authentication**: `Authorization: Bearer <key>` or `X-API-Key: <key>`. Scopes: `ingest`, `read`, `catalog`, `admin`",
  "(implies every scope). Missing or unknown key → 401; wrong scope → 403. Every error has one shape,",
  "`{error: {code, message, details?, request_id}}`. Download-class events are rate limited per client IP and deduplicated.",
  "",
  "The dashboard is at [/dashboard](/dashboard); this document at [/openapi.json](/openapi.json).",
].join("\n");

app.doc31("/openapi.json", (c) => ({
  openapi: "3.1.0",
  info: {
    title: "download-audit",
    version: c.var.config.version,
    description: apiDescription,
  },
}));

app.notFound((c) => renderError(new ApiError("not_found", `No route for ${c.req.method} ${c.req.path}`), c));
app.onError(renderError);

/** The app's type, for typed clients via `hono/client`. */
export type AppType = typeof app;
