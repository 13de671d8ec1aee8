// HTTP surface of reports: a day, an ISO week or a month as Markdown (default), JSON or PDF.
import { createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import type { AppEnv } from "../app-env";
import { buildReport, currentLabel, dailyPeriod, monthlyPeriod, reportMarkdown, weeklyPeriod, type ReportPeriod } from "../core/analytics/report";
import { reportPdfExtras } from "../core/analytics/report-extras";
import { renderUsageReportPdf, reportDocument } from "../core/analytics/report-pdf";
import { requireScope } from "./middleware/auth";
import { authErrors, errorResponses, router, security } from "./openapi";

export const reports = router();

const format = z
  .enum(["markdown", "json", "pdf"])
  .default("markdown")
  .openapi({ description: "`json` returns the same content as JSON; `pdf` as a PDF with a chart, as an attachment" });

type ReportFormat = z.infer<typeof format>;

const responses = {
  200: {
    description: "The report",
    content: {
      "text/markdown": { schema: z.string() },
      "application/json": { schema: z.object({}).passthrough().openapi("Report") },
      "application/pdf": { schema: z.string().openapi({ format: "binary" }) },
    },
  },
  ...errorResponses("invalid_request", ...authErrors),
};

async function respond(c: Context<AppEnv>, period: ReportPeriod, as: ReportFormat): Promise<Response> {
  const report = await buildReport(c.var.db, period, [...c.var.config.downloadActions]);
  if (as === "json") return c.json(report, 200);
  if (as === "pdf")
    return c.body(await renderUsageReportPdf(reportDocument(report), await reportPdfExtras(c.var.db, c.var.config, { from: Date.parse(report.period.from), to: Date.parse(report.period.to) })), 200, {
      "Content-Type": "application/pdf",
      "Content-Disposition": `attachment; filename="download-audit_${period.kind}_${period.label}.pdf"`,
      "Cache-Control": "no-store",
    });
  return c.body(reportMarkdown(report), 200, { "Content-Type": "text/markdown; charset=utf-8" });
}

const dailyRoute = createRoute({
  method: "get",
  path: "/v1/reports/daily",
  operationId: "getDailyReport",
  tags: ["Reports"],
  summary: "Report of one UTC day: summary, top resources and organisations, failures and refusals",
  security,
  middleware: [requireScope("read")] as const,
  request: { query: z.object({ date: z.string().optional().openapi({ description: "YYYY-MM-DD; default today (UTC)", example: "2026-11-20" }), format }) },
  responses,
});

reports.openapi(dailyRoute, (c) => {
  const query = c.req.valid("query");
  return respond(c, dailyPeriod(query.date ?? currentLabel("daily")), query.format);
});

const weeklyRoute = createRoute({
  method: "get",
  path: "/v1/reports/weekly",
  operationId: "getWeeklyReport",
  tags: ["Reports"],
  summary: "Report of one ISO week, with a line per day",
  security,
  middleware: [requireScope("read")] as const,
  request: { query: z.object({ week: z.string().optional().openapi({ description: "YYYY-Www (ISO week); default the current week", example: "2026-W47" }), format }) },
  responses,
});

reports.openapi(weeklyRoute, (c) => {
  const query = c.req.valid("query");
  return respond(c, weeklyPeriod(query.week ?? currentLabel("weekly")), query.format);
});

const monthlyRoute = createRoute({
  method: "get",
  path: "/v1/reports/monthly",
  operationId: "getMonthlyReport",
  tags: ["Reports"],
  summary: "Report of one UTC calendar month, with a line per day",
  security,
  middleware: [requireScope("read")] as const,
  request: { query: z.object({ month: z.string().optional().openapi({ description: "YYYY-MM; default the current month (UTC)", example: "2026-11" }), format }) },
  responses,
});

reports.openapi(monthlyRoute, (c) => {
  const query = c.req.valid("query");
  return respond(c, monthlyPeriod(query.month ?? currentLabel("monthly")), query.format);
});
