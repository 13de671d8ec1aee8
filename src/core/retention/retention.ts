// Retention: raw events older than the cutoff are archived to R2 (NDJSON, plus a checked Parquet copy), the archive is read back once and verified, the day's rollup
// is brought up to date and switched to sketches, and only then are exactly the archived rows deleted. A run that dies or
// overlaps another at any step leaves no row deleted without being in a verified archive.
import { z } from "@hono/zod-openapi";
import { preparedWithinLimits } from "../../db/limits";
import type { Config, CounterRules } from "../../lib/config";
import { ApiError } from "../../lib/errors";
import type { EventRow } from "../ledger/ingest";
import { archiveKey, deleteArchivedRows, verifyArchive, writeDayArchive, type ArchiveManifest } from "./archive";
import { acquireLease, releaseLease, renewLease } from "./maintenance";
import { ParquetEncoder, storeDayParquet } from "./parquet";
import { sealedThrough } from "../integrity/seals";
import { dayOf, dayStart } from "../analytics/periods";
import { GRAINS, purgeDayUsers, rollDay, versionBump } from "../analytics/rollup";

const LEASE_MS = 15 * 60_000;

export const RetentionResultSchema = z
  .object({
    cutoff: z.string().openapi({ description: "Events that occurred before this instant are retired" }),
    dry_run: z.boolean(),
    events: z.number().openapi({ description: "Ledger events older than the cutoff (archived, or that would be)" }),
    archived: z.array(z.string()).openapi({ description: "Archive objects written (or that would be)" }),
    deleted: z.number().openapi({ description: "Ledger rows deleted after their archive was verified" }),
    rollups_deleted: z.number().openapi({ description: "Rollup rows older than ROLLUP_RETENTION_DAYS deleted" }),
  })
  .openapi("RetentionResult");

export type RetentionResult = z.infer<typeof RetentionResultSchema>;

/**
 * Days (ascending) that still hold ledger rows before `cutoff`, found by index seeks rather than a scan. The first seek
 * has no lower bound: ingest refuses dates before 1970, but rows stored before that rule (negative epoch ms) retire too.
 */
async function* daysWithEventsBefore(db: D1Database, cutoff: number): AsyncGenerator<number> {
  let from = Number.MIN_SAFE_INTEGER;
  for (;;) {
    const row = await db
      .prepare("SELECT min(occurred_at) AS first FROM events WHERE occurred_at >= ?1 AND occurred_at < ?2")
      .bind(from, cutoff)
      .first<{ first: number | null }>();
    if (row?.first == null) return;
    const day = dayOf(row.first);
    yield day;
    from = dayStart(day + 1);
  }
}

interface DayRetirement {
  key: string;
  events: number;
  deleted: number;
}

/** A day whose archive is written, read back, verified and copied to Parquet; its rows are not deleted yet. */
interface ArchivedDay {
  manifest: ArchiveManifest;
  /** The ids of the verified object's lines: the only rows the delete may touch. */
  ids: string[];
}

/** Brings the day's rollup up to date, writes its archive, verifies it by one read-back and stores its Parquet copy. */
async function archiveDay(env: Env, day: number, options: { snapshot: number; now: number; counter?: CounterRules }): Promise<ArchivedDay | null> {
  await rollDay(env.DB, day, options.snapshot, options.now, options.counter);
  const manifest = await writeDayArchive(env.BUCKET, env.DB, day);
  if (!manifest) return null;
  // One read-back verifies the object and, from its lines, builds the Parquet copy and the ids to delete (the lines are
  // the bytes this run encoded from ledger rows, as the hash proves, so they need no schema check).
  const ids: string[] = [];
  const parquet = new ParquetEncoder();
  const verified = await verifyArchive(env.BUCKET, manifest, async (lines) => {
    const rows = JSON.parse(`[${lines.join(",")}]`) as EventRow[];
    for (const row of rows) ids.push(row.id);
    await parquet.add(rows);
  });
  if (!verified) throw new Error(`${manifest.key} failed verification after writing; nothing deleted`);
  await storeDayParquet(env.BUCKET, manifest, await parquet.finish());
  return { manifest, ids };
}

/** Purges the archived day's user sets from its rollup, then deletes exactly its archived rows that are sealed and rolled up. */
async function deleteArchivedDay(env: Env, { manifest, ids }: ArchivedDay, now: number): Promise<DayRetirement> {
  const purged = await purgeDayUsers(env.DB, manifest.day, now);
  if (!purged) throw new ApiError("conflict", `The rollup of ${manifest.key} changed during retention; nothing deleted`);
  // Rows not sealed yet stay in D1 (they are in the archive too) until a later run: a window is sealed from D1, so a row
  // retired before its seal would be missing from it.
  const sealedTo = await sealedThrough(env.DB);
  const deleted = await deleteArchivedRows(env.DB, ids, manifest, sealedTo === null ? purged.rolled_through : Math.min(purged.rolled_through, sealedTo - 1));
  return { key: manifest.key, events: manifest.fromLedger, deleted };
}

/** Archives, verifies, purges the rollup's user sets and deletes one day; throws before deleting if any step fails. */
export async function retireDay(
  env: Env,
  day: number,
  options: { snapshot: number; now: number; counter?: CounterRules },
): Promise<DayRetirement | null> {
  const archived = await archiveDay(env, day, options);
  return archived && deleteArchivedDay(env, archived, options.now);
}

/** Deletes rollups of days before `beforeDay`, at most 1,000 rows per statement. */
async function pruneRollups(db: D1Database, beforeDay: number): Promise<number> {
  let deleted = 0;
  for (;;) {
    const [rollups, days] = await db.batch([
      preparedWithinLimits(
        db,
        `DELETE FROM event_rollups WHERE rowid IN (SELECT rowid FROM event_rollups WHERE grain IN (${GRAINS.map((grain) => `'${grain}'`).join(", ")}) AND day < ?1 LIMIT 1000)`,
        [beforeDay],
      ),
      preparedWithinLimits(db, "DELETE FROM rollup_days WHERE day IN (SELECT day FROM rollup_days WHERE day < ?1 LIMIT 1000)", [beforeDay]),
      versionBump(db),
    ]);
    const changes = rollups!.meta.changes ?? 0;
    deleted += changes;
    if (changes === 0 && (days!.meta.changes ?? 0) === 0) return deleted;
  }
}

/**
 * Retires every day older than `olderThanDays` whole days (default RETENTION_DAYS). With `dryRun` it only reports what
 * would happen. Refuses with 409 while another retention run holds the lease.
 */
export async function runRetention(
  env: Env,
  config: Config,
  options: { olderThanDays?: number; dryRun?: boolean; now?: number } = {},
): Promise<RetentionResult> {
  const now = options.now ?? Date.now();
  const cutoffDay = dayOf(now) - (options.olderThanDays ?? config.retentionDays);
  const cutoff = dayStart(cutoffDay);
  const result: RetentionResult = { cutoff: new Date(cutoff).toISOString(), dry_run: Boolean(options.dryRun), events: 0, archived: [], deleted: 0, rollups_deleted: 0 };
  if (options.dryRun) {
    const row = await env.DB.prepare("SELECT count(*) AS n FROM events WHERE occurred_at < ?1").bind(cutoff).first<{ n: number }>();
    result.events = row?.n ?? 0;
    for await (const day of daysWithEventsBefore(env.DB, cutoff)) result.archived.push(archiveKey(day));
    return result;
  }
  const lease = await acquireLease(env.DB, "retention", LEASE_MS, now);
  if (!lease) throw new ApiError("conflict", "Another retention run is in progress");
  try {
    const snapshot = now - config.rollupSettleSeconds * 1000;
    // Two days in flight: while D1 deletes one day's rows, the Worker archives the next (encoding, gzip, read-back,
    // Parquet), so the two mostly wait on different things. Days are independent; a failure stops the run after the
    // day being deleted has finished, and every day archived but not deleted is retired again by the next run.
    let deleting: Promise<void> = Promise.resolve();
    const record = (retired: DayRetirement) => {
      result.archived.push(retired.key);
      result.events += retired.events;
      result.deleted += retired.deleted;
    };
    try {
      for await (const day of daysWithEventsBefore(env.DB, cutoff)) {
        const archived = await archiveDay(env, day, { snapshot, now, counter: config.counterRules });
        await deleting;
        if (archived) deleting = deleteArchivedDay(env, archived, now).then(record);
        // Observed by the next `await deleting`; this only keeps a failure from counting as unhandled meanwhile.
        deleting.catch(() => undefined);
        await renewLease(env.DB, lease, LEASE_MS);
      }
    } finally {
      await deleting;
    }
    if (config.rollupRetentionDays > 0)
      result.rollups_deleted = await pruneRollups(env.DB, dayOf(now) - Math.max(config.rollupRetentionDays, config.retentionDays));
  } finally {
    await releaseLease(env.DB, lease);
  }
  return result;
}

