// Durable Object holding the per-IP download limit for a shard of client IPs in its SQLite storage.
import { DurableObject } from "cloudflare:workers";

export interface RateDecision {
  allowed: boolean;
  limit: number;
  remaining: number;
  /** Seconds until a slot frees up (the Retry-After of a refusal). */
  resetSeconds: number;
}

export interface RateRequest {
  subject: string;
  /** Epoch ms of the attempt; passed in so tests can drive time through the object. */
  at: number;
}

/** Expired rows are swept at most this often, so a busy shard is not woken by an alarm per expiring row. */
const CLEANUP_INTERVAL_MS = 60_000;

/**
 * Downloads per IP use a sliding-window log (one row per allowed download, ≤ limit rows per IP): exact "N per window" with
 * an exact Retry-After, which a token bucket cannot state; cheap because limits are small (100/hour). (Requests per API key
 * are limited by the API_KEY_LIMITER Workers Rate Limiting binding, without a round trip to this object.)
 * Rows carry their expiry; the alarm deletes expired rows so quiet subjects leave no state behind.
 */
export class RateLimiter extends DurableObject<Env> {
  private readonly sql: SqlStorage;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.sql.exec(`CREATE TABLE IF NOT EXISTS hits (subject TEXT NOT NULL, at INTEGER NOT NULL, expires_at INTEGER NOT NULL);
      CREATE INDEX IF NOT EXISTS hits_subject_at ON hits (subject, at);
      CREATE INDEX IF NOT EXISTS hits_expiry ON hits (expires_at);
      DROP TABLE IF EXISTS counters;`);
  }

  /** Sliding-window log: each attempt is allowed when fewer than `limit` allowed attempts of its subject fall in the window. */
  async takeLog(requests: RateRequest[], limit: number, windowMs: number): Promise<RateDecision[]> {
    const decisions = requests.map(({ subject, at }) => {
      const since = at - windowMs;
      const { used, oldest } = this.sql
        .exec<{ used: number; oldest: number | null }>("SELECT count(*) AS used, min(at) AS oldest FROM hits WHERE subject = ? AND at > ?", subject, since)
        .one();
      if (used >= limit) {
        return { allowed: false, limit, remaining: 0, resetSeconds: Math.max(1, Math.ceil(((oldest ?? at) + windowMs - at) / 1000)) };
      }
      this.sql.exec("INSERT INTO hits (subject, at, expires_at) VALUES (?, ?, ?)", subject, at, at + windowMs);
      return { allowed: true, limit, remaining: limit - used - 1, resetSeconds: Math.max(1, Math.ceil(((oldest ?? at) + windowMs - at) / 1000)) };
    });
    await this.scheduleCleanup();
    return decisions;
  }

  private async scheduleCleanup(): Promise<void> {
    const earliest = this.sql
      .exec<{ next: number | null }>("SELECT min(expires_at) AS next FROM hits")
      .one().next;
    if (earliest === null) return;
    const next = Math.max(earliest, Date.now() + CLEANUP_INTERVAL_MS);
    const current = await this.ctx.storage.getAlarm();
    if (current === null || current > next) await this.ctx.storage.setAlarm(next);
  }

  /** Deletes expired state; reschedules itself while any state remains. */
  override async alarm(): Promise<void> {
    const now = Date.now();
    this.sql.exec("DELETE FROM hits WHERE expires_at <= ?", now);
    await this.scheduleCleanup();
  }

  /** Number of rows held, for tests and diagnostics. */
  async stateSize(): Promise<{ hits: number }> {
    return { hits: this.sql.exec<{ n: number }>("SELECT count(*) AS n FROM hits").one().n };
  }
}
