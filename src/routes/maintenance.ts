// HTTP surface of maintenance (admin): run or rebuild rollups, and run retention (or a dry run of it).
import { createRoute, z } from "@hono/zod-openapi";
import { dayOf } from "../core/analytics/periods";
import { RetentionResultSchema, runRetention } from "../core/retention/retention";
import { rebuildDays, runRollup } from "../core/analytics/rollup";
import { recordAdminAction } from "../core/ledger/admin-audit";
import { requireScope } from "./middleware/auth";
import { jsonBody } from "./middleware/body";
import { ApiError } from "../lib/errors";
import { authErrors, errorResponses, jsonRequestBody, router, security } from "./openapi";
import { sessionEnv } from "./middleware/d1-session";

export const maintenance = router();

const MAX_REBUILD_DAYS = 3_660;
const date = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}$/, "must be a date YYYY-MM-DD")
  .transform((value) => Date.parse(`${value}T00:00:00Z`))
  .refine((ms) => Number.isFinite(ms), "is not a valid date");

const RollupRequestSchema = z
  .strictObject({
    from: date.optional().openapi({ description: "First day to rebuild (inclusive)", example: "2026-08-01" }),
    to: date.optional().openapi({ description: "Day after the last one to rebuild (exclusive)", example: "2026-11-01" }),
  })
  .refine((body) => (body.from === undefined) === (body.to === undefined), { message: "give both from and to, or neither", path: ["to"] })
  .openapi("RollupRequest");

const RollupResultSchema = z
  .object({
    mode: z.enum(["incremental", "rebuild"]),
    snapshot: z.string().openapi({ description: "Events received up to this instant are in the rolled days" }),
    days: z.number().int(),
    rebuilt: z.number().int(),
    folded: z.number().int().openapi({ description: "Archived days whose rollups received late events" }),
  })
  .openapi("RollupResult");

const rollupRoute = createRoute({
  method: "post",
  path: "/v1/maintenance/rollup",
  operationId: "runRollup",
  tags: ["Maintenance"],
  summary: "Roll up days: the cron's incremental run (empty body; the open day too), or a rebuild of closed days in [from, to)",
  description:
    "Rebuilding is idempotent: a day that still has raw rows is recomputed from them; a day whose raw rows were archived keeps its rollup and only folds in events that arrived since. 409 while a cron run holds the lease.",
  security,
  middleware: [requireScope("admin"), ...jsonBody(16 * 1024)] as const,
  request: { body: { required: true, content: { "application/json": { schema: RollupRequestSchema } } } },
  responses: {
    200: { description: "What was rolled up", content: { "application/json": { schema: RollupResultSchema } } },
    ...errorResponses("invalid_request", "conflict", "payload_too_large", "unsupported_media_type", ...authErrors),
  },
});

maintenance.openapi(rollupRoute, async (c) => {
  const body = c.req.valid("json");
  const settleMs = c.var.config.rollupSettleSeconds * 1000;
  if (body.from === undefined || body.to === undefined) {
    const run = await runRollup(c.var.db, { settleMs, counter: c.var.config.counterRules });
    await recordAdminAction(c.env, c.var.config, { action: "rollup.run", apiKeyId: c.var.apiKeyId, meta: { mode: "incremental", days: run.days, rebuilt: run.rebuilt, folded: run.folded } });
    return c.json({ mode: "incremental" as const, snapshot: new Date(run.watermark).toISOString(), days: run.days, rebuilt: run.rebuilt, folded: run.folded }, 200);
  }
  const fromDay = dayOf(body.from);
  const toDay = dayOf(body.to);
  if (toDay <= fromDay || toDay - fromDay > MAX_REBUILD_DAYS)
    throw new ApiError("invalid_request", `\`to\` must be after \`from\`, at most ${MAX_REBUILD_DAYS} days`, { details: [{ path: "to", message: "out of range" }] });
  const run = await rebuildDays(c.var.db, fromDay, toDay, { settleMs, counter: c.var.config.counterRules, force: true });
  await recordAdminAction(c.env, c.var.config, {
    action: "rollup.run",
    apiKeyId: c.var.apiKeyId,
    meta: { mode: "rebuild", from_day: fromDay, to_day: toDay, days: run.days, rebuilt: run.rebuilt, folded: run.folded },
  });
  return c.json({ mode: "rebuild" as const, snapshot: new Date(run.snapshot).toISOString(), days: run.days, rebuilt: run.rebuilt, folded: run.folded }, 200);
});

const retentionRoute = createRoute({
  method: "post",
  path: "/v1/maintenance/retention",
  operationId: "runRetention",
  tags: ["Maintenance"],
  summary: "Archive raw events older than N days to R2, verify, then delete them (or report what would happen)",
  security,
  middleware: [requireScope("admin"), ...jsonBody(16 * 1024)] as const,
  request: {
    body: jsonRequestBody(z
      .strictObject({
        older_than_days: z.number().int().min(1).max(36_500).optional().openapi({ description: "Default RETENTION_DAYS" }),
        dry_run: z.boolean().default(false),
      })
      .openapi("RetentionRequest")),
  },
  responses: {
    200: { description: "What was (or would be) archived and deleted", content: { "application/json": { schema: RetentionResultSchema } } },
    ...errorResponses("invalid_request", "conflict", "payload_too_large", "unsupported_media_type", ...authErrors),
  },
});

maintenance.openapi(retentionRoute, async (c) => {
  const body = c.req.valid("json");
  const result = await runRetention(sessionEnv(c), c.var.config, { olderThanDays: body.older_than_days, dryRun: body.dry_run });
  if (!result.dry_run)
    await recordAdminAction(c.env, c.var.config, {
      action: "retention.run",
      apiKeyId: c.var.apiKeyId,
      meta: { cutoff: result.cutoff, events: result.events, deleted: result.deleted, archived: result.archived, rollups_deleted: result.rollups_deleted },
    });
  return c.json(result, 200);
});
