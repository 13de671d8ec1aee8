// Durable Object for a shard of users: dedup windows, idempotent replay and durable staging of events, flushed to D1 in batches.
import { DurableObject } from "cloudflare:workers";
import { findStored, storeEvents, type ActorRow, type EventRow, type StoredSummary } from "../core/ledger/ingest";
import { D1_LIMITS } from "../db/limits";

export interface StageItem {
  row: EventRow;
  actor: ActorRow | null;
  /** The client chose the id, so it may be a replay of an event stored earlier. */
  clientChosenId: boolean;
  /** Set for successful downloads: the same key within the dedup window is a repeat. */
  dedupKey: string | null;
}

export interface StageOutcome {
  id: string;
  received_at: number;
  replayed: boolean;
  duplicate_of: string | null;
}

export interface StageOptions {
  dedupWindowMs: number;
  flushDelayMs: number;
}

const RETRY_AFTER_FAILED_FLUSH_MS = 5_000;

/**
 * Every event is written here (SQLite, durable before the request is acknowledged) and reaches D1 when the alarm
 * flushes up to 1,000 staged rows per D1 batch. A flush that dies after D1 committed leaves the rows staged; the next
 * flush inserts them again and D1's `ON CONFLICT(id) DO NOTHING` makes that harmless. Nothing is deleted from staging
 * before D1 has it.
 */
export class LedgerShard extends DurableObject<Env> {
  private readonly sql: SqlStorage;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.sql.exec(`CREATE TABLE IF NOT EXISTS staged (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE,
        received_at INTEGER NOT NULL, duplicate_of TEXT, row TEXT NOT NULL, actor TEXT);
      CREATE TABLE IF NOT EXISTS windows (dedup_key TEXT PRIMARY KEY, event_id TEXT NOT NULL, opened_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL);
      CREATE INDEX IF NOT EXISTS windows_expiry ON windows (expires_at);`);
  }

  /** Decides replay and dedup for each item, stages the new ones, and schedules a flush. */
  async stage(items: StageItem[], options: StageOptions): Promise<StageOutcome[]> {
    const maybeStoredIds = items.filter((item) => item.clientChosenId && !this.stagedSummary(item.row.id)).map((item) => item.row.id);
    // The only awaited I/O before the decisions: after it, everything up to the return is synchronous, so concurrent
    // calls cannot interleave between a decision and the write that records it.
    const stored = maybeStoredIds.length > 0 ? await findStored(this.env.DB, maybeStoredIds) : new Map<string, StoredSummary>();
    const now = Date.now();
    const outcomes = items.map((item): StageOutcome => {
      // Server-generated ids (UUIDv7) are new by construction; only client-chosen ones can be replays.
      const known = item.clientChosenId ? (this.stagedSummary(item.row.id) ?? stored.get(item.row.id)) : undefined;
      if (known) return { id: known.id, received_at: known.received_at, replayed: true, duplicate_of: known.duplicate_of };
      const row = { ...item.row, duplicate_of: item.dedupKey ? this.applyDedupWindow(item.dedupKey, item.row, now, options.dedupWindowMs) : null };
      this.sql.exec(
        "INSERT INTO staged (id, received_at, duplicate_of, row, actor) VALUES (?, ?, ?, ?, ?)",
        row.id,
        row.received_at,
        row.duplicate_of,
        JSON.stringify(row),
        item.actor ? JSON.stringify(item.actor) : null,
      );
      return { id: row.id, received_at: row.received_at, replayed: false, duplicate_of: row.duplicate_of };
    });
    await this.scheduleAlarm(now + options.flushDelayMs);
    return outcomes;
  }

  private stagedSummary(id: string): StoredSummary | undefined {
    return this.sql
      .exec<{ id: string; received_at: number; duplicate_of: string | null }>("SELECT id, received_at, duplicate_of FROM staged WHERE id = ?", id)
      .toArray()[0];
  }

  /** Returns the counted event this one repeats, or opens a new window with this event as the counted one. */
  private applyDedupWindow(dedupKey: string, row: EventRow, now: number, windowMs: number): string | null {
    const open = this.sql
      .exec<{ event_id: string; opened_at: number }>("SELECT event_id, opened_at FROM windows WHERE dedup_key = ?", dedupKey)
      .toArray()[0];
    if (open && Math.abs(row.occurred_at - open.opened_at) < windowMs) return open.event_id;
    this.sql.exec(
      `INSERT INTO windows (dedup_key, event_id, opened_at, expires_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (dedup_key) DO UPDATE SET event_id = excluded.event_id, opened_at = excluded.opened_at, expires_at = excluded.expires_at`,
      dedupKey,
      row.id,
      row.occurred_at,
      now + windowMs,
    );
    return null;
  }

  private async scheduleAlarm(at: number): Promise<void> {
    const current = await this.ctx.storage.getAlarm();
    if (current === null || current > at) await this.ctx.storage.setAlarm(at);
  }

  /** Writes staged events to D1, oldest first, in chunks of at most 1,000; returns how many reached D1. */
  async flush(db: D1Database = this.env.DB): Promise<number> {
    let flushed = 0;
    for (;;) {
      const rows = this.sql
        .exec<{ seq: number; row: string; actor: string | null }>("SELECT seq, row, actor FROM staged ORDER BY seq LIMIT ?", D1_LIMITS.maxRowsPerStatement)
        .toArray();
      if (rows.length === 0) return flushed;
      await storeEvents(
        db,
        rows.map((staged) => ({ row: JSON.parse(staged.row) as EventRow, actor: staged.actor ? (JSON.parse(staged.actor) as ActorRow) : null })),
      );
      this.sql.exec("DELETE FROM staged WHERE seq <= ?", rows.at(-1)!.seq);
      flushed += rows.length;
    }
  }

  /** Flushes staged events and sweeps expired dedup windows; a failed flush is retried, never dropped. */
  override async alarm(): Promise<void> {
    try {
      await this.flush();
    } catch (error) {
      console.error(JSON.stringify({ level: "error", message: "ledger flush failed; will retry", error: String(error) }));
      await this.ctx.storage.setAlarm(Date.now() + RETRY_AFTER_FAILED_FLUSH_MS);
      return;
    }
    const now = Date.now();
    this.sql.exec("DELETE FROM windows WHERE expires_at <= ?", now);
    const nextExpiry = this.sql.exec<{ next: number | null }>("SELECT min(expires_at) AS next FROM windows").one().next;
    if (nextExpiry !== null) await this.scheduleAlarm(Math.max(nextExpiry, now + 60_000));
  }

  /** Staged rows and open windows, for tests and diagnostics. */
  async stateSize(): Promise<{ staged: number; windows: number }> {
    return {
      staged: this.sql.exec<{ n: number }>("SELECT count(*) AS n FROM staged").one().n,
      windows: this.sql.exec<{ n: number }>("SELECT count(*) AS n FROM windows").one().n,
    };
  }
}
