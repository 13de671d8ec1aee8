// HTTP surface of event exports: the same filters as GET /v1/events, streamed as CSV, NDJSON or Excel attachments.
import { createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import type { AppEnv } from "../app-env";
import { EventFilterSchema, type EventFilter } from "../core/ledger/event-schema";
import { CSV_COLUMNS, exportFilename, exportStream, type ExportFormat } from "../core/ledger/export";
import { EXCEL_MAX_ROWS, exportXlsxStream } from "../core/ledger/export-xlsx";
import { resolveEventFilter } from "../core/ledger/query";
import { requireScope } from "./middleware/auth";
import { authErrors, errorResponses, router, security } from "./openapi";

export const eventsExport = router();

const mediaTypes: Record<ExportFormat, string> = { csv: "text/csv; charset=utf-8", ndjson: "application/x-ndjson; charset=utf-8" };

async function respond(c: Context<AppEnv>, filter: EventFilter, format: ExportFormat): Promise<Response> {
  const config = c.var.config;
  const stream = await exportStream(c.var.db, await resolveEventFilter(config.piiKey, filter), format, { recordUrl: config.catalogRecordUrl, searchUrl: config.catalogSearchUrl });
  return c.body(stream, 200, {
    "Content-Type": mediaTypes[format],
    "Content-Disposition": `attachment; filename="${exportFilename(filter, format)}"`,
    "Cache-Control": "no-store",
  });
}

const exportRoute = (format: ExportFormat) =>
  createRoute({
    method: "get",
    path: `/v1/events/export.${format}`,
    operationId: format === "csv" ? "exportEventsCsv" : "exportEventsNdjson",
    tags: ["Events"],
    summary: format === "csv" ? "Export events as CSV (streamed)" : "Export events as NDJSON (streamed)",
    description:
      format === "csv"
        ? `Oldest first, same filters as GET /v1/events. RFC 4180 with the header row ${CSV_COLUMNS.join(", ")}. Cells starting with =, +, -, @, tab or CR are prefixed with an apostrophe (spreadsheet formula injection). \`link\` is CATALOG_RECORD_URL for a record, CATALOG_SEARCH_URL over meta.dois for a bundle.`
        : "Oldest first, same filters as GET /v1/events; one event per line in the shape GET /v1/events returns.",
    security,
    middleware: [requireScope("read")] as const,
    request: { query: EventFilterSchema },
    responses: {
      200: {
        description: "The export, as an attachment named download-audit_<from>_<to>",
        content: { [mediaTypes[format].split(";")[0]!]: { schema: z.string() } },
      },
      ...errorResponses("invalid_request", ...authErrors),
    },
  });

eventsExport.openapi(exportRoute("csv"), (c) => respond(c, c.req.valid("query"), "csv"));
eventsExport.openapi(exportRoute("ndjson"), (c) => respond(c, c.req.valid("query"), "ndjson"));

const XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

const xlsxRoute = createRoute({
  method: "get",
  path: "/v1/events/export.xlsx",
  operationId: "exportEventsXlsx",
  tags: ["Events"],
  summary: "Export events as an Excel workbook (streamed)",
  description: `Oldest first, same filters and columns as the CSV export, as typed cells: occurred_at as an Excel date (UTC), bytes as a number, the rest as text with the same formula neutralising. Frozen header row, autofilter and column widths. After ${(EXCEL_MAX_ROWS - 1).toLocaleString("en-US")} events a sheet is full and the rows continue on sheets "Events 2", "Events 3", …; the last sheet, "About", lists the filters, the export time and the row count.`,
  security,
  middleware: [requireScope("read")] as const,
  request: { query: EventFilterSchema },
  responses: {
    200: { description: "The workbook, as an attachment named download-audit_<from>_<to>.xlsx", content: { [XLSX_TYPE]: { schema: z.string().openapi({ format: "binary" }) } } },
    ...errorResponses("invalid_request", ...authErrors),
  },
});

eventsExport.openapi(xlsxRoute, async (c) => {
  const filter = c.req.valid("query");
  const config = c.var.config;
  const stream = await exportXlsxStream(c.var.db, await resolveEventFilter(config.piiKey, filter), { recordUrl: config.catalogRecordUrl, searchUrl: config.catalogSearchUrl });
  return c.body(stream, 200, {
    "Content-Type": XLSX_TYPE,
    "Content-Disposition": `attachment; filename="${exportFilename(filter, "xlsx")}"`,
    "Cache-Control": "no-store",
  });
});
