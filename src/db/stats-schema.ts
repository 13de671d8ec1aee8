// D1 tables of the statistics side: daily rollups of counted events, their bookkeeping, and maintenance state/leases.
import { index, integer, primaryKey, sqliteTable, text } from "drizzle-orm/sqlite-core";

/**
 * Daily rollups of counted events (not duplicates, not denied), at five grains so that each question reads the smallest
 * table slice: `all` (day × action × status × access method), `organisation`, `resource`, `cube` (resource ×
 * organisation) and `country`. Columns that are not part of a grain, and absent values, hold '' so that composite keys
 * never contain NULL.
 */
export const eventRollups = sqliteTable(
  "event_rollups",
  {
    grain: text("grain", { enum: ["all", "organisation", "resource", "cube", "country"] }).notNull(),
    /** Days since 1970-01-01 (UTC). */
    day: integer("day").notNull(),
    action: text("action").notNull(),
    status: text("status", { enum: ["success", "failure"] }).notNull(),
    /** COUNTER access method of the events (every grain); events stored before classification count as `regular`. */
    accessMethod: text("access_method", { enum: ["regular", "machine", "robot"] }).notNull(),
    /** ISO alpha-2 country at the `country` grain ('' when unknown, and at the other grains). */
    country: text("country").notNull(),
    resourceType: text("resource_type").notNull(),
    resourceId: text("resource_id").notNull(),
    organisation: text("organisation").notNull(),
    events: integer("events").notNull(),
    bytes: integer("bytes").notNull(),
    firstAt: integer("first_at").notNull(),
    lastAt: integer("last_at").notNull(),
    doi: text("doi"),
    title: text("title"),
    /** Success rows while raw rows exist: comma-separated 52-bit user hashes (13 hex digits), the exact user set. */
    users: text("users"),
    /** Success rows of purged days: HyperLogLog registers (base64) that replace `users` when raw rows are deleted. */
    sketch: text("sketch"),
  },
  (table) => [
    primaryKey({
      columns: [table.grain, table.day, table.action, table.status, table.accessMethod, table.country, table.resourceType, table.resourceId, table.organisation],
    }),
    // Also cover what a ranking sums, so that the edge days of a long range are summed key by key in index order (stats.ts: keyedSums).
    index("event_rollups_resource").on(table.grain, table.resourceType, table.resourceId, table.day, table.action, table.accessMethod, table.events),
    index("event_rollups_organisation").on(table.grain, table.organisation, table.day, table.action, table.accessMethod, table.events),
    // Covering indexes of the top-list scans over short ranges: ranking reads only these, never the rows with their user sets.
    index("event_rollups_rank_resource").on(table.grain, table.day, table.action, table.accessMethod, table.resourceType, table.resourceId, table.events),
    index("event_rollups_rank_organisation").on(table.grain, table.day, table.action, table.accessMethod, table.organisation, table.events),
  ],
);

/**
 * Monthly event counts of the `resource` and `organisation` rollups (migration 0014), so that ranking a long range reads
 * a few rows per key. WITHOUT ROWID (drizzle cannot say so); triggers on `event_rollups` keep every row equal to the sum
 * of its month's day rows, whoever writes them.
 */
export const eventRollupMonths = sqliteTable(
  "event_rollup_months",
  {
    grain: text("grain", { enum: ["resource", "organisation"] }).notNull(),
    resourceType: text("resource_type").notNull(),
    resourceId: text("resource_id").notNull(),
    organisation: text("organisation").notNull(),
    /** Day number of the month's first day (UTC). */
    month: integer("month").notNull(),
    action: text("action").notNull(),
    accessMethod: text("access_method", { enum: ["regular", "machine", "robot"] }).notNull(),
    /** Counted events of both statuses. */
    events: integer("events").notNull(),
  },
  (table) => [primaryKey({ columns: [table.grain, table.resourceType, table.resourceId, table.organisation, table.month, table.action, table.accessMethod] })],
);

/** One row per rolled-up day: which receipt time its rollup reflects, and whether its raw rows were archived away. */
export const rollupDays = sqliteTable("rollup_days", {
  day: integer("day").primaryKey(),
  /** The rollup holds exactly the day's counted events with received_at ≤ this. */
  rolledThrough: integer("rolled_through").notNull(),
  rolledAt: integer("rolled_at").notNull(),
  /** Set once retention has converted the day's user sets to sketches; from then on the day is folded, never rebuilt. */
  purgedAt: integer("purged_at"),
  /**
   * Ledger rows the last rebuild read (occurred in the day or the 30 s after it, received ≤ rolled_through); NULL when
   * unknown. While the same count still holds, the rollup is current (rollup.ts: raiseIfCurrent).
   */
  rawRows: integer("raw_rows"),
});

/** Named numeric state of maintenance jobs, e.g. the rollup watermark. */
export const maintenanceState = sqliteTable("maintenance_state", {
  name: text("name").primaryKey(),
  value: integer("value").notNull(),
});

/** Leases that keep two runs of the same maintenance job from overlapping (correctness never depends on them). */
export const maintenanceLeases = sqliteTable("maintenance_leases", {
  job: text("job").primaryKey(),
  holder: text("holder").notNull(),
  expiresAt: integer("expires_at").notNull(),
});
