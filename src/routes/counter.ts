// HTTP surface of COUNTER research-data metrics: the Dataset Report (DSR), its SUSHI-style twins, and the monthly reports.
import { createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import type { AppEnv } from "../app-env";
import { dsrPeriod, DsrQuerySchema, dsrStream, type DsrQuery } from "../core/counter/dsr";
import { buildMonthlyDsr, CounterReportSchema, listCounterReports, submitMonthlyDsr } from "../core/counter/reports";
import { ApiError } from "../lib/errors";
import { requireScope } from "./middleware/auth";
import { authErrors, errorResponses, router, security } from "./openapi";
import { sessionEnv } from "./middleware/d1-session";

export const counter = router();

const dsrResponses = {
  200: {
    description:
      'COUNTER Dataset Report (release rd1) as DataCite receives it: {"report-datasets": [...], "report-header": {...}}. Streamed; UTC.',
    content: {
      "application/json": { schema: z.object({}).passthrough().openapi("DatasetReport") },
      "application/gzip": { schema: z.string().openapi({ format: "binary", description: "The same JSON, gzip-compressed (send Accept: application/gzip)" }) },
    },
  },
  ...errorResponses("invalid_request", ...authErrors),
};

/** Streams the DSR; as gzip (the form DataCite receives) when the client accepts `application/gzip`. */
function respondDsr(c: Context<AppEnv>, query: DsrQuery): Response {
  dsrPeriod(query); // refuses a bad period with 400 before the stream starts
  const stream = dsrStream(c.var.db, c.var.config, query);
  if (/\bapplication\/gzip\b/i.test(c.req.header("accept") ?? ""))
    return c.body(stream.pipeThrough(new CompressionStream("gzip")), 200, { "Content-Type": "application/gzip", "Cache-Control": "no-store" });
  return c.body(stream, 200, { "Content-Type": "application/json; charset=utf-8", "Cache-Control": "no-store" });
}

const dsrRoute = createRoute({
  method: "get",
  path: "/v1/reports/counter/dsr",
  operationId: "getCounterDatasetReport",
  tags: ["COUNTER"],
  summary: "COUNTER Dataset Report (DSR) for a period, from the daily COUNTER rollups",
  description:
    "Totals and uniques of investigations and requests per dataset × month × access method (regular, machine), with country counts. Robots, failures and denials never count. Days not yet rolled up are reported as exception 3040 (partial data).",
  security,
  middleware: [requireScope("read")] as const,
  request: { query: DsrQuerySchema },
  responses: dsrResponses,
});

counter.openapi(dsrRoute, (c) => respondDsr(c, c.req.valid("query")));

const sushiStatusRoute = createRoute({
  method: "get",
  path: "/v1/sushi/status",
  operationId: "getSushiStatus",
  tags: ["COUNTER"],
  summary: "SUSHI service status",
  security,
  middleware: [requireScope("read")] as const,
  responses: {
    200: {
      description: "SUSHI status (sushi_service_status)",
      content: {
        "application/json": {
          schema: z
            .array(z.object({ description: z.string(), serviceactive: z.boolean(), note: z.string(), alerts: z.array(z.object({ "date-time": z.string(), alert: z.string() })) }))
            .openapi("SushiStatus"),
        },
      },
    },
    ...errorResponses(...authErrors),
  },
});

counter.openapi(sushiStatusRoute, (c) =>
  c.json(
    [
      {
        description: `COUNTER research data usage reports of ${c.var.config.counterPlatform}`,
        serviceactive: true,
        note: "Dataset Reports (release rd1) by the COUNTER Code of Practice for Research Data; all dates UTC",
        alerts: [] as { "date-time": string; alert: string }[],
      },
    ],
    200,
  ),
);

const sushiReportsRoute = createRoute({
  method: "get",
  path: "/v1/sushi/reports",
  operationId: "listSushiReports",
  tags: ["COUNTER"],
  summary: "SUSHI list of supported reports",
  security,
  middleware: [requireScope("read")] as const,
  responses: {
    200: {
      description: "Supported reports (sushi_report_list)",
      content: {
        "application/json": {
          schema: z
            .array(z.object({ "report-name": z.string(), "report-id": z.string(), release: z.string(), "report-description": z.string(), path: z.string() }))
            .openapi("SushiReportList"),
        },
      },
    },
    ...errorResponses(...authErrors),
  },
});

counter.openapi(sushiReportsRoute, (c) =>
  c.json(
    [{ "report-name": "dataset report", "report-id": "dsr", release: "rd1", "report-description": "Usage by month and dataset", path: "/v1/sushi/reports/dsr" }],
    200,
  ),
);

const sushiDsrRoute = createRoute({
  method: "get",
  path: "/v1/sushi/reports/dsr",
  operationId: "getSushiDatasetReport",
  tags: ["COUNTER"],
  summary: "SUSHI Dataset Report: the DSR with SUSHI parameter names",
  description: "`begin_date`, `end_date` and `platform` as in SUSHI; `item_id` is the dataset (DOI or `type:id`).",
  security,
  middleware: [requireScope("read")] as const,
  request: {
    query: DsrQuerySchema.omit({ dataset_id: true }).extend({
      item_id: DsrQuerySchema.shape.dataset_id,
      customer_id: z.string().max(200).optional().openapi({ description: "Accepted for SUSHI clients; the report is the platform's" }),
    }),
  },
  responses: dsrResponses,
});

counter.openapi(sushiDsrRoute, (c) => {
  const { item_id, customer_id: _customer, ...query } = c.req.valid("query");
  return respondDsr(c, { ...query, dataset_id: item_id });
});

const listRoute = createRoute({
  method: "get",
  path: "/v1/reports/counter",
  operationId: "listCounterReports",
  tags: ["COUNTER"],
  summary: "Monthly DSRs stored in R2 (reports/dsr/YYYY-MM.json.gz) and their submission to DataCite",
  security,
  middleware: [requireScope("read")] as const,
  responses: {
    200: { description: "Newest month first", content: { "application/json": { schema: z.object({ data: z.array(CounterReportSchema) }).openapi("CounterReportList") } } },
    ...errorResponses(...authErrors),
  },
});

counter.openapi(listRoute, async (c) => c.json({ data: await listCounterReports(c.var.db) }, 200));

const buildRoute = createRoute({
  method: "post",
  path: "/v1/reports/counter/{month}",
  operationId: "buildCounterReport",
  tags: ["COUNTER"],
  summary: "Build (or rebuild) a month's DSR into R2 and submit it to DataCite when configured",
  description:
    "What the daily cron does for last month, on demand, for a month that has ended. A resubmission replaces that month's report at DataCite (PUT with its id).",
  security,
  middleware: [requireScope("admin")] as const,
  request: { params: z.object({ month: z.string().regex(/^\d{4}-(0[1-9]|1[0-2])$/, "must be YYYY-MM").openapi({ example: "2026-10" }) }) },
  responses: {
    200: { description: "The stored report and its submission status", content: { "application/json": { schema: CounterReportSchema } } },
    ...errorResponses("invalid_request", "not_found", ...authErrors),
  },
});

counter.openapi(buildRoute, async (c) => {
  const { month } = c.req.valid("param");
  // An open month's report would be partial, and the cron never rebuilds a month it finds stored.
  if (Date.UTC(Number(month.slice(0, 4)), Number(month.slice(5, 7)), 1) > Date.now())
    throw new ApiError("invalid_request", `${month} has not ended yet`, { details: [{ path: "month", message: "must be a month that has ended" }] });
  await buildMonthlyDsr(sessionEnv(c), c.var.config, month);
  return c.json(await submitMonthlyDsr(sessionEnv(c), c.var.config, month), 200);
});
