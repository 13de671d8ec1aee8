// Liveness and dependency check, without authentication.
import { createRoute, z, type RouteHandler } from "@hono/zod-openapi";
import type { AppEnv } from "../app-env";
import { router } from "./openapi";

const HealthSchema = z
  .object({ status: z.enum(["ok", "degraded"]), checks: z.object({ db: z.enum(["ok", "error"]) }), version: z.string() })
  .openapi("Health");

const healthRoute = createRoute({
  method: "get",
  path: "/health",
  operationId: "getHealth",
  tags: ["Health"],
  summary: "Service health and D1 reachability",
  responses: {
    200: { description: "Healthy", content: { "application/json": { schema: HealthSchema } } },
    503: { description: "D1 unreachable", content: { "application/json": { schema: HealthSchema } } },
  },
});

const checkHealth: RouteHandler<typeof healthRoute, AppEnv> = async (c) => {
  const db = await c.env.DB.prepare("SELECT 1 AS ok")
    .first<{ ok: number }>()
    .then((row) => (row?.ok === 1 ? ("ok" as const) : ("error" as const)))
    .catch(() => "error" as const);
  const version = c.var.config.version;
  return db === "ok"
    ? c.json({ status: "ok" as const, checks: { db }, version }, 200)
    : c.json({ status: "degraded" as const, checks: { db }, version }, 503);
};

/** Chained, so that the app's type (AppType) carries these routes for hono/client. */
export const health = router()
  .openapi(healthRoute, checkHealth);
