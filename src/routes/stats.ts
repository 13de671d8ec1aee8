// HTTP surface of usage statistics: range stats with series and top lists, per-resource and per-person figures.
import { createRoute, z } from "@hono/zod-openapi";
import { actionPattern, InstantSchema } from "../core/ledger/event-schema";
import { DAY_MS, dayOf, dayStart, type Interval } from "../core/analytics/periods";
import { reportPdfExtras } from "../core/analytics/report-extras";
import { renderUsageReportPdf, resourceReportDocument, statsReportDocument } from "../core/analytics/report-pdf";
import { computeResourceStats, computeStats, computeUserStats } from "../core/analytics/stats";
import { ACCESS_METHODS } from "../core/counter/classify";
import { requireScope } from "./middleware/auth";
import { ApiError } from "../lib/errors";
import type { Config } from "../lib/config";
import { authErrors, errorResponses, router, security } from "./openapi";

export const stats = router();

const MAX_RANGE_DAYS = 3_660;
const DEFAULT_RANGE_DAYS = 30;

const trimmed = (max: number) => z.string().trim().min(1).max(max);

/** `action=a,b`: the actions counted; the download actions when absent. */
const ActionListSchema = z
  .string()
  .max(2_000)
  .transform((value) => [...new Set(value.split(",").map((action) => action.trim()).filter(Boolean))])
  .refine((actions) => actions.length > 0 && actions.every((action) => actionPattern.test(action)), "must be a comma-separated list of actions")
  .openapi({ description: "Comma-separated actions to count; default: the download actions", example: "download,bundle.download" });

const actionsOf = (requested: string[] | undefined, config: Config) => requested ?? [...config.downloadActions];

const DEFAULT_ACCESS_METHODS = ["regular", "machine"];

/** `access_method=regular,machine,robot`: the COUNTER access methods counted; robots are excluded unless asked for. */
const AccessMethodListSchema = z
  .string()
  .max(100)
  .transform((value) => [...new Set(value.split(",").map((method) => method.trim()).filter(Boolean))])
  .refine(
    (methods) => methods.length > 0 && methods.every((method) => (ACCESS_METHODS as readonly string[]).includes(method)),
    "must be a comma-separated list of regular, machine, robot",
  )
  .openapi({ description: "Comma-separated COUNTER access methods to count; default regular,machine (robots excluded)", example: "regular,machine" });

const RangeQuery = {
  from: InstantSchema.optional().openapi({ description: "Inclusive date or date-time; default 30 days before `to`", example: "2026-08-01" }),
  to: InstantSchema.optional().openapi({ description: "Exclusive date or date-time; default the start of tomorrow (UTC)", example: "2026-11-01" }),
  action: ActionListSchema.optional(),
};

const StatsQuerySchema = z.object({
  ...RangeQuery,
  resource_type: trimmed(64).optional(),
  resource_id: trimmed(256).optional(),
  organisation: trimmed(256).optional(),
  interval: z.enum(["day", "week", "month"]).default("day").openapi({ description: "Series periods; weeks are ISO weeks (Monday first)" }),
  top: z.coerce.number().int().min(1).max(100).optional().openapi({ description: "Length of the top lists; default 20 organisations, 10 resources, 20 countries" }),
  access_method: AccessMethodListSchema.optional(),
  exact: z.enum(["true", "false"]).default("false").openapi({
    description: "true: unique users counted exactly from the rollups' user sets (slower over long ranges); default: estimated from HyperLogLog sketches",
  }),
});

function rangeOf(query: { from?: number; to?: number }): { from: number; to: number } {
  const to = query.to ?? dayStart(dayOf(Date.now()) + 1);
  const from = query.from ?? to - DEFAULT_RANGE_DAYS * DAY_MS;
  if (from >= to) throw new ApiError("invalid_request", "`from` must be before `to`", { details: [{ path: "from", message: "must be before to" }] });
  if (to - from > MAX_RANGE_DAYS * DAY_MS)
    throw new ApiError("invalid_request", `A range spans at most ${MAX_RANGE_DAYS} days`, { details: [{ path: "from", message: `at most ${MAX_RANGE_DAYS} days before to` }] });
  return { from, to };
}

const userCount = z.number().int().openapi({ description: "Distinct users (dedup user key) with a successful event" });

const StatsSchema = z
  .object({
    from: z.string(),
    to: z.string(),
    interval: z.enum(["day", "week", "month"]),
    unique_users_estimated: z.boolean().openapi({
      description:
        "True when unique users come from HyperLogLog sketches (the default over rolled-up days, and always for days whose raw rows were archived): standard error 1.6 %, within ±5 % (three standard errors) of the exact count; exact=true counts exactly where user sets exist. Every other figure is exact.",
    }),
    totals: z.object({
      events: z.number().int(),
      successful: z.number().int(),
      failed: z.number().int(),
      success_rate: z.number().nullable(),
      unique_users: userCount,
      bytes: z.number().int().openapi({ description: "Bytes of successful events" }),
    }),
    top_organisations: z.array(z.object({ organisation: z.string(), events: z.number().int(), unique_users: userCount })),
    top_resources: z.array(
      z.object({
        resource_type: z.string(),
        resource_id: z.string(),
        doi: z.string().nullable(),
        title: z.string().nullable(),
        events: z.number().int(),
        unique_users: userCount,
      }),
    ),
    series: z.array(
      z.object({ period: z.string(), successful: z.number().int(), failed: z.number().int(), bytes: z.number().int(), unique_users: userCount }),
    ),
    counted: z
      .object({ actions: z.array(z.string()), access_methods: z.array(z.enum(ACCESS_METHODS)), note: z.string() })
      .openapi({ description: "What totals, series and top lists count" }),
    access_split: z
      .object(Object.fromEntries(ACCESS_METHODS.map((method) => [method, z.object({ successful: z.number().int(), unique_users: userCount })])) as Record<
        (typeof ACCESS_METHODS)[number],
        z.ZodObject<{ successful: z.ZodNumber; unique_users: z.ZodNumber }>
      >)
      .openapi({ description: "Successful events per COUNTER access method (humans = regular, machines, robots), whatever access_method selects" }),
    countries: z
      .array(z.object({ country: z.string().openapi({ description: "ISO 3166-1 alpha-2" }), successful: z.number().int(), unique_users: userCount }))
      .nullable()
      .openapi({ description: "Successful events per country (unknown left out), most first; null when filtering by resource or organisation" }),
  })
  .openapi("Stats");

const json = <T extends z.ZodType>(schema: T, description: string) => ({ description, content: { "application/json": { schema } } });

const statsRoute = createRoute({
  method: "get",
  path: "/v1/stats",
  operationId: "getStats",
  tags: ["Stats"],
  summary: "Counted downloads over a range: totals, top organisations and resources, and a zero-filled series",
  description:
    "Duplicates and refused (denied) attempts never count. Whole rolled-up days (the open day too, up to the last rollup run) come from the rollups, the rest from raw rows, so event, byte and country counts are exact and cost about the same for a year as for a day. Unique users are estimated from HyperLogLog sketches (standard error 1.6 %, flagged by `unique_users_estimated`) unless `exact=true`.",
  security,
  middleware: [requireScope("read")] as const,
  request: { query: StatsQuerySchema },
  responses: { 200: json(StatsSchema, "Statistics"), ...errorResponses("invalid_request", ...authErrors) },
});

type StatsQuery = z.infer<typeof StatsQuerySchema>;

/** The statistics a query asks for, and what they count (actions, access methods, in words). */
async function statsOf(db: D1Database, config: Config, query: StatsQuery) {
  const actions = actionsOf(query.action, config);
  const accessMethods = query.access_method ?? DEFAULT_ACCESS_METHODS;
  const result = await computeStats(db, {
    ...rangeOf(query),
    actions,
    accessMethods,
    resourceType: query.resource_type,
    resourceId: query.resource_id,
    organisation: query.organisation,
    interval: query.interval,
    topOrganisations: query.top ?? 20,
    topResources: query.top ?? 10,
    topCountries: query.top ?? 20,
    userCounting: query.exact === "true" ? "exact" : "estimated",
  });
  const note = query.access_method
    ? `Counts ${accessMethods.join(", ")} access`
    : "Counts regular and machine access; robots (COUNTER robots list) are excluded by default: add access_method=regular,machine,robot to include them";
  return { ...result, counted: { actions, access_methods: accessMethods as (typeof ACCESS_METHODS)[number][], note } };
}

stats.openapi(statsRoute, async (c) => c.json(await statsOf(c.var.db, c.var.config, c.req.valid("query")), 200));

const pdfResponses = {
  200: { description: "The report, as an attachment", content: { "application/pdf": { schema: z.string().openapi({ format: "binary" }) } } },
  ...errorResponses("invalid_request", ...authErrors),
};

const pdfHeaders = (name: string) => ({ "Content-Type": "application/pdf", "Content-Disposition": `attachment; filename="${name}"`, "Cache-Control": "no-store" });
const dateOf = (ms: number) => new Date(ms).toISOString().slice(0, 10);

const statsReportRoute = createRoute({
  method: "get",
  path: "/v1/stats/report.pdf",
  operationId: "getStatsReportPdf",
  tags: ["Stats"],
  summary: "The figures of GET /v1/stats (same query) as a PDF report: summary, chart of the series, top lists",
  security,
  middleware: [requireScope("read")] as const,
  request: { query: StatsQuerySchema },
  responses: pdfResponses,
});

stats.openapi(statsReportRoute, async (c) => {
  const query = c.req.valid("query");
  const result = await statsOf(c.var.db, c.var.config, query);
  const range = rangeOf(query);
  const extras = await reportPdfExtras(c.var.db, c.var.config, range);
  return c.body(await renderUsageReportPdf(statsReportDocument(result), extras), 200, pdfHeaders(`download-audit_${dateOf(range.from)}_${dateOf(range.to)}.pdf`));
});

const ResourceStatsSchema = z
  .object({
    resource_type: z.string(),
    resource_id: z.string(),
    events: z.number().int(),
    unique_users: userCount,
    unique_users_estimated: z.boolean(),
    bytes: z.number().int(),
    first_at: z.string().nullable(),
    last_at: z.string().nullable(),
  })
  .openapi("ResourceStats");

const resourceRoute = createRoute({
  method: "get",
  path: "/v1/stats/resources/{type}/{id}",
  operationId: "getResourceStats",
  tags: ["Stats"],
  summary: "Counted downloads of one resource (all time unless from/to are given)",
  security,
  middleware: [requireScope("read")] as const,
  request: {
    params: z.object({ type: trimmed(64), id: trimmed(256) }),
    query: z.object(RangeQuery),
  },
  responses: { 200: json(ResourceStatsSchema, "The resource's figures"), ...errorResponses("invalid_request", ...authErrors) },
});

stats.openapi(resourceRoute, async (c) => {
  const { type, id } = c.req.valid("param");
  const query = c.req.valid("query");
  const from = query.from ?? 0;
  const to = query.to ?? Number.MAX_SAFE_INTEGER;
  if (from >= to) throw new ApiError("invalid_request", "`from` must be before `to`", { details: [{ path: "from", message: "must be before to" }] });
  return c.json(
    await computeResourceStats(c.var.db, { from, to, actions: actionsOf(query.action, c.var.config), resourceType: type, resourceId: id }),
    200,
  );
});

/** Series periods of a resource report: days up to about a quarter, weeks up to two years, months beyond. */
const reportInterval = (from: number, to: number): Interval => (to - from <= 92 * DAY_MS ? "day" : to - from <= 731 * DAY_MS ? "week" : "month");

const resourceReportRoute = createRoute({
  method: "get",
  path: "/v1/stats/resources/{type}/{id}/report.pdf",
  operationId: "getResourceReportPdf",
  tags: ["Stats"],
  summary: "A resource's usage over a range as a PDF report (default: the last 30 days)",
  description: "Summary, a chart of counted downloads per day (per week beyond 92 days, per month beyond two years), top organisations and the series as a table.",
  security,
  middleware: [requireScope("read")] as const,
  request: { params: z.object({ type: trimmed(64), id: trimmed(256) }), query: z.object(RangeQuery) },
  responses: pdfResponses,
});

stats.openapi(resourceReportRoute, async (c) => {
  const { type, id } = c.req.valid("param");
  const query = c.req.valid("query");
  const range = rangeOf(query);
  const scope = { ...range, actions: actionsOf(query.action, c.var.config), resourceType: type, resourceId: id };
  const [resource, series] = await Promise.all([
    computeResourceStats(c.var.db, scope),
    computeStats(c.var.db, { ...scope, interval: reportInterval(range.from, range.to), topOrganisations: 20, topResources: 1 }),
  ]);
  const label = series.top_resources[0] ?? { doi: null, title: null };
  const safeName = `${type}-${id}`.replace(/[^A-Za-z0-9._-]/g, "_");
  const extras = await reportPdfExtras(c.var.db, c.var.config, range, { datasetId: label.doi ?? `${type}:${id}` });
  return c.body(
    await renderUsageReportPdf(resourceReportDocument(resource, series, label), extras),
    200,
    pdfHeaders(`download-audit_${safeName}_${dateOf(range.from)}_${dateOf(range.to)}.pdf`),
  );
});

const UserStatsSchema = z
  .object({
    events: z.number().int(),
    resources: z.number().int().openapi({ description: "Distinct resources" }),
    bytes: z.number().int(),
    last_at: z.string().nullable(),
  })
  .openapi("UserStats");

const usersRoute = createRoute({
  method: "get",
  path: "/v1/stats/users",
  operationId: "getUserStats",
  tags: ["Stats"],
  summary: "Counted downloads of one person, by email or actor id (raw rows: the retention window)",
  security,
  middleware: [requireScope("read")] as const,
  request: {
    query: z
      .object({ email: z.email().max(320).optional(), actor_id: trimmed(256).optional(), action: ActionListSchema.optional() })
      .refine((query) => (query.email === undefined) !== (query.actor_id === undefined), { message: "give exactly one of email and actor_id", path: ["email"] }),
  },
  responses: { 200: json(UserStatsSchema, "The person's figures"), ...errorResponses("invalid_request", ...authErrors) },
});

stats.openapi(usersRoute, async (c) => {
  const query = c.req.valid("query");
  return c.json(
    await computeUserStats(c.var.db, c.var.config.piiKey, { email: query.email, actorId: query.actor_id }, actionsOf(query.action, c.var.config)),
    200,
  );
});
