// Durable Object for a shard of the ledger: the download limits of its client IPs, replay and conflict checks, dedup
// windows, refusal counts and durable staging of events, flushed to D1 in batches.
import { DurableObject } from "cloudflare:workers";
import { markRefused, verdictOf, type GuardVerdict } from "../core/ledger/guards";
import { findStored, replayOutcome, storeEvents, type ActorRow, type EventRow, type IngestOutcome, type StoredSummary } from "../core/ledger/ingest";
import { D1_LIMITS } from "../db/limits";
import type { Region } from "../lib/region";
import { RateLog, type ByteDecision, type RateDecision, type RateRequest } from "./rate-log";

export interface StageItem {
  row: EventRow;
  actor: ActorRow | null;
  /** Set for successful downloads: the user's dedup window, the shard that holds it and that shard's region. */
  dedup: { key: string; shard: string; region?: Region } | null;
  /** Set for refusals without a client id: after the first in a window, one client's refusals become a count on one row. */
  denialKey: string | null;
  /** Set for a download staged in its client IP's shard: the download limits are applied here, in the same call. */
  guard?: StageGuard;
}

/** The download limits of an event whose client IP this shard holds. */
export interface StageGuard {
  /** The client IP's attempt (count, and its byte budget when the service serves the bytes). */
  request: RateRequest;
  limit: number;
  windowMs: number;
  /** The user's byte budget, decided before this call by the user's own budget shard. */
  userBudget: ByteDecision | null;
  /** The event's refusal key should the limits refuse it (its repeats become a count). */
  denialKey: string | null;
}

/** An outcome, with the limits' verdict for an event that carried a guard. */
export type StageResult = StageOutcome & { verdict?: GuardVerdict };

/** An event that could not be staged now (staging full, or D1 needed and unreachable): nothing was stored. */
export interface Unavailable {
  status: "unavailable";
  id: string;
  client_id: string | null;
  retryAfterSeconds: number;
  reason: string;
}

export type StageOutcome = IngestOutcome | Unavailable;

export interface StageOptions {
  /** This shard's own name: dedup windows of other shards are asked for by name. */
  shard: string;
  dedupWindowMs: number;
  denialWindowMs: number;
  flushDelayMs: number;
  /** Staging bound: beyond it new events are answered `unavailable` instead of being staged. */
  maxStagedRows: number;
  maxStagedBytes: number;
}

export interface DedupRequest {
  key: string;
  id: string;
  occurredAt: number;
}

const RETRY_AFTER_FAILED_FLUSH_MS = 5_000;
/** Retry-After when staging is full: D1 is (or was) down, and a flush retries every 5 s once it is back. */
export const STAGING_FULL_RETRY_AFTER_SECONDS = 30;
/** Retry-After when a client id cannot be checked against D1. */
const D1_UNREACHABLE_RETRY_AFTER_SECONDS = 5;

/**
 * Every event is written here (SQLite, durable before the request is acknowledged) and reaches D1 when the alarm
 * flushes up to 1,000 staged rows per D1 batch. A flush that dies after D1 committed leaves the rows staged; the next
 * flush inserts them again and D1's `ON CONFLICT(id) DO NOTHING` makes that harmless. Nothing is deleted from staging
 * before D1 has it. Events with a client-chosen id are routed to their id's shard (the same from every region), so that
 * object alone decides whether such an id is new, a replay or a conflict. A regional shard also holds the download limits
 * of the client IPs routed to it, so it limits and stages their downloads in one call.
 */
export class LedgerShard extends DurableObject<Env> {
  private readonly sql: SqlStorage;
  /** Rows and bytes of row JSON in `staged`, kept in memory; counted once when the object starts. */
  private stagedRows: number;
  private stagedBytes: number;
  /**
   * Summaries of rows a flush removed from staging while a `stage` call was waiting on D1 or another shard: without
   * them, an id flushed during that wait would be in neither place that call looks and be taken for a new one.
   */
  private readonly flushWatchers = new Set<Map<string, StoredSummary>>();
  /** Download counts and byte budgets of the client IPs routed to this shard. */
  private readonly rateLog: RateLog;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.rateLog = new RateLog(this.sql);
    this.sql.exec(`CREATE TABLE IF NOT EXISTS staged (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE,
        received_at INTEGER NOT NULL, duplicate_of TEXT, row TEXT NOT NULL, actor TEXT);
      CREATE TABLE IF NOT EXISTS windows (dedup_key TEXT PRIMARY KEY, event_id TEXT NOT NULL, opened_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL);
      CREATE INDEX IF NOT EXISTS windows_expiry ON windows (expires_at);
      CREATE TABLE IF NOT EXISTS denials (denial_key TEXT PRIMARY KEY, window_end INTEGER NOT NULL, held_id TEXT);
      CREATE INDEX IF NOT EXISTS denials_window_end ON denials (window_end);`);
    // Shards created before issue 10 lack the fingerprint and hold columns.
    const columns = new Set(this.sql.exec<{ name: string }>("SELECT name FROM pragma_table_info('staged')").toArray().map((c) => c.name));
    if (!columns.has("content_hash")) this.sql.exec("ALTER TABLE staged ADD COLUMN content_hash TEXT");
    if (!columns.has("hold_until")) this.sql.exec("ALTER TABLE staged ADD COLUMN hold_until INTEGER");
    const size = this.sql.exec<{ rows: number; bytes: number }>("SELECT count(*) AS rows, coalesce(sum(length(row)), 0) AS bytes FROM staged").one();
    this.stagedRows = size.rows;
    this.stagedBytes = size.bytes;
  }

  /** The download limits alone, for downloads staged elsewhere (events with a client id live in their id's shard). */
  async guard(requests: RateRequest[], limit: number, windowMs: number): Promise<RateDecision[]> {
    const decisions = requests.map((request) => this.rateLog.take(request, limit, windowMs));
    const sweep = this.rateLog.nextSweep(Date.now());
    if (sweep !== null) await this.scheduleAlarm(sweep);
    return decisions;
  }

  /**
   * Applies the download limits of guarded items (before anything else, so a refused event opens no dedup window), then
   * decides replay, conflict, dedup and refusal counts for each item, stages the new ones, and schedules a flush.
   */
  async stage(received: StageItem[], options: StageOptions): Promise<StageResult[]> {
    const verdicts = received.map((item) => (item.guard ? verdictOf(this.rateLog.take(item.guard.request, item.guard.limit, item.guard.windowMs), item.guard.userBudget) : null));
    const items = received.map((item, index) => {
      const deniedBy = verdicts[index]?.deniedBy;
      if (!deniedBy) return item;
      const row = { ...item.row };
      markRefused(row, deniedBy);
      return { ...item, row, dedup: null, denialKey: item.guard!.denialKey };
    });
    const flushedMeanwhile = new Map<string, StoredSummary>();
    this.flushWatchers.add(flushedMeanwhile);
    let stored = new Map<string, StoredSummary>();
    let d1Unreachable = false;
    const remoteDuplicates = new Map<number, string | null>();
    try {
      const unknownIds = items.filter((item) => item.row.client_id !== null && !this.stagedSummary(item.row.id)).map((item) => item.row.id);
      try {
        if (unknownIds.length > 0) stored = await findStored(this.env.DB, unknownIds);
      } catch (error) {
        console.error(JSON.stringify({ level: "error", message: "client id lookup failed", error: String(error) }));
        d1Unreachable = true;
      }
      // Windows held by other shards are asked for only for events that are new so far and will fit: a replay must not
      // move a window, and a refused event must not open one.
      const remote = items
        .map((item, index) => ({ item, index }))
        .filter(({ item }) => item.dedup && item.dedup.shard !== options.shard && !this.stagedSummary(item.row.id) && !stored.has(item.row.id));
      if (remote.length > 0 && !d1Unreachable && this.hasRoom(remote.length, 0, options)) await this.askRemoteWindows(remote, options, remoteDuplicates);
    } finally {
      this.flushWatchers.delete(flushedMeanwhile);
    }
    // From here to the return everything is synchronous, so concurrent calls cannot interleave between a decision and
    // the write that records it.
    const now = Date.now();
    const outcomes = items.map((item, index): StageOutcome => {
      const { row } = item;
      if (row.client_id !== null) {
        const known = this.stagedSummary(row.id) ?? flushedMeanwhile.get(row.id) ?? stored.get(row.id);
        if (known) return replayOutcome(row, known);
        if (d1Unreachable) return unavailable(row, D1_UNREACHABLE_RETRY_AFTER_SECONDS, "the ledger database is unreachable, so a client id cannot be checked");
      }
      const denial = item.denialKey ? this.denialPlan(item.denialKey, now, options.denialWindowMs) : null;
      if (denial?.kind === "count") return this.countRefusal(row, denial.heldId);
      const deniedCount = denial?.kind === "hold" ? 1 : row.denied_count;
      let staged = JSON.stringify({ ...row, denied_count: deniedCount });
      if (!this.hasRoom(1, staged.length, options))
        return unavailable(row, STAGING_FULL_RETRY_AFTER_SECONDS, "staging is full because the ledger database is not keeping up");
      if (item.dedup && !remoteDuplicates.has(index) && item.dedup.shard !== options.shard)
        return unavailable(row, D1_UNREACHABLE_RETRY_AFTER_SECONDS, "the user's dedup window could not be consulted");
      const duplicateOf = !item.dedup
        ? null
        : item.dedup.shard === options.shard
          ? this.applyDedupWindow({ key: item.dedup.key, id: row.id, occurredAt: row.occurred_at }, now, options.dedupWindowMs)
          : remoteDuplicates.get(index)!;
      // Serialised again only for the few events the dedup window marks (the room check above came first).
      if (duplicateOf !== row.duplicate_of) staged = JSON.stringify({ ...row, denied_count: deniedCount, duplicate_of: duplicateOf });
      this.sql.exec(
        "INSERT INTO staged (id, received_at, duplicate_of, content_hash, hold_until, row, actor) VALUES (?, ?, ?, ?, ?, ?, ?)",
        row.id,
        row.received_at,
        duplicateOf,
        row.content_hash,
        denial?.kind === "hold" ? denial.until : null,
        staged,
        item.actor ? JSON.stringify(item.actor) : null,
      );
      this.stagedRows += 1;
      this.stagedBytes += staged.length;
      if (denial) this.recordDenial(item.denialKey!, denial, row.id);
      return { status: "stored", id: row.id, client_id: row.client_id, received_at: row.received_at, duplicate_of: duplicateOf };
    });
    await this.scheduleAlarm(now + options.flushDelayMs);
    return outcomes.map((outcome, index) => (verdicts[index] ? { ...outcome, verdict: verdicts[index] } : outcome));
  }

  /** Dedup decisions for events staged in other shards (the user's windows live here). */
  async decideDuplicates(requests: DedupRequest[], windowMs: number): Promise<(string | null)[]> {
    const now = Date.now();
    const decisions = requests.map((request) => this.applyDedupWindow(request, now, windowMs));
    await this.scheduleAlarm(now + 60_000);
    return decisions;
  }

  private async askRemoteWindows(remote: { item: StageItem; index: number }[], options: StageOptions, into: Map<number, string | null>): Promise<void> {
    const byShard = new Map<string, { item: StageItem; index: number }[]>();
    for (const entry of remote) byShard.set(entry.item.dedup!.shard, [...(byShard.get(entry.item.dedup!.shard) ?? []), entry]);
    await Promise.all(
      [...byShard].map(async ([shard, members]) => {
        try {
          const region = members[0]!.item.dedup!.region;
          const decisions = await this.env.LEDGER_SHARD.getByName(shard, region ? { locationHint: region } : {}).decideDuplicates(
            members.map(({ item }) => ({ key: item.dedup!.key, id: item.row.id, occurredAt: item.row.occurred_at })),
            options.dedupWindowMs,
          );
          members.forEach(({ index }, position) => into.set(index, decisions[position]!));
        } catch (error) {
          // Those events are answered `unavailable` below; nothing is stored for them.
          console.error(JSON.stringify({ level: "error", message: "dedup window lookup failed", shard, error: String(error) }));
        }
      }),
    );
  }

  private hasRoom(rows: number, bytes: number, options: StageOptions): boolean {
    return this.stagedRows + rows <= options.maxStagedRows && this.stagedBytes + bytes <= options.maxStagedBytes;
  }

  private stagedSummary(id: string): StoredSummary | undefined {
    return this.sql
      .exec<StoredSummary>("SELECT id, received_at, duplicate_of, content_hash FROM staged WHERE id = ?", id)
      .toArray()[0];
  }

  /**
   * How a refusal is recorded (decided without writing, so a refusal that cannot be staged leaves no trace): the first of
   * a client in a window is its own row ("first"); the second is staged held until the window ends ("hold") and every
   * later one adds 1 to that row's `denied_count` ("count"), so the count is final when the row reaches D1.
   */
  private denialPlan(
    denialKey: string,
    now: number,
    windowMs: number,
  ): { kind: "first"; windowEnd: number } | { kind: "hold"; until: number } | { kind: "count"; heldId: string } {
    const open = this.sql
      .exec<{ window_end: number; held_id: string | null }>("SELECT window_end, held_id FROM denials WHERE denial_key = ?", denialKey)
      .toArray()[0];
    if (!open || open.window_end <= now) return { kind: "first", windowEnd: now + windowMs };
    if (open.held_id && this.stagedSummary(open.held_id)) return { kind: "count", heldId: open.held_id };
    return { kind: "hold", until: open.window_end };
  }

  /** Records a refusal staged as "first" (opens the client's window) or "hold" (the window's counted row). */
  private recordDenial(denialKey: string, plan: { kind: "first"; windowEnd: number } | { kind: "hold"; until: number }, rowId: string): void {
    if (plan.kind === "hold") this.sql.exec("UPDATE denials SET held_id = ? WHERE denial_key = ?", rowId, denialKey);
    else
      this.sql.exec(
        `INSERT INTO denials (denial_key, window_end, held_id) VALUES (?, ?, NULL)
         ON CONFLICT (denial_key) DO UPDATE SET window_end = excluded.window_end, held_id = NULL`,
        denialKey,
        plan.windowEnd,
      );
  }

  private countRefusal(row: EventRow, heldId: string): StageOutcome {
    const held = this.sql
      .exec<{ received_at: number }>(
        "UPDATE staged SET row = json_set(row, '$.denied_count', json_extract(row, '$.denied_count') + 1) WHERE id = ? RETURNING received_at",
        heldId,
      )
      .one();
    return { status: "stored", id: heldId, client_id: row.client_id, received_at: held.received_at, duplicate_of: null };
  }

  /** Returns the counted event this one repeats, or opens a new window with this event as the counted one. */
  private applyDedupWindow(request: DedupRequest, now: number, windowMs: number): string | null {
    const open = this.sql
      .exec<{ event_id: string; opened_at: number }>("SELECT event_id, opened_at FROM windows WHERE dedup_key = ?", request.key)
      .toArray()[0];
    // The counted event itself asking again (a retry after a crash between this decision and its staging) is no repeat.
    if (open && open.event_id === request.id) return null;
    if (open && Math.abs(request.occurredAt - open.opened_at) < windowMs) return open.event_id;
    this.sql.exec(
      `INSERT INTO windows (dedup_key, event_id, opened_at, expires_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (dedup_key) DO UPDATE SET event_id = excluded.event_id, opened_at = excluded.opened_at, expires_at = excluded.expires_at`,
      request.key,
      request.id,
      request.occurredAt,
      now + windowMs,
    );
    return null;
  }

  private async scheduleAlarm(at: number): Promise<void> {
    const current = await this.ctx.storage.getAlarm();
    if (current === null || current > at) await this.ctx.storage.setAlarm(at);
  }

  /**
   * Writes staged events that are due (all but refusal counts whose window is still open at `until`) to D1, oldest
   * first, in chunks of at most 1,000; returns how many reached D1.
   */
  async flush(db: D1Database = this.env.DB, until: number = Date.now()): Promise<number> {
    let flushed = 0;
    for (;;) {
      const rows = this.sql
        .exec<{ seq: number; id: string; received_at: number; duplicate_of: string | null; content_hash: string | null; row: string; actor: string | null }>(
          "SELECT seq, id, received_at, duplicate_of, content_hash, row, actor FROM staged WHERE hold_until IS NULL OR hold_until <= ? ORDER BY seq LIMIT ?",
          until,
          D1_LIMITS.maxRowsPerStatement,
        )
        .toArray();
      if (rows.length === 0) return flushed;
      await storeEvents(
        db,
        rows.map((staged) => ({ row: stagedRow(staged.row), actor: staged.actor ? (JSON.parse(staged.actor) as ActorRow) : null })),
      );
      for (const watcher of this.flushWatchers)
        for (const { id, received_at, duplicate_of, content_hash } of rows) watcher.set(id, { id, received_at, duplicate_of, content_hash });
      // Two flushes can select the same rows while the first waits on D1 (D1 drops the second copy); the count follows
      // only the rows this one actually removed from staging, so the staging bound never drifts.
      const removed = new Set(
        this.sql
          .exec<{ seq: number }>("DELETE FROM staged WHERE seq IN (SELECT value FROM json_each(?)) RETURNING seq", JSON.stringify(rows.map((staged) => staged.seq)))
          .toArray()
          .map(({ seq }) => seq),
      );
      const mine = rows.filter((staged) => removed.has(staged.seq));
      this.stagedRows -= mine.length;
      this.stagedBytes -= mine.reduce((sum, staged) => sum + staged.row.length, 0);
      flushed += mine.length;
    }
  }

  /** Flushes due events and sweeps expired windows; a failed flush is retried, never dropped. */
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
    this.sql.exec("DELETE FROM denials WHERE window_end <= ?", now);
    this.rateLog.sweep(now);
    const next = this.sql
      .exec<{ held: number | null; window_expiry: number | null; denial_expiry: number | null }>(
        `SELECT (SELECT min(hold_until) FROM staged WHERE hold_until IS NOT NULL) AS held,
           (SELECT min(expires_at) FROM windows) AS window_expiry, (SELECT min(window_end) FROM denials) AS denial_expiry`,
      )
      .one();
    // Sweeps run at most once a minute; a held refusal count is flushed as soon as its window ends.
    const sweep = Math.min(next.window_expiry ?? Infinity, next.denial_expiry ?? Infinity, this.rateLog.nextSweep(now) ?? Infinity);
    const at = Math.min(next.held ?? Infinity, sweep === Infinity ? Infinity : Math.max(sweep, now + 60_000));
    if (at !== Infinity) await this.scheduleAlarm(at);
  }

  /** Staged rows (and bytes of them), open windows, refusal windows and download-limit rows, for tests and diagnostics. */
  async stateSize(): Promise<{ staged: number; stagedBytes: number; windows: number; denials: number; hits: number; byteCharges: number }> {
    return {
      ...this.rateLog.size(),
      staged: this.stagedRows,
      stagedBytes: this.stagedBytes,
      windows: this.sql.exec<{ n: number }>("SELECT count(*) AS n FROM windows").one().n,
      denials: this.sql.exec<{ n: number }>("SELECT count(*) AS n FROM denials").one().n,
    };
  }
}

/** A staged row as stored; rows staged before issue 10 lack the ownership columns and are stored as `legacy`. */
function stagedRow(json: string): EventRow {
  return { key_id: "legacy", client_id: null, content_hash: null, denied_count: null, ...(JSON.parse(json) as Partial<EventRow>) } as EventRow;
}

function unavailable(row: EventRow, retryAfterSeconds: number, reason: string): Unavailable {
  return { status: "unavailable", id: row.id, client_id: row.client_id, retryAfterSeconds, reason };
}
