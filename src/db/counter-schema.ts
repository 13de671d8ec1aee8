// D1 tables of COUNTER research-data metrics: daily per-dataset counts by the Code of Practice, and monthly DSR reports.
import { index, integer, primaryKey, sqliteTable, text } from "drizzle-orm/sqlite-core";

/**
 * Daily COUNTER counts per dataset (DOI, else `type:id`) × access method (`regular`, `machine`) × country. The row with
 * country `*` holds the day's totals over all countries; `''` is an unknown country. Sessions never cross an hour, so the
 * unique counts of days add up to the unique counts of a month. Kept when raw rows are archived.
 */
export const counterRollups = sqliteTable(
  "counter_rollups",
  {
    /** Days since 1970-01-01 (UTC). */
    day: integer("day").notNull(),
    dataset: text("dataset").notNull(),
    accessMethod: text("access_method", { enum: ["regular", "machine"] }).notNull(),
    country: text("country").notNull(),
    doi: text("doi"),
    resourceType: text("resource_type"),
    resourceId: text("resource_id"),
    title: text("title"),
    totalInvestigations: integer("total_investigations").notNull(),
    uniqueInvestigations: integer("unique_investigations").notNull(),
    totalRequests: integer("total_requests").notNull(),
    uniqueRequests: integer("unique_requests").notNull(),
  },
  (table) => [
    primaryKey({ columns: [table.day, table.dataset, table.accessMethod, table.country] }),
    index("counter_rollups_dataset").on(table.dataset, table.day),
  ],
);

/** Monthly Dataset Reports built into R2 by the cron, and their submission to DataCite. */
export const counterReports = sqliteTable("counter_reports", {
  /** YYYY-MM. */
  month: text("month").primaryKey(),
  objectKey: text("object_key").notNull(),
  datasets: integer("datasets").notNull(),
  createdAt: integer("created_at").notNull(),
  submissionStatus: text("submission_status", { enum: ["not_configured", "pending", "submitted", "failed"] }).notNull(),
  /** The report id DataCite returned; a resubmission replaces that report. */
  submissionId: text("submission_id"),
  submittedAt: integer("submitted_at"),
  submissionError: text("submission_error"),
});
