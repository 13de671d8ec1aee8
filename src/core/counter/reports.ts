// Monthly Dataset Reports: built from the rollups into R2 (reports/dsr/YYYY-MM.json.gz) and, when DATACITE_USAGE_URL and
// DATACITE_USAGE_TOKEN are set, submitted to DataCite's usage-reports API (POST once, then PUT to replace that report).
import { z } from "@hono/zod-openapi";
import { desc, eq } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { counterReports } from "../../db/counter-schema";
import type { Config } from "../../lib/config";
import { ApiError } from "../../lib/errors";
import { dayOf, monthLabel } from "../analytics/periods";
import { dsrJsonChunks } from "./dsr";

const DSR_PREFIX = "reports/dsr/";
export const dsrObjectKey = (month: string) => `${DSR_PREFIX}${month}.json.gz`;

export const CounterReportSchema = z
  .object({
    month: z.string().openapi({ example: "2026-10" }),
    object_key: z.string().openapi({ example: "reports/dsr/2026-10.json.gz" }),
    datasets: z.number(),
    created_at: z.string(),
    submission: z.object({
      status: z.enum(["not_configured", "pending", "submitted", "failed"]),
      report_id: z.string().nullable().openapi({ description: "DataCite's id of the report; a resubmission replaces it" }),
      submitted_at: z.string().nullable(),
      error: z.string().nullable(),
    }),
  })
  .openapi("CounterReport");

export type CounterReport = z.infer<typeof CounterReportSchema>;

type ReportRow = typeof counterReports.$inferSelect;

const toReport = (row: ReportRow): CounterReport => ({
  month: row.month,
  object_key: row.objectKey,
  datasets: row.datasets,
  created_at: new Date(row.createdAt).toISOString(),
  submission: {
    status: row.submissionStatus,
    report_id: row.submissionId,
    submitted_at: row.submittedAt === null ? null : new Date(row.submittedAt).toISOString(),
    error: row.submissionError,
  },
});

export async function listCounterReports(db: D1Database, limit = 120): Promise<CounterReport[]> {
  const rows = await drizzle(db).select().from(counterReports).orderBy(desc(counterReports.month)).limit(limit);
  return rows.map(toReport);
}

/** The month before the one `now` falls in, as YYYY-MM. */
export function previousMonth(now: number): string {
  const date = new Date(now);
  return monthLabel(dayOf(Date.UTC(date.getUTCFullYear(), date.getUTCMonth() - 1, 1)));
}

/** Gzip of text chunks, collected in memory: a month's DSR compresses to a small fraction of its JSON. */
async function gzip(chunks: AsyncIterable<string>): Promise<Uint8Array> {
  const compressor = new CompressionStream("gzip");
  const writer = compressor.writable.getWriter();
  const encoder = new TextEncoder();
  const collected = (async () => {
    const parts: Uint8Array[] = [];
    for await (const part of compressor.readable) parts.push(part);
    return parts;
  })();
  for await (const chunk of chunks) await writer.write(encoder.encode(chunk));
  await writer.close();
  const parts = await collected;
  const body = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    body.set(part, offset);
    offset += part.length;
  }
  return body;
}

/**
 * Builds the DSR of `month` (YYYY-MM) into R2 as gzip JSON and records it; returns the object key (the point where a
 * `report.dsr.ready` notification belongs). Rebuilding a month replaces its object and keeps its DataCite report id.
 */
export async function buildMonthlyDsr(env: Env, config: Config, month: string, now = Date.now()): Promise<string> {
  const key = dsrObjectKey(month);
  const tally = { datasets: 0 };
  const body = await gzip(dsrJsonChunks(env.DB, config, { begin_date: month, end_date: month }, now, tally));
  await env.BUCKET.put(key, body, { httpMetadata: { contentType: "application/json", contentEncoding: "gzip" } });
  const status = config.dataciteUsageUrl && config.dataciteUsageToken ? "pending" : "not_configured";
  await env.DB.prepare(
    `INSERT INTO counter_reports (month, object_key, datasets, created_at, submission_status) VALUES (?1, ?2, ?3, ?4, ?5)
     ON CONFLICT(month) DO UPDATE SET object_key = excluded.object_key, datasets = excluded.datasets, created_at = excluded.created_at,
       submission_status = excluded.submission_status, submission_error = NULL`,
  )
    .bind(month, key, tally.datasets, now, status)
    .run();
  return key;
}

/**
 * Sends a stored month's DSR to DataCite: POST /reports the first time, PUT /reports/{id} afterwards, so a resubmission
 * replaces that month's report. The outcome is recorded on the report row.
 */
export async function submitMonthlyDsr(env: Env, config: Config, month: string, now = Date.now()): Promise<CounterReport> {
  const row = await drizzle(env.DB).select().from(counterReports).where(eqMonth(month)).get();
  if (!row) throw new ApiError("not_found", `No DSR of ${month} has been built`);
  if (!config.dataciteUsageUrl || !config.dataciteUsageToken) return toReport(row);
  const object = await env.BUCKET.get(row.objectKey);
  if (!object) throw new ApiError("not_found", `The DSR object ${row.objectKey} is missing`);
  const url = row.submissionId ? `${config.dataciteUsageUrl}/reports/${encodeURIComponent(row.submissionId)}` : `${config.dataciteUsageUrl}/reports`;
  let status: "submitted" | "failed" = "failed";
  let reportId = row.submissionId;
  let error: string | null = null;
  try {
    const response = await fetch(url, {
      method: row.submissionId ? "PUT" : "POST",
      headers: {
        "Content-Type": "application/gzip",
        "Content-Encoding": "gzip",
        Accept: "application/json",
        Authorization: `Bearer ${config.dataciteUsageToken}`,
      },
      body: await object.arrayBuffer(),
    });
    const text = await response.text();
    if (response.ok) {
      status = "submitted";
      const parsed = safeJson(text) as { report?: { id?: unknown }; data?: { id?: unknown } } | null;
      const id = parsed?.report?.id ?? parsed?.data?.id;
      if (typeof id === "string") reportId = id;
    } else error = `DataCite answered ${response.status}: ${text.slice(0, 500)}`;
  } catch (cause) {
    error = `DataCite could not be reached: ${String(cause)}`;
  }
  await env.DB.prepare(
    "UPDATE counter_reports SET submission_status = ?1, submission_id = ?2, submitted_at = ?3, submission_error = ?4 WHERE month = ?5",
  )
    .bind(status, reportId, status === "submitted" ? now : row.submittedAt, error, month)
    .run();
  return { ...toReport(row), submission: { status, report_id: reportId, submitted_at: status === "submitted" ? new Date(now).toISOString() : toReport(row).submission.submitted_at, error } };
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

const eqMonth = (month: string) => eq(counterReports.month, month);

export interface MonthlyDsrRun {
  month: string;
  /** The R2 key of the DSR built in this run, or null when the month's report already existed. */
  built: string | null;
  submission: CounterReport["submission"]["status"];
}

/**
 * The daily cron's COUNTER job: once a month has closed, builds its DSR (once), then submits it until DataCite accepts
 * it. Runs after the daily rollup re-check, so the month's last day is rolled up.
 */
export async function runMonthlyDsr(env: Env, config: Config, now = Date.now()): Promise<MonthlyDsrRun> {
  const month = previousMonth(now);
  const existing = await drizzle(env.DB).select().from(counterReports).where(eqMonth(month)).get();
  const built = existing ? null : await buildMonthlyDsr(env, config, month, now);
  const current = await drizzle(env.DB).select().from(counterReports).where(eqMonth(month)).get();
  const configured = Boolean(config.dataciteUsageUrl && config.dataciteUsageToken);
  if (configured && current && current.submissionStatus !== "submitted") {
    if (current.submissionStatus === "not_configured")
      await env.DB.prepare("UPDATE counter_reports SET submission_status = 'pending' WHERE month = ?1").bind(month).run();
    const submitted = await submitMonthlyDsr(env, config, month, now);
    return { month, built, submission: submitted.submission.status };
  }
  return { month, built, submission: current?.submissionStatus ?? "not_configured" };
}
