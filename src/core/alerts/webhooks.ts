// Webhook endpoints (create, list, delete, delivery log) and emitting events to every endpoint subscribed to their type.
import { z } from "@hono/zod-openapi";
import { and, desc, eq, isNull } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { webhooks } from "../../db/alerts-schema";
import type { Config } from "../../lib/config";
import { uuidv7 } from "../../lib/crypto";
import { ApiError } from "../../lib/errors";
import type { DeliveryRecord, OutgoingMessage } from "../../objects/webhook-delivery";
import { newWebhookSecret } from "./signing";
import { checkWebhookUrl } from "./ssrf";

/** Event types a webhook can subscribe to; features that emit a new type add it here. */
export const webhookEventTypes = ["alert.opened", "alert.updated", "alert.acknowledged", "maintenance.failed", "report.dsr.ready"] as const;
export type WebhookEventType = (typeof webhookEventTypes)[number];

export const WebhookSchema = z
  .object({
    id: z.string(),
    url: z.string(),
    event_types: z.array(z.enum(webhookEventTypes)),
    description: z.string().nullable(),
    created_at: z.string(),
  })
  .openapi("Webhook");

export const CreatedWebhookSchema = WebhookSchema.extend({
  secret: z.string().openapi({ description: "Standard Webhooks signing secret (whsec_…); shown only in this response" }),
}).openapi("CreatedWebhook");

export const DeliverySchema = z
  .object({
    message_id: z.string().openapi({ description: "The webhook-id header: the same on every attempt" }),
    type: z.string(),
    status: z.enum(["pending", "delivered", "failed"]),
    attempts: z.number().int(),
    created_at: z.string(),
    next_attempt_at: z.string().nullable(),
    delivered_at: z.string().nullable(),
    last_status_code: z.number().int().nullable(),
    log: z.array(
      z.object({ attempt: z.number().int(), at: z.string(), status_code: z.number().int().nullable(), error: z.string().nullable(), duration_ms: z.number().int() }),
    ),
  })
  .openapi("WebhookDelivery");

export type Webhook = z.infer<typeof WebhookSchema>;
export type Delivery = z.infer<typeof DeliverySchema>;

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

function toWebhook(row: typeof webhooks.$inferSelect): Webhook {
  return {
    id: row.id,
    url: row.url,
    event_types: row.eventTypes as WebhookEventType[],
    description: row.description,
    created_at: new Date(row.createdAt).toISOString(),
  };
}

export async function createWebhook(
  env: Env,
  config: Config,
  input: { url: string; event_types: WebhookEventType[]; description?: string },
): Promise<Webhook & { secret: string }> {
  const verdict = checkWebhookUrl(input.url, { allowLocal: config.webhooksAllowLocal });
  if (!verdict.ok) throw new ApiError("invalid_request", "The webhook URL is not allowed", { details: [{ path: "url", message: verdict.reason }] });
  const row = {
    id: `wh_${uuidv7().replace(/-/g, "")}`,
    url: verdict.url.href,
    eventTypes: [...new Set(input.event_types)],
    description: input.description ?? null,
    createdAt: Date.now(),
    deletedAt: null,
  };
  const secret = newWebhookSecret();
  // The secret goes to the endpoint's object first: a webhook listed in D1 can always sign.
  await env.WEBHOOK_DELIVERY.getByName(row.id).configure(row.url, secret);
  await drizzle(env.DB).insert(webhooks).values(row);
  return { ...toWebhook(row), secret };
}

export async function listWebhooks(db: D1Database): Promise<Webhook[]> {
  const rows = await drizzle(db).select().from(webhooks).where(isNull(webhooks.deletedAt)).orderBy(desc(webhooks.createdAt)).limit(1000);
  return rows.map(toWebhook);
}

async function requireWebhook(db: D1Database, id: string): Promise<typeof webhooks.$inferSelect> {
  const [row] = await drizzle(db).select().from(webhooks).where(and(eq(webhooks.id, id), isNull(webhooks.deletedAt)));
  if (!row) throw new ApiError("not_found", `No webhook with id ${id}`);
  return row;
}

/** Stops deliveries at once: the row is marked deleted and the endpoint's object forgets its secret and outbox. */
export async function deleteWebhook(env: Env, id: string): Promise<Webhook> {
  const row = await requireWebhook(env.DB, id);
  await drizzle(env.DB).update(webhooks).set({ deletedAt: Date.now() }).where(eq(webhooks.id, id));
  await env.WEBHOOK_DELIVERY.getByName(id).remove();
  return toWebhook(row);
}

const toDelivery = (record: DeliveryRecord): Delivery => ({
  ...record,
  created_at: iso(record.created_at)!,
  next_attempt_at: iso(record.next_attempt_at),
  delivered_at: iso(record.delivered_at),
  log: record.log.map((entry) => ({ ...entry, at: iso(entry.at)! })),
});

export async function listDeliveries(env: Env, id: string, limit: number): Promise<Delivery[]> {
  await requireWebhook(env.DB, id);
  return (await env.WEBHOOK_DELIVERY.getByName(id).deliveries(limit)).map(toDelivery);
}

/**
 * Sends an event to every webhook subscribed to its type, as a Standard Webhooks message `{type, timestamp, data}` with
 * one id for all endpoints. Returns once each endpoint's object has the message durably queued; delivery and retries
 * happen in their alarms, never in the caller's time. Other features call this (e.g. `report.dsr.ready`).
 */
export async function emitWebhookEvent(env: Env, type: WebhookEventType, data: unknown, now = Date.now()): Promise<{ id: string; webhooks: number }> {
  const { results } = await env.DB.prepare(
    "SELECT id FROM webhooks WHERE deleted_at IS NULL AND EXISTS (SELECT 1 FROM json_each(webhooks.event_types) WHERE value = ?1)",
  )
    .bind(type)
    .all<{ id: string }>();
  const message: OutgoingMessage = {
    id: `msg_${uuidv7(now).replace(/-/g, "")}`,
    type,
    body: JSON.stringify({ type, timestamp: new Date(now).toISOString(), data }),
    createdAt: now,
  };
  await Promise.all(results.map(({ id }) => env.WEBHOOK_DELIVERY.getByName(id).enqueue([message])));
  return { id: message.id, webhooks: results.length };
}
