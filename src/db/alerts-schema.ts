// D1 tables of abuse detection: alerts raised by the rules and the webhooks they are sent to.
import { index, integer, sqliteTable, text } from "drizzle-orm/sqlite-core";

/**
 * One row per alert episode: a rule firing again about the same subject (same `fingerprint`) within the quiet period
 * updates `count`, `last_seen` and `evidence` instead of adding a row.
 */
export const alerts = sqliteTable(
  "alerts",
  {
    id: text("id").primaryKey(),
    rule: text("rule", { enum: ["download_limit", "record_spike", "mirroring", "failure_share", "maintenance"] }).notNull(),
    /** What the alert is about: an IP prefix, a pseudonymous user key, a record, `downloads`, or a maintenance job. */
    subject: text("subject").notNull(),
    /** `rule|subject`: alerts with the same fingerprint are one episode while they keep firing. */
    fingerprint: text("fingerprint").notNull(),
    status: text("status", { enum: ["open", "acknowledged"] }).notNull(),
    severity: text("severity", { enum: ["warning", "critical"] }).notNull(),
    title: text("title").notNull(),
    /** JSON: counts, window and top IP prefixes / user keys (pseudonymous only) of the latest firing. */
    evidence: text("evidence").notNull(),
    /** The `GET /v1/events` query that lists the events behind the alert. */
    eventsQuery: text("events_query"),
    count: integer("count").notNull(),
    firstSeen: integer("first_seen").notNull(),
    lastSeen: integer("last_seen").notNull(),
    acknowledgedAt: integer("acknowledged_at"),
    /** The API key id that acknowledged it. */
    acknowledgedBy: text("acknowledged_by"),
  },
  (table) => [
    index("alerts_fingerprint_last_seen").on(table.fingerprint, table.lastSeen),
    index("alerts_status_last_seen").on(table.status, table.lastSeen, table.id),
    index("alerts_last_seen").on(table.lastSeen, table.id),
  ],
);

/** Webhook endpoints. Their signing secrets live only in each endpoint's WebhookDelivery Durable Object, never in D1. */
export const webhooks = sqliteTable(
  "webhooks",
  {
    id: text("id").primaryKey(),
    url: text("url").notNull(),
    /** JSON array of event types, e.g. ["alert.opened", "maintenance.failed"]. */
    eventTypes: text("event_types", { mode: "json" }).$type<string[]>().notNull(),
    description: text("description"),
    createdAt: integer("created_at").notNull(),
    deletedAt: integer("deleted_at"),
  },
  (table) => [index("webhooks_deleted_created").on(table.deletedAt, table.createdAt)],
);
