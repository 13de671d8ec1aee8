// Durable Object holding rate-limit state for a shard of subjects (client IPs, API keys) in its SQLite storage.
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
 * Two algorithms, each chosen for its subject:
 * - downloads per IP use a sliding-window log (one row per allowed download, ≤ limit rows per IP): exact "N per window"
 *   with an exact Retry-After, which a token bucket cannot state; cheap because limits are small (100/hour).
 * - requests per API key use a sliding-window counter (two fixed windows, weighted): constant storage for 6,000/min.
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
      CREATE TABLE IF NOT EXISTS counters (subject TEXT NOT NULL, window_start INTEGER NOT NULL, count INTEGER NOT NULL,
        expires_at INTEGER NOT NULL, PRIMARY KEY (subject, window_start));
      CREATE INDEX IF NOT EXISTS counters_expiry ON counters (expires_at);`);
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

  /** Sliding-window counter over fixed windows of `windowMs`: weight of the previous window falls linearly. */
  async takeCounter(request: RateRequest, limit: number, windowMs: number): Promise<RateDecision> {
    const { subject, at } = request;
    const windowStart = Math.floor(at / windowMs) * windowMs;
    const countOf = (start: number) =>
      this.sql.exec<{ count: number }>("SELECT count FROM counters WHERE subject = ? AND window_start = ?", subject, start).toArray()[0]?.count ?? 0;
    const previous = countOf(windowStart - windowMs);
    const current = countOf(windowStart);
    const elapsed = (at - windowStart) / windowMs;
    const estimate = previous * (1 - elapsed) + current;
    const resetSeconds = Math.max(1, Math.ceil((windowStart + windowMs - at) / 1000));
    if (estimate + 1 > limit) return { allowed: false, limit, remaining: 0, resetSeconds };
    this.sql.exec(
      `INSERT INTO counters (subject, window_start, count, expires_at) VALUES (?, ?, 1, ?)
       ON CONFLICT (subject, window_start) DO UPDATE SET count = count + 1`,
      subject,
      windowStart,
      windowStart + 2 * windowMs,
    );
    await this.scheduleCleanup();
    return { allowed: true, limit, remaining: Math.max(0, Math.floor(limit - estimate - 1)), resetSeconds };
  }

  private async scheduleCleanup(): Promise<void> {
    const earliest = this.sql
      .exec<{ next: number | null }>("SELECT min(expires_at) AS next FROM (SELECT min(expires_at) AS expires_at FROM hits UNION ALL SELECT min(expires_at) FROM counters)")
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
    this.sql.exec("DELETE FROM counters WHERE expires_at <= ?", now);
    await this.scheduleCleanup();
  }

  /** Number of rows held, for tests and diagnostics. */
  async stateSize(): Promise<{ hits: number; counters: number }> {
    return {
      hits: this.sql.exec<{ n: number }>("SELECT count(*) AS n FROM hits").one().n,
      counters: this.sql.exec<{ n: number }>("SELECT count(*) AS n FROM counters").one().n,
    };
  }
}
