// HTTP surface of alerts: list (read), acknowledge (admin), and evaluate the rules now (admin).
import { createRoute, z } from "@hono/zod-openapi";
import { acknowledgeAlert, AlertSchema, alertStatuses, listAlerts } from "../core/alerts/alerts";
import { evaluateAlerts } from "../core/alerts/rules";
import { InstantSchema } from "../core/ledger/event-schema";
import { requireScope } from "./middleware/auth";
import { authErrors, errorResponses, router, security } from "./openapi";
import { sessionEnv } from "./middleware/d1-session";

export const alertsRouter = router();

const json = <T extends z.ZodType>(schema: T, description: string) => ({ description, content: { "application/json": { schema } } });

const listRoute = createRoute({
  method: "get",
  path: "/v1/alerts",
  operationId: "listAlerts",
  tags: ["Alerts"],
  summary: "Alerts, most recently seen first",
  security,
  middleware: [requireScope("read")] as const,
  request: {
    query: z.object({
      status: z.enum(alertStatuses).optional(),
      from: InstantSchema.optional().openapi({ description: "Last seen at or after (inclusive)", example: "2026-11-01" }),
      to: InstantSchema.optional().openapi({ description: "Last seen before (exclusive)", example: "2026-12-01" }),
      limit: z.coerce.number().int().min(1).max(200).default(50),
      cursor: z.string().max(512).optional().openapi({ description: "Opaque cursor from next_cursor" }),
    }),
  },
  responses: {
    200: json(z.object({ data: z.array(AlertSchema), next_cursor: z.string().nullable() }).openapi("AlertList"), "A page of alerts"),
    ...errorResponses("invalid_request", ...authErrors),
  },
});

alertsRouter.openapi(listRoute, async (c) => c.json(await listAlerts(c.var.db, c.req.valid("query")), 200));

const acknowledgeRoute = createRoute({
  method: "post",
  path: "/v1/alerts/{id}/acknowledge",
  operationId: "acknowledgeAlert",
  tags: ["Alerts"],
  summary: "Acknowledge an alert (it stays acknowledged while it keeps firing)",
  security,
  middleware: [requireScope("admin")] as const,
  request: { params: z.object({ id: z.string().min(1).max(64) }) },
  responses: { 200: json(AlertSchema, "The acknowledged alert"), ...errorResponses("invalid_request", "not_found", ...authErrors) },
});

alertsRouter.openapi(acknowledgeRoute, async (c) => c.json(await acknowledgeAlert(sessionEnv(c), c.req.valid("param").id, c.var.apiKeyId), 200));

const evaluateRoute = createRoute({
  method: "post",
  path: "/v1/alerts/evaluate",
  operationId: "evaluateAlerts",
  tags: ["Alerts"],
  summary: "Run the alert rules now (the cron runs them every 5 minutes)",
  security,
  middleware: [requireScope("admin")] as const,
  responses: {
    200: json(z.object({ skipped: z.boolean(), fired: z.number().int(), opened: z.number().int() }).openapi("AlertEvaluation"), "What the run found"),
    ...errorResponses(...authErrors),
  },
});

alertsRouter.openapi(evaluateRoute, async (c) => c.json(await evaluateAlerts(sessionEnv(c), c.var.config), 200));
