// Sliding-window logs of download counts and bytes per subject, kept in a Durable Object's SQLite storage (used by the
// ledger shards for client IPs and by the rate limiter for user byte budgets).

export interface RateDecision {
  allowed: boolean;
  limit: number;
  remaining: number;
  /** Seconds until a slot frees up (the Retry-After of a refusal). */
  resetSeconds: number;
  /** The byte budget's verdict when the request carried `bytes`; `allowed` is false when either limit refused. */
  bytes?: ByteDecision;
}

export interface RateRequest {
  subject: string;
  /** Epoch ms of the attempt; passed in so tests can drive time through the object. */
  at: number;
  /** Bytes this attempt would send, charged to the subject's byte budget in the same call (downloads the service serves). */
  bytes?: ByteCharge;
}

/** A byte budget: at most `limit` bytes per subject in any window of `windowMs`. */
export interface ByteCharge {
  amount: number;
  limit: number;
  windowMs: number;
}

/** The byte budget's verdict on one attempt; `remaining` is after this attempt when allowed. */
export interface ByteDecision {
  allowed: boolean;
  limit: number;
  remaining: number;
  resetSeconds: number;
}

/** Expired rows are swept at most this often, so a busy object is not woken by an alarm per expiring row. */
export const RATE_LOG_SWEEP_INTERVAL_MS = 60_000;

/**
 * Downloads per subject use a sliding-window log (one row per allowed download, ≤ limit rows per subject): exact "N per
 * window" with an exact Retry-After, which a token bucket cannot state; cheap because limits are small (100/hour). Bytes
 * use a sliding-window log of charges (one row per allowed download with its bytes): exact "N bytes in any window",
 * checked together with the count so that a refused attempt consumes neither. Rows carry their expiry; `sweep` deletes
 * expired rows so quiet subjects leave no state behind. Every method is synchronous: a decision and the write that
 * records it cannot interleave with another call.
 */
export class RateLog {
  constructor(private readonly sql: SqlStorage) {
    sql.exec(`CREATE TABLE IF NOT EXISTS hits (subject TEXT NOT NULL, at INTEGER NOT NULL, expires_at INTEGER NOT NULL);
      CREATE INDEX IF NOT EXISTS hits_subject_at ON hits (subject, at);
      CREATE INDEX IF NOT EXISTS hits_expiry ON hits (expires_at);
      CREATE TABLE IF NOT EXISTS byte_charges (subject TEXT NOT NULL, at INTEGER NOT NULL, bytes INTEGER NOT NULL, expires_at INTEGER NOT NULL);
      CREATE INDEX IF NOT EXISTS byte_charges_subject_at ON byte_charges (subject, at);
      CREATE INDEX IF NOT EXISTS byte_charges_expiry ON byte_charges (expires_at);`);
  }

  /**
   * An attempt is allowed when fewer than `limit` allowed attempts of its subject fall in the window and, when it carries
   * `bytes`, its subject's byte budget still has room for them. Nothing is charged to either when one of them refuses.
   */
  take({ subject, at, bytes }: RateRequest, limit: number, windowMs: number): RateDecision {
    const since = at - windowMs;
    const { used, oldest } = this.sql
      .exec<{ used: number; oldest: number | null }>("SELECT count(*) AS used, min(at) AS oldest FROM hits WHERE subject = ? AND at > ?", subject, since)
      .one();
    const resetSeconds = Math.max(1, Math.ceil(((oldest ?? at) + windowMs - at) / 1000));
    const byteDecision = bytes ? this.judgeBytes(subject, at, bytes) : undefined;
    const withBytes = byteDecision ? { bytes: byteDecision } : {};
    if (used >= limit) return { allowed: false, limit, remaining: 0, resetSeconds, ...withBytes };
    if (byteDecision && !byteDecision.allowed) return { allowed: false, limit, remaining: limit - used, resetSeconds, ...withBytes };
    this.sql.exec("INSERT INTO hits (subject, at, expires_at) VALUES (?, ?, ?)", subject, at, at + windowMs);
    if (bytes) this.chargeBytes(subject, at, bytes);
    return { allowed: true, limit, remaining: limit - used - 1, resetSeconds, ...withBytes };
  }

  /** A byte budget alone, for subjects whose count limit lives elsewhere (user keys): charged when it fits. */
  takeBytes({ subject, at, bytes }: RateRequest & { bytes: ByteCharge }): ByteDecision {
    const decision = this.judgeBytes(subject, at, bytes);
    if (decision.allowed) this.chargeBytes(subject, at, bytes);
    return decision;
  }

  /** Whether `charge.amount` more bytes fit the subject's window; Retry-After is when enough old charges leave it. */
  private judgeBytes(subject: string, at: number, charge: ByteCharge): ByteDecision {
    const rows = this.sql
      .exec<{ at: number; bytes: number }>("SELECT at, bytes FROM byte_charges WHERE subject = ? AND at > ? ORDER BY at", subject, at - charge.windowMs)
      .toArray();
    const used = rows.reduce((sum, row) => sum + row.bytes, 0);
    if (used + charge.amount <= charge.limit) {
      const resetAt = (rows[0]?.at ?? at) + charge.windowMs;
      return { allowed: true, limit: charge.limit, remaining: charge.limit - used - charge.amount, resetSeconds: Math.max(1, Math.ceil((resetAt - at) / 1000)) };
    }
    // Walk the oldest charges out of the window until the attempt would fit; one larger than the whole budget never does,
    // so it is told to wait a full window (by then no earlier charge of the subject is left to blame).
    let freed = 0;
    let fitsAt = at + charge.windowMs;
    if (charge.amount <= charge.limit) {
      for (const row of rows) {
        freed += row.bytes;
        if (used - freed + charge.amount <= charge.limit) {
          fitsAt = row.at + charge.windowMs;
          break;
        }
      }
    }
    return { allowed: false, limit: charge.limit, remaining: Math.max(0, charge.limit - used), resetSeconds: Math.max(1, Math.ceil((fitsAt - at) / 1000)) };
  }

  private chargeBytes(subject: string, at: number, charge: ByteCharge): void {
    this.sql.exec("INSERT INTO byte_charges (subject, at, bytes, expires_at) VALUES (?, ?, ?, ?)", subject, at, charge.amount, at + charge.windowMs);
  }

  /** When the next sweep should run (never sooner than the sweep interval from now), or null when nothing is held. */
  nextSweep(now: number): number | null {
    const earliest = this.sql
      .exec<{ next: number | null }>("SELECT min(expires_at) AS next FROM (SELECT min(expires_at) AS expires_at FROM hits UNION ALL SELECT min(expires_at) FROM byte_charges)")
      .one().next;
    return earliest === null ? null : Math.max(earliest, now + RATE_LOG_SWEEP_INTERVAL_MS);
  }

  /** Deletes rows whose window has passed. */
  sweep(now: number): void {
    this.sql.exec("DELETE FROM hits WHERE expires_at <= ?", now);
    this.sql.exec("DELETE FROM byte_charges WHERE expires_at <= ?", now);
  }

  size(): { hits: number; byteCharges: number } {
    return {
      hits: this.sql.exec<{ n: number }>("SELECT count(*) AS n FROM hits").one().n,
      byteCharges: this.sql.exec<{ n: number }>("SELECT count(*) AS n FROM byte_charges").one().n,
    };
  }
}
