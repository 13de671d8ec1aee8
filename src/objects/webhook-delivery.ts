// Durable Object per webhook endpoint: holds its signing secret and outbox, delivers with retries on alarms, keeps the log.
import { DurableObject } from "cloudflare:workers";
import { checkWebhookUrl } from "../core/alerts/ssrf";
import { signWebhook } from "../core/alerts/signing";
import { getConfig } from "../lib/config";

/**
 * Delays before each retry, after a failed attempt: the Standard Webhooks recommended schedule (immediately, 5 s, 5 min,
 * 30 min, 2 h, 5 h, 10 h, 10 h). Eight attempts over 27 h 35 min, so a receiver that is down for a day still gets
 * everything, and one down for an hour gets it at the 2-hour retry.
 */
export const RETRY_DELAYS_MS = [5_000, 5 * 60_000, 30 * 60_000, 2 * 3_600_000, 5 * 3_600_000, 10 * 3_600_000, 10 * 3_600_000];
export const MAX_ATTEMPTS = RETRY_DELAYS_MS.length + 1;
/** Delivered and failed messages stay in the log this long. */
const LOG_RETENTION_MS = 7 * 86_400_000;
/** Messages one alarm sends at most; it re-arms at once when more are due. */
const BATCH = 25;
/** Characters of a receiver's error answer kept in the log. */
const ERROR_TEXT = 200;

export interface OutgoingMessage {
  /** The `webhook-id`: the same for every attempt, so receivers can drop repeats. */
  id: string;
  type: string;
  /** The exact JSON body, signed and sent unchanged on every attempt. */
  body: string;
  createdAt: number;
}

export type DeliveryAttempt = {
  attempt: number;
  at: number;
  status_code: number | null;
  error: string | null;
  duration_ms: number;
};

export interface DeliveryRecord {
  message_id: string;
  type: string;
  status: "pending" | "delivered" | "failed";
  attempts: number;
  created_at: number;
  next_attempt_at: number | null;
  delivered_at: number | null;
  last_status_code: number | null;
  log: DeliveryAttempt[];
}

type MessageRow = {
  id: string;
  type: string;
  body: string;
  created_at: number;
  status: DeliveryRecord["status"];
  attempts: number;
  next_attempt_at: number | null;
  delivered_at: number | null;
  last_status_code: number | null;
};

/**
 * Why Durable Object alarms rather than Cloudflare Queues: retries here must span more than 24 h with delays of up to
 * 10 h, and each endpoint needs its own secret, outbox and log. A Queue's per-message delay is capped at 12 h and its
 * retries at 100, it needs its own provisioning, and a dead endpoint's messages would cycle through the one queue every
 * endpoint shares. One object per endpoint keeps endpoints independent (a slow receiver delays only itself), stores the
 * secret outside D1, and its alarm is durable and retried by the runtime, so nothing is lost between attempts.
 */
export class WebhookDelivery extends DurableObject<Env> {
  private readonly sql: SqlStorage;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.sql.exec(`CREATE TABLE IF NOT EXISTS endpoint (id INTEGER PRIMARY KEY CHECK (id = 1), url TEXT NOT NULL, secret TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS messages (id TEXT PRIMARY KEY, type TEXT NOT NULL, body TEXT NOT NULL, created_at INTEGER NOT NULL,
        status TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, next_attempt_at INTEGER, delivered_at INTEGER, last_status_code INTEGER);
      CREATE INDEX IF NOT EXISTS messages_due ON messages (status, next_attempt_at);
      CREATE INDEX IF NOT EXISTS messages_created ON messages (created_at);
      CREATE TABLE IF NOT EXISTS attempts (message_id TEXT NOT NULL, attempt INTEGER NOT NULL, at INTEGER NOT NULL,
        status_code INTEGER, error TEXT, duration_ms INTEGER NOT NULL, PRIMARY KEY (message_id, attempt));`);
  }

  /** Sets the endpoint's URL and secret (at creation). */
  async configure(url: string, secret: string): Promise<void> {
    this.sql.exec("INSERT INTO endpoint (id, url, secret) VALUES (1, ?, ?) ON CONFLICT (id) DO UPDATE SET url = excluded.url, secret = excluded.secret", url, secret);
  }

  /** Queues messages for delivery (a message id already known is ignored) and wakes the alarm. */
  async enqueue(messages: OutgoingMessage[]): Promise<void> {
    if (!this.endpoint()) return;
    const now = Date.now();
    for (const message of messages)
      this.sql.exec(
        "INSERT INTO messages (id, type, body, created_at, status, next_attempt_at) VALUES (?, ?, ?, ?, 'pending', ?) ON CONFLICT (id) DO NOTHING",
        message.id,
        message.type,
        message.body,
        message.createdAt,
        now,
      );
    await this.schedule(now);
  }

  /** The delivery log, newest first. */
  async deliveries(limit: number): Promise<DeliveryRecord[]> {
    const rows = this.sql.exec<MessageRow>("SELECT * FROM messages ORDER BY created_at DESC, id DESC LIMIT ?", limit).toArray();
    return rows.map((row) => ({
      message_id: row.id,
      type: row.type,
      status: row.status,
      attempts: row.attempts,
      created_at: row.created_at,
      next_attempt_at: row.status === "pending" ? row.next_attempt_at : null,
      delivered_at: row.delivered_at,
      last_status_code: row.last_status_code,
      log: this.sql.exec<DeliveryAttempt>("SELECT attempt, at, status_code, error, duration_ms FROM attempts WHERE message_id = ? ORDER BY attempt", row.id).toArray(),
    }));
  }

  /** Forgets the endpoint: secret, outbox and log (when the webhook is deleted). */
  async remove(): Promise<void> {
    await this.ctx.storage.deleteAlarm();
    this.sql.exec("DELETE FROM endpoint; DELETE FROM attempts; DELETE FROM messages;");
  }

  /** Sends the messages that are due; each failure is retried on the schedule until MAX_ATTEMPTS. */
  override async alarm(): Promise<void> {
    const endpoint = this.endpoint();
    if (!endpoint) return;
    const now = Date.now();
    const due = this.sql
      .exec<MessageRow>("SELECT * FROM messages WHERE status = 'pending' AND next_attempt_at <= ? ORDER BY next_attempt_at, created_at LIMIT ?", now, BATCH)
      .toArray();
    // Concurrent: receivers must not rely on order (Standard Webhooks), and one slow answer should not hold up the rest.
    await Promise.all(due.map((message) => this.attempt(endpoint, message)));
    this.sql.exec("DELETE FROM attempts WHERE message_id IN (SELECT id FROM messages WHERE status != 'pending' AND created_at < ?)", now - LOG_RETENTION_MS);
    this.sql.exec("DELETE FROM messages WHERE status != 'pending' AND created_at < ?", now - LOG_RETENTION_MS);
    await this.schedule(now);
  }

  private endpoint(): { url: string; secret: string } | null {
    return this.sql.exec<{ url: string; secret: string }>("SELECT url, secret FROM endpoint").toArray()[0] ?? null;
  }

  private async attempt(endpoint: { url: string; secret: string }, message: MessageRow): Promise<void> {
    const config = getConfig(this.env);
    const started = Date.now();
    const attempt = message.attempts + 1;
    let statusCode: number | null = null;
    let error: string | null = null;
    const verdict = checkWebhookUrl(endpoint.url, { allowLocal: config.webhooksAllowLocal });
    if (!verdict.ok) error = `URL refused: ${verdict.reason}`;
    else {
      try {
        const timestamp = Math.floor(started / 1000);
        const response = await fetch(verdict.url, {
          method: "POST",
          headers: {
            "content-type": "application/json",
            "user-agent": "download-audit-webhooks/1",
            "webhook-id": message.id,
            "webhook-timestamp": String(timestamp),
            "webhook-signature": await signWebhook(endpoint.secret, message.id, timestamp, message.body),
          },
          body: message.body,
          // A redirect is never followed (it could point anywhere, including inside a network): it counts as a failure.
          redirect: "manual",
          signal: AbortSignal.timeout(config.webhookTimeoutMs),
        });
        statusCode = response.status;
        if (response.status < 200 || response.status >= 300) error = (await response.text().catch(() => "")).slice(0, ERROR_TEXT) || `HTTP ${response.status}`;
        else await response.body?.cancel();
      } catch (failure) {
        error = failure instanceof Error && failure.name === "TimeoutError" ? `no answer within ${config.webhookTimeoutMs} ms` : String(failure).slice(0, ERROR_TEXT);
      }
    }
    const finished = Date.now();
    this.sql.exec(
      "INSERT INTO attempts (message_id, attempt, at, status_code, error, duration_ms) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
      message.id,
      attempt,
      started,
      statusCode,
      error,
      finished - started,
    );
    if (error === null) {
      this.sql.exec("UPDATE messages SET status = 'delivered', attempts = ?, delivered_at = ?, last_status_code = ?, next_attempt_at = NULL WHERE id = ?", attempt, finished, statusCode, message.id);
    } else if (attempt >= MAX_ATTEMPTS) {
      this.sql.exec("UPDATE messages SET status = 'failed', attempts = ?, last_status_code = ?, next_attempt_at = NULL WHERE id = ?", attempt, statusCode, message.id);
    } else {
      const next = finished + RETRY_DELAYS_MS[attempt - 1]!;
      this.sql.exec("UPDATE messages SET attempts = ?, last_status_code = ?, next_attempt_at = ? WHERE id = ?", attempt, statusCode, next, message.id);
    }
  }

  private async schedule(now: number): Promise<void> {
    const next = this.sql.exec<{ next: number | null }>("SELECT min(next_attempt_at) AS next FROM messages WHERE status = 'pending'").one().next;
    if (next === null) return;
    const current = await this.ctx.storage.getAlarm();
    const at = Math.max(next, now);
    if (current === null || current > at) await this.ctx.storage.setAlarm(at);
  }
}
