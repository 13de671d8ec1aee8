// Alerts: raising (a rule that keeps firing updates its open episode), listing, acknowledging, and maintenance failures.
import { z } from "@hono/zod-openapi";
import { and, desc, eq, gte, lt, or, type SQL } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { alerts } from "../../db/alerts-schema";
import { getConfig, type Config } from "../../lib/config";
import { uuidv7 } from "../../lib/crypto";
import { ApiError } from "../../lib/errors";
import { emitWebhookEvent } from "./webhooks";

export const alertRules = ["download_limit", "record_spike", "mirroring", "failure_share", "maintenance"] as const;
export type AlertRule = (typeof alertRules)[number];
export const alertStatuses = ["open", "acknowledged"] as const;

export const AlertSchema = z
  .object({
    id: z.string(),
    rule: z.enum(alertRules),
    subject: z.string().openapi({ description: "An IP prefix, a pseudonymous user key, a record (type:id), `downloads`, or a maintenance job" }),
    status: z.enum(alertStatuses),
    severity: z.enum(["warning", "critical"]),
    title: z.string(),
    evidence: z.record(z.string(), z.unknown()).openapi({ description: "Counts, window and top IP prefixes / user keys of the latest firing" }),
    events_query: z.string().nullable().openapi({ description: "The GET /v1/events query listing the events behind the alert" }),
    count: z.number().int().openapi({ description: "How many evaluations fired it" }),
    first_seen: z.string(),
    last_seen: z.string(),
    acknowledged_at: z.string().nullable(),
    acknowledged_by: z.string().nullable(),
  })
  .openapi("Alert");

export type Alert = z.infer<typeof AlertSchema>;

export interface AlertInput {
  rule: AlertRule;
  subject: string;
  severity: "warning" | "critical";
  title: string;
  evidence: Record<string, unknown>;
  /** Query string of GET /v1/events (without the leading `?`), or null when no events stand behind the alert. */
  eventsQuery: string | null;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

function toAlert(row: typeof alerts.$inferSelect): Alert {
  return {
    id: row.id,
    rule: row.rule,
    subject: row.subject,
    status: row.status,
    severity: row.severity,
    title: row.title,
    evidence: JSON.parse(row.evidence) as Record<string, unknown>,
    events_query: row.eventsQuery,
    count: row.count,
    first_seen: iso(row.firstSeen)!,
    last_seen: iso(row.lastSeen)!,
    acknowledged_at: iso(row.acknowledgedAt),
    acknowledged_by: row.acknowledgedBy,
  };
}

/** The `GET /v1/events` link of a filter. */
export function eventsQueryOf(filter: Record<string, string | number | undefined>): string {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(filter)) if (value !== undefined) params.set(name, String(value));
  return `/v1/events?${params}`;
}

/**
 * Records one firing. The latest alert with the same rule and subject that fired within the quiet period absorbs it
 * (count + 1, last seen, fresh evidence; an acknowledged one stays acknowledged); otherwise a new alert opens. Webhooks
 * hear `alert.opened`, or `alert.updated` for an episode that is still open.
 */
export async function raiseAlert(env: Env, config: Config, input: AlertInput, now = Date.now()): Promise<{ alert: Alert; opened: boolean }> {
  const fingerprint = `${input.rule}|${input.subject}`;
  const evidence = JSON.stringify(input.evidence);
  const updated = await env.DB.prepare(
    `UPDATE alerts SET count = count + 1, last_seen = ?1, evidence = ?2, title = ?3, severity = ?4, events_query = ?5
     WHERE id = (SELECT id FROM alerts WHERE fingerprint = ?6 AND last_seen >= ?7 ORDER BY last_seen DESC LIMIT 1)
     RETURNING *`,
  )
    .bind(now, evidence, input.title, input.severity, input.eventsQuery, fingerprint, now - config.alerts.quietHours * 3_600_000)
    .first<Record<string, unknown>>();
  let row: typeof alerts.$inferSelect;
  let opened = false;
  if (updated) row = fromSql(updated);
  else {
    row = {
      id: uuidv7(now),
      rule: input.rule,
      subject: input.subject,
      fingerprint,
      status: "open",
      severity: input.severity,
      title: input.title,
      evidence,
      eventsQuery: input.eventsQuery,
      count: 1,
      firstSeen: now,
      lastSeen: now,
      acknowledgedAt: null,
      acknowledgedBy: null,
    };
    await drizzle(env.DB).insert(alerts).values(row);
    opened = true;
  }
  const alert = toAlert(row);
  if (opened) await emitWebhookEvent(env, "alert.opened", alert, now);
  else if (alert.status === "open") await emitWebhookEvent(env, "alert.updated", alert, now);
  return { alert, opened };
}

/** A raw `RETURNING *` row (snake_case) as the drizzle row type. */
function fromSql(raw: Record<string, unknown>): typeof alerts.$inferSelect {
  return {
    id: raw.id as string,
    rule: raw.rule as AlertRule,
    subject: raw.subject as string,
    fingerprint: raw.fingerprint as string,
    status: raw.status as "open" | "acknowledged",
    severity: raw.severity as "warning" | "critical",
    title: raw.title as string,
    evidence: raw.evidence as string,
    eventsQuery: raw.events_query as string | null,
    count: raw.count as number,
    firstSeen: raw.first_seen as number,
    lastSeen: raw.last_seen as number,
    acknowledgedAt: raw.acknowledged_at as number | null,
    acknowledgedBy: raw.acknowledged_by as string | null,
  };
}

/**
 * For code that runs maintenance (retention, rollups, integrity verification): records that a run of `kind` failed as a
 * critical alert and tells `maintenance.failed` webhooks. Never throws, so a failing alert cannot hide the original error.
 */
export async function raiseMaintenanceAlert(env: Env, kind: string, details: Record<string, unknown>): Promise<void> {
  try {
    const now = Date.now();
    const { alert } = await raiseAlert(
      env,
      getConfig(env),
      { rule: "maintenance", subject: kind, severity: "critical", title: `Maintenance run failed: ${kind}`, evidence: { job: kind, ...details }, eventsQuery: null },
      now,
    );
    await emitWebhookEvent(env, "maintenance.failed", { job: kind, details, alert_id: alert.id }, now);
  } catch (error) {
    console.error(JSON.stringify({ level: "error", message: "could not raise maintenance alert", kind, error: String(error) }));
  }
}

export interface AlertFilter {
  status?: (typeof alertStatuses)[number];
  from?: number;
  to?: number;
  limit: number;
  cursor?: string;
}

const encodeCursor = (lastSeen: number, id: string) => btoa(JSON.stringify([lastSeen, id]));

function decodeCursor(cursor: string): [number, string] {
  try {
    const value = JSON.parse(atob(cursor)) as unknown;
    if (Array.isArray(value) && typeof value[0] === "number" && typeof value[1] === "string") return [value[0], value[1]];
  } catch {
    // fall through to the error below
  }
  throw new ApiError("invalid_request", "The cursor is not valid", { details: [{ path: "cursor", message: "not a cursor returned by this API" }] });
}

/** Alerts last seen in [from, to), most recent first, with keyset pagination. */
export async function listAlerts(db: D1Database, filter: AlertFilter): Promise<{ data: Alert[]; next_cursor: string | null }> {
  const conditions: SQL[] = [];
  if (filter.status) conditions.push(eq(alerts.status, filter.status));
  if (filter.from !== undefined) conditions.push(gte(alerts.lastSeen, filter.from));
  if (filter.to !== undefined) conditions.push(lt(alerts.lastSeen, filter.to));
  if (filter.cursor) {
    const [lastSeen, id] = decodeCursor(filter.cursor);
    conditions.push(or(lt(alerts.lastSeen, lastSeen), and(eq(alerts.lastSeen, lastSeen), lt(alerts.id, id)))!);
  }
  const rows = await drizzle(db)
    .select()
    .from(alerts)
    .where(and(...conditions))
    .orderBy(desc(alerts.lastSeen), desc(alerts.id))
    .limit(filter.limit + 1);
  const page = rows.slice(0, filter.limit);
  const last = page.at(-1);
  return { data: page.map(toAlert), next_cursor: rows.length > filter.limit && last ? encodeCursor(last.lastSeen, last.id) : null };
}

/** Marks an alert as seen by a person; acknowledging twice keeps the first acknowledgement. */
export async function acknowledgeAlert(env: Env, id: string, by: string, now = Date.now()): Promise<Alert> {
  const db = drizzle(env.DB);
  const [changed] = await db
    .update(alerts)
    .set({ status: "acknowledged", acknowledgedAt: now, acknowledgedBy: by })
    .where(and(eq(alerts.id, id), eq(alerts.status, "open")))
    .returning();
  if (changed) {
    const alert = toAlert(changed);
    await emitWebhookEvent(env, "alert.acknowledged", alert, now);
    return alert;
  }
  const [existing] = await db.select().from(alerts).where(eq(alerts.id, id));
  if (!existing) throw new ApiError("not_found", `No alert with id ${id}`);
  return toAlert(existing);
}
