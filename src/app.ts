// Builds the Hono app: cross-cutting middleware, the resource routers, errors and the OpenAPI document.
import { swaggerUI } from "@hono/swagger-ui";
import { cors } from "hono/cors";
import { createMiddleware } from "hono/factory";
import { requestId } from "hono/request-id";
import { secureHeaders } from "hono/secure-headers";
import { getConfig } from "./lib/config";
import { ApiError, renderError } from "./lib/errors";
import { archives } from "./routes/archives";
import { bundlesRouter } from "./routes/bundles";
import { counter } from "./routes/counter";
import { dashboard } from "./routes/dashboard";
import { downloadsRouter } from "./routes/downloads";
import { events } from "./routes/events";
import { eventsExport } from "./routes/events-export";
import { facets } from "./routes/facets";
import { health } from "./routes/health";
import { jobsRouter } from "./routes/jobs";
import { keys } from "./routes/keys";
import { maintenance } from "./routes/maintenance";
import { router } from "./routes/openapi";
import { recordsRouter } from "./routes/records";
import { reports } from "./routes/reports";
import { stats } from "./routes/stats";

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
      allowHeaders: ["Authorization", "X-API-Key", "Content-Type", "Range", "If-None-Match"],
      exposeHeaders: [
        "X-Request-Id", "Retry-After", "RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset",
        "Content-Disposition", "Content-Range", "Content-Length", "ETag",
      ],
      maxAge: 600,
    })(c, next);
});

export const app = base
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
  .route("/", jobsRouter)
  .route("/", dashboard);

app.openAPIRegistry.registerComponent("securitySchemes", "bearerAuth", { type: "http", scheme: "bearer" });
app.openAPIRegistry.registerComponent("securitySchemes", "apiKeyHeader", { type: "apiKey", in: "header", name: "X-API-Key" });

app.doc31("/openapi.json", (c) => ({
  openapi: "3.1.0",
  info: {
    title: "download-audit",
    version: c.var.config.version,
    description: "Audit ledger of research-data downloads: ingest, query, keys.",
  },
}));

app.get("/docs", swaggerUI({ url: "/openapi.json", title: "download-audit API" }));

app.notFound((c) => renderError(new ApiError("not_found", `No route for ${c.req.method} ${c.req.path}`), c));
app.onError(renderError);

/** The app's type, for typed clients via `hono/client`. */
export type AppType = typeof app;
