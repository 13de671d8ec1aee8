// Daily rollups of counted events. A day that still has raw rows is rebuilt from them inside SQLite (INSERT … SELECT …
// Daily rollups of counted events. A day that still has raw rows is rebuilt from them inside SQLite (INSERT … SELECT …
// GROUP BY) unless none of those rows changed since its last rebuild; a day whose raw rows were archived is never rebuilt,
// only folded: late events are added to its rows. Each day records the receipt time its rollup reflects, so stats add
// exactly the raw rows received after it. The day's COUNTER counts (core/counter) are written in the same atomic batches;
// the monthly tier of the resource and organisation rows (event_rollup_months) follows every write to them through
// triggers (migration 0014).
import { chunkForJsonParameter, preparedWithinLimits } from "../../db/limits";
import { HyperLogLog, parseUserHashes, sketchOf, sketchSql } from "./hll";
import { ApiError } from "../../lib/errors";
import type { CounterRollupRow } from "../counter/tally";
import { acquireLease, raiseState, readState, releaseLease } from "../retention/maintenance";
import { DAY_MS, dayOf, dayStart } from "./periods";
import { countDay } from "../counter/count";
import { addToCounterDay, replaceCounterDay } from "../counter/rollup";
import { DEFAULT_COUNTER_RULES, DOUBLE_CLICK_MS, type CounterRules } from "../counter/rules";

export const ROLLUP_WATERMARK = "rollup_watermark";
/** A random value replaced by every write to the rollups, so readers can tell whether what they cached is still current. */
export const ROLLUP_VERSION = "rollup_version";
const LEASE_MS = 10 * 60_000;

export type Grain = "all" | "organisation" | "resource" | "cube" | "country";
export const GRAINS: readonly Grain[] = ["all", "organisation", "resource", "cube", "country"];
const grainList = GRAINS.map((grain) => `'${grain}'`).join(", ");

const grainDimensions: Record<Grain, { resource: boolean; organisation: boolean; country: boolean }> = {
  all: { resource: false, organisation: false, country: false },
  organisation: { resource: false, organisation: true, country: false },
  resource: { resource: true, organisation: false, country: false },
  cube: { resource: true, organisation: true, country: false },
  country: { resource: false, organisation: false, country: true },
};

/** Events stored before COUNTER classification have no access method; statistics count them as `regular`. */
export const ACCESS_METHOD_SQL = "coalesce(access_method, 'regular')";

/** The grain that holds every dimension a question filters or groups by. */
export function grainFor(needs: { resource: boolean; organisation: boolean }): Grain {
  if (needs.resource && needs.organisation) return "cube";
  if (needs.resource) return "resource";
  return needs.organisation ? "organisation" : "all";
}

export interface RollupRow {
  grain: Grain;
  day: number;
  action: string;
  status: "success" | "failure";
  access_method: string;
  country: string;
  resource_type: string;
  resource_id: string;
  organisation: string;
  events: number;
  bytes: number;
  first_at: number;
  last_at: number;
  doi: string | null;
  title: string | null;
  users: string | null;
  sketch: string | null;
}

const rollupColumns = [
  "grain", "day", "action", "status", "access_method", "country", "resource_type", "resource_id", "organisation", "events", "bytes",
  "first_at", "last_at", "doi", "title", "users", "sketch",
] as const satisfies readonly (keyof RollupRow)[];

/** A day's rows are never rebuilt over a newer rollup of it, nor over one whose raw rows are gone. */
const rebuildAllowed = (day: string, snapshot: string) =>
  `NOT EXISTS (SELECT 1 FROM rollup_days WHERE day = ${day} AND (rolled_through > ${snapshot} OR purged_at IS NOT NULL))`;

/**
 * The day's counted events (?1 day, ?2–?3 its bounds) received in (?4, ?5], grouped at one grain. `users` is the set of
 * 52-bit hashes of successful users, as comma-separated hex; `sketch` the HyperLogLog of the same users (hll.ts: sketchSql),
 * so that estimated statistics never parse user sets.
 */
function groupedDaySql(grain: Grain, condition = "true"): string {
  const { resource, organisation, country } = grainDimensions[grain];
  const resourceType = resource ? "coalesce(resource_type, '')" : "''";
  const resourceId = resource ? "coalesce(resource_id, '')" : "''";
  const organisationColumn = organisation ? "coalesce(organisation, '')" : "''";
  const countryColumn = country ? "coalesce(country, '')" : "''";
  const dimensions = [ACCESS_METHOD_SQL, ...(country ? [countryColumn] : []), ...(resource ? [resourceType, resourceId] : []), ...(organisation ? [organisationColumn] : [])];
  const keyColumns = `${ACCESS_METHOD_SQL} AS access_method, ${countryColumn} AS country, ${resourceType} AS resource_type, ${resourceId} AS resource_id,
    ${organisationColumn} AS organisation`;
  const counted = `FROM events
  WHERE occurred_at >= ?2 AND occurred_at < ?3 AND received_at > ?4 AND received_at <= ?5
    AND duplicate_of IS NULL AND status IN ('success', 'failure') AND ${condition}`;
  const groups = `SELECT '${grain}' AS grain, ?1 AS day, action, status, ${keyColumns}, count(*) AS events, sum(coalesce(bytes, 0)) AS bytes,
    min(occurred_at) AS first_at, max(occurred_at) AS last_at, ${resource ? "max(doi)" : "NULL"} AS doi, ${resource ? "max(title)" : "NULL"} AS title,
    group_concat(DISTINCT CASE WHEN status = 'success' THEN substr(user_key, 1, 13) END) AS users
  ${counted}
  GROUP BY ${["action", "status", ...dimensions].join(", ")}`;
  const registers = `SELECT action, ${keyColumns}, ${sketchSql.register("user_key")} AS register, max(${sketchSql.rank("user_key")}) AS rank
  ${counted} AND status = 'success' AND user_key IS NOT NULL
  GROUP BY ${["action", ...dimensions, sketchSql.register("user_key")].join(", ")}`;
  const sketches = `SELECT action, access_method, country, resource_type, resource_id, organisation, ${sketchSql.aggregate("register", "rank")} AS sketch
  FROM (${registers}) GROUP BY action, access_method, country, resource_type, resource_id, organisation`;
  return `SELECT ${rollupColumns.map((column) => (column === "sketch" ? "s.sketch" : `g.${column}`)).join(", ")}
  FROM (${groups}) AS g LEFT JOIN (${sketches}) AS s ON g.status = 'success' AND s.action = g.action AND s.access_method = g.access_method
    AND s.country = g.country AND s.resource_type = g.resource_type AND s.resource_id = g.resource_id AND s.organisation = g.organisation`;
}

const upsertRollupsSql = (guard: string) => `INSERT INTO event_rollups (${rollupColumns.join(", ")})
SELECT ${rollupColumns.map((_, index) => `json_extract(value, '$[${index}]')`).join(", ")} FROM json_each(?1) WHERE ${guard}
ON CONFLICT (grain, day, action, status, access_method, country, resource_type, resource_id, organisation) DO UPDATE SET
  events = excluded.events, bytes = excluded.bytes, first_at = excluded.first_at, last_at = excluded.last_at,
  doi = excluded.doi, title = excluded.title, users = excluded.users, sketch = excluded.sketch`;

interface DayState {
  rolled_through: number;
  rolled_at: number;
  purged_at: number | null;
  raw_rows: number | null;
}

export async function dayState(db: D1Database, day: number): Promise<DayState | null> {
  return db.prepare("SELECT rolled_through, rolled_at, purged_at, raw_rows FROM rollup_days WHERE day = ?1").bind(day).first<DayState>();
}

/**
 * How many ledger rows a rebuild of the day at receipt time `through` (an SQL expression) reads: its own rows and those of
 * the 30 s after it (COUNTER double-clicks, counter/count.ts), received in (-1, through]. Counted from the covering index
 * `event_rows_occurred` alone (it holds the primary key's received_at; both columns are stored as they are): through the
 * view the planner walks the receipt order instead, ~80× slower.
 */
const rawRowsSql = (day: number, through: string) =>
  `(SELECT count(*) FROM event_rows WHERE occurred_at >= ${dayStart(day)} AND occurred_at <= ${dayStart(day) + DAY_MS + DOUBLE_CLICK_MS}
     AND +received_at > -1 AND +received_at <= ${through})`;

async function rebuildDay(db: D1Database, day: number, snapshot: number, now: number, rules: CounterRules): Promise<void> {
  const params = [day, dayStart(day), dayStart(day) + DAY_MS, -1, snapshot];
  const counter = await countDay(db, rules, day, { receivedAfter: -1, receivedThrough: snapshot });
  await db.batch([
    preparedWithinLimits(db, `DELETE FROM event_rollups WHERE grain IN (${grainList}) AND day = ?1 AND ${rebuildAllowed("?1", "?2")}`, [day, snapshot]),
    ...GRAINS.map((grain) =>
      preparedWithinLimits(db, `INSERT INTO event_rollups (${rollupColumns.join(", ")}) ${groupedDaySql(grain, rebuildAllowed("?1", "?5"))}`, params),
    ),
    ...replaceCounterDay(db, day, counter, { sql: rebuildAllowed("?2", "?3"), params: [day, snapshot] }),
    preparedWithinLimits(
      db,
      `INSERT INTO rollup_days (day, rolled_through, rolled_at, raw_rows) VALUES (?1, ?2, ?3, ${rawRowsSql(day, "?2")})
       ON CONFLICT(day) DO UPDATE SET rolled_through = excluded.rolled_through, rolled_at = excluded.rolled_at, raw_rows = excluded.raw_rows
       WHERE rollup_days.rolled_through <= excluded.rolled_through AND rollup_days.purged_at IS NULL`,
      [day, snapshot, now],
    ),
    versionBump(db),
  ]);
}

/** The statement that marks the rollups as changed; part of every batch that writes them. */
export function versionBump(db: D1Database): D1PreparedStatement {
  return db
    .prepare("INSERT INTO maintenance_state (name, value) VALUES (?1, ?2) ON CONFLICT(name) DO UPDATE SET value = excluded.value")
    .bind(ROLLUP_VERSION, Math.floor(Math.random() * Number.MAX_SAFE_INTEGER));
}

const rowKey = (row: RollupRow) =>
  JSON.stringify([row.grain, row.action, row.status, row.access_method, row.country, row.resource_type, row.resource_id, row.organisation]);

async function readDayRollups(db: D1Database, day: number, condition = "true"): Promise<RollupRow[]> {
  const { results } = await db
    .prepare(`SELECT ${rollupColumns.join(", ")} FROM event_rollups WHERE grain IN (${grainList}) AND day = ?1 AND ${condition}`)
    .bind(day)
    .all<RollupRow>();
  return results;
}

/** Writes whole rollup rows of a day and moves its state, all in one atomic batch that applies only if the state is unchanged. */
async function replaceDayRows(
  db: D1Database,
  day: number,
  expected: DayState,
  rows: RollupRow[],
  stateUpdate: { sql: string; params: unknown[] },
  counterRows: CounterRollupRow[] = [],
) {
  const guard = `EXISTS (SELECT 1 FROM rollup_days WHERE day = ?2 AND rolled_through = ?3 AND purged_at IS ${expected.purged_at === null ? "NULL" : "NOT NULL"})`;
  const statements = chunkForJsonParameter(rows.map((row) => rollupColumns.map((column) => row[column]))).map((chunk) =>
    preparedWithinLimits(db, upsertRollupsSql(guard), [chunk.json, day, expected.rolled_through]),
  );
  statements.push(...addToCounterDay(db, counterRows, { sql: guard, params: [day, expected.rolled_through] }));
  statements.push(preparedWithinLimits(db, stateUpdate.sql, stateUpdate.params), versionBump(db));
  await db.batch(statements);
}

/** Adds events received in (rolled_through, snapshot] to the rollups of a day whose raw rows were archived. */
async function foldDay(db: D1Database, day: number, state: DayState, snapshot: number, now: number, rules: CounterRules): Promise<void> {
  const params = [day, dayStart(day), dayStart(day) + DAY_MS, state.rolled_through, snapshot];
  const counter = await countDay(db, rules, day, { receivedAfter: state.rolled_through, receivedThrough: snapshot });
  const late = (await db.batch<RollupRow>(GRAINS.map((grain) => preparedWithinLimits(db, groupedDaySql(grain), params)))).flatMap(
    (result) => result.results,
  );
  const merged = new Map<string, RollupRow>();
  if (late.length > 0) for (const row of await readDayRollups(db, day)) merged.set(rowKey(row), row);
  const changed: RollupRow[] = [];
  for (const addition of late) {
    const existing = merged.get(rowKey(addition));
    const sketch = existing?.sketch ? HyperLogLog.deserialise(existing.sketch) : HyperLogLog.of(parseUserHashes(existing?.users ?? null));
    for (const hash of parseUserHashes(addition.users)) sketch.add(hash);
    const max = (a: string | null | undefined, b: string | null) => (a == null ? b : b == null || a > b ? a : b);
    changed.push({
      ...addition,
      events: (existing?.events ?? 0) + addition.events,
      bytes: (existing?.bytes ?? 0) + addition.bytes,
      first_at: Math.min(existing?.first_at ?? Infinity, addition.first_at),
      last_at: Math.max(existing?.last_at ?? -Infinity, addition.last_at),
      doi: max(existing?.doi, addition.doi),
      title: max(existing?.title, addition.title),
      users: null,
      sketch: addition.status === "success" ? sketch.serialise() : null,
    });
  }
  await replaceDayRows(
    db,
    day,
    state,
    changed,
    { sql: "UPDATE rollup_days SET rolled_through = ?1, rolled_at = ?2 WHERE day = ?3 AND rolled_through = ?4", params: [snapshot, now, day, state.rolled_through] },
    counter,
  );
}

/**
 * Moves an unpurged day's rollup to `snapshot` without rebuilding it when a rebuild would read exactly the rows it was
 * built from: the count of rows it would read now equals `raw_rows`. Before a day is purged its rows are only ever added,
 * so an equal count means that no row arrived since, neither received after `rolled_through` nor flushed late with an
 * earlier receipt time. Check and move are one statement (atomic); false when the count differs or the state moved.
 */
async function raiseIfCurrent(db: D1Database, day: number, state: DayState, snapshot: number, now: number): Promise<boolean> {
  if (state.raw_rows === null || state.purged_at !== null) return false;
  const result = await preparedWithinLimits(
    db,
    `UPDATE rollup_days SET rolled_through = ?1, rolled_at = ?2
     WHERE day = ?3 AND rolled_through = ?4 AND purged_at IS NULL AND raw_rows = ${rawRowsSql(day, "?1")}`,
    [snapshot, now, day, state.rolled_through],
  ).run();
  return (result.meta.changes ?? 0) === 1;
}

export type DayOutcome = "rebuilt" | "folded" | "current";

/**
 * Brings one day's rollup up to `snapshot` (a receipt time): rebuild while raw rows exist (or only move its receipt time
 * when none of them changed, unless `force`: an operator's rebuild, e.g. after the COUNTER rules changed), fold afterwards.
 */
export async function rollDay(
  db: D1Database,
  day: number,
  snapshot: number,
  now = Date.now(),
  rules: CounterRules = DEFAULT_COUNTER_RULES,
  { force = false } = {},
): Promise<DayOutcome> {
  const state = await dayState(db, day);
  if (state && state.rolled_through > snapshot) return "current";
  if (state?.purged_at != null) {
    await foldDay(db, day, state, snapshot, now, rules);
    return "folded";
  }
  if (state && !force && (await raiseIfCurrent(db, day, state, snapshot, now))) return "current";
  await rebuildDay(db, day, snapshot, now, rules);
  return "rebuilt";
}

/**
 * Drops a day's exact user sets, keeping the HyperLogLog sketches stored beside them (computing the sketch first for rows
 * written before sketches were stored with every row), and marks the day purged, atomically. Must happen before any of the
 * day's raw rows is deleted: from then on the day is only ever folded. Returns the state the purge applies to, or null
 * when the day changed meanwhile (the caller must then not delete anything).
 */
export async function purgeDayUsers(db: D1Database, day: number, now = Date.now()): Promise<DayState | null> {
  const state = await dayState(db, day);
  if (!state) return null;
  if (state.purged_at !== null) return state;
  const { results } = await db
    .prepare(`SELECT rowid AS row, users FROM event_rollups WHERE grain IN (${grainList}) AND day = ?1 AND users IS NOT NULL AND sketch IS NULL`)
    .bind(day)
    .all<{ row: number; users: string }>();
  // Any rebuild since the read changes rolled_at (and the rows' rowids): then nothing here applies.
  const guard = "EXISTS (SELECT 1 FROM rollup_days WHERE day = ?2 AND rolled_through = ?3 AND rolled_at = ?4 AND purged_at IS NULL)";
  const statements = chunkForJsonParameter(results.map((row) => [row.row, sketchOf(parseUserHashes(row.users))])).map((chunk) =>
    preparedWithinLimits(
      db,
      `UPDATE event_rollups SET sketch = json_extract(sketches.value, '$[1]')
       FROM json_each(?1) AS sketches
       WHERE event_rollups.rowid = json_extract(sketches.value, '$[0]') AND event_rollups.day = ?2 AND ${guard}`,
      [chunk.json, day, state.rolled_through, state.rolled_at],
    ),
  );
  statements.push(
    preparedWithinLimits(db, `UPDATE event_rollups SET users = NULL WHERE grain IN (${grainList}) AND day = ?1 AND users IS NOT NULL AND ${guard}`, [
      day,
      day,
      state.rolled_through,
      state.rolled_at,
    ]),
    preparedWithinLimits(db, "UPDATE rollup_days SET purged_at = ?1 WHERE day = ?2 AND rolled_through = ?3 AND rolled_at = ?4 AND purged_at IS NULL", [
      now,
      day,
      state.rolled_through,
      state.rolled_at,
    ]),
    versionBump(db),
  );
  await db.batch(statements);
  const after = await dayState(db, day);
  return after && after.purged_at !== null && after.rolled_through === state.rolled_through && after.rolled_at === state.rolled_at ? after : null;
}

/** Rows per run of the sketch backfill: one D1 read of at most this many rows and a few statements writing their sketches. */
export const SKETCH_BACKFILL_ROWS = 5_000;
/** The rowid up to which the backfill has looked at rollup rows. */
const SKETCH_BACKFILL_CURSOR = "sketch_backfill_cursor";

/**
 * Stores the HyperLogLog sketch of success rows written before sketches were stored with every row (their `users` set is
 * still there), walking the rollups by rowid, at most `limit` rows per call. Rows written since always carry a sketch and
 * are only stepped over; estimated statistics fall back to a row's user set while its sketch is missing, and the sketch
 * holds exactly the registers that fallback builds, so no answer changes as the backfill proceeds.
 */
export async function backfillSketches(db: D1Database, limit = SKETCH_BACKFILL_ROWS): Promise<{ scanned: number; filled: number; cursor: number }> {
  const cursor = (await readState(db, SKETCH_BACKFILL_CURSOR)) ?? 0;
  const { results } = await db
    .prepare(`SELECT rowid AS row, CASE WHEN sketch IS NULL AND status = 'success' THEN users END AS users FROM event_rollups WHERE rowid > ?1 ORDER BY rowid LIMIT ?2`)
    .bind(cursor, limit)
    .all<{ row: number; users: string | null }>();
  if (results.length === 0) return { scanned: 0, filled: 0, cursor };
  const missing = results.filter((row) => row.users !== null);
  const statements = chunkForJsonParameter(missing.map((row) => [row.row, sketchOf(parseUserHashes(row.users))])).map((chunk) =>
    preparedWithinLimits(
      db,
      `UPDATE event_rollups SET sketch = json_extract(sketches.value, '$[1]')
       FROM json_each(?1) AS sketches
       WHERE event_rollups.rowid = json_extract(sketches.value, '$[0]') AND event_rollups.sketch IS NULL AND event_rollups.users IS NOT NULL`,
      [chunk.json],
    ),
  );
  const next = results[results.length - 1]!.row;
  await db.batch([
    ...statements,
    preparedWithinLimits(
      db,
      "INSERT INTO maintenance_state (name, value) VALUES (?1, ?2) ON CONFLICT(name) DO UPDATE SET value = max(maintenance_state.value, excluded.value)",
      [SKETCH_BACKFILL_CURSOR, next],
    ),
  ]);
  return { scanned: results.length, filled: missing.length, cursor: next };
}

export interface RollupRun {
  watermark: number;
  days: number;
  rebuilt: number;
  folded: number;
}

async function distinctDays(db: D1Database, sql: string, params: unknown[]): Promise<number[]> {
  const { results } = await preparedWithinLimits(db, sql, params).all<{ day: number }>();
  return results.map((row) => row.day);
}

async function rollDays(
  db: D1Database,
  days: Iterable<number>,
  snapshot: number,
  now: number,
  rules: CounterRules,
  options: { force?: boolean } = {},
): Promise<Omit<RollupRun, "watermark">> {
  const summary = { days: 0, rebuilt: 0, folded: 0 };
  for (const day of [...new Set(days)].sort((a, b) => a - b)) {
    const outcome = await rollDay(db, day, snapshot, now, rules, options);
    summary.days++;
    if (outcome === "rebuilt") summary.rebuilt++;
    if (outcome === "folded") summary.folded++;
  }
  return summary;
}

/**
 * The cron run (one at a time, by lease): rolls every day that received events since the last watermark (the open day
 * included, so that statistics read from raw rows only what arrived after the run), and the days that closed since, up to
 * `now − settleMs` (events still being flushed from the ingest shards get that long to reach D1), then raises the
 * watermark. A run that dies leaves the watermark where it was, so the next run redoes its days.
 */
export interface RollupOptions {
  now?: number;
  settleMs: number;
  /** COUNTER_REQUEST_ACTIONS / COUNTER_INVESTIGATION_ACTIONS; the defaults when absent. */
  counter?: CounterRules;
}

export async function runRollup(db: D1Database, options: RollupOptions): Promise<RollupRun> {
  const now = options.now ?? Date.now();
  const lease = await acquireLease(db, "rollup", LEASE_MS, now);
  if (!lease) throw new ApiError("conflict", "Another rollup run is in progress");
  try {
    return await rollUpSinceWatermark(db, now, options.settleMs, options.counter ?? DEFAULT_COUNTER_RULES);
  } finally {
    await releaseLease(db, lease);
  }
}

async function rollUpSinceWatermark(db: D1Database, now: number, settleMs: number, rules: CounterRules): Promise<RollupRun> {
  const previous = (await readState(db, ROLLUP_WATERMARK)) ?? 0;
  const snapshot = now - settleMs;
  if (snapshot <= previous) return { watermark: previous, days: 0, rebuilt: 0, folded: 0 };
  const closedBefore = dayStart(dayOf(snapshot));
  const rolledBefore = dayStart(dayOf(snapshot) + 1);
  // An event in the first 30 s of a day can make the previous day's last click a COUNTER double-click: it touches both.
  const touched = await distinctDays(
    db,
    `SELECT DISTINCT day FROM (SELECT occurred_at / 86400000 AS day FROM events WHERE received_at > ?1 AND received_at <= ?2 AND occurred_at < ?3
       UNION SELECT late.occurred_at / 86400000 - 1 FROM events AS late
       WHERE late.received_at > ?1 AND late.received_at <= ?2 AND late.occurred_at < ?3 + ${DOUBLE_CLICK_MS} AND late.occurred_at % 86400000 <= ${DOUBLE_CLICK_MS}
         AND EXISTS (SELECT 1 FROM events AS before WHERE before.occurred_at >= late.occurred_at - ${DOUBLE_CLICK_MS}
           AND before.occurred_at < late.occurred_at - late.occurred_at % 86400000))
     WHERE day < ?3 / 86400000`,
    [previous, snapshot, rolledBefore],
  );
  const newlyClosed =
    previous === 0
      ? []
      : await distinctDays(db, "SELECT DISTINCT occurred_at / 86400000 AS day FROM events WHERE occurred_at >= ?1 AND occurred_at < ?2", [
          dayStart(dayOf(previous)),
          closedBefore,
        ]);
  const summary = await rollDays(db, [...touched, ...newlyClosed], snapshot, now, rules);
  await raiseState(db, ROLLUP_WATERMARK, snapshot);
  return { watermark: snapshot, ...summary };
}

/**
 * Rebuilds (or, for archived days, folds) every closed day in [fromDay, toDay) that has events or rollups; a day whose
 * ledger rows did not change since its last rebuild only moves its receipt time unless `force`.
 */
export async function rebuildDays(
  db: D1Database,
  fromDay: number,
  toDay: number,
  options: RollupOptions & { force?: boolean },
): Promise<Omit<RollupRun, "watermark"> & { snapshot: number }> {
  const now = options.now ?? Date.now();
  const snapshot = now - options.settleMs;
  const end = Math.min(toDay, dayOf(snapshot));
  if (end <= fromDay) return { snapshot, days: 0, rebuilt: 0, folded: 0 };
  const [withEvents, withRollups] = await Promise.all([
    distinctDays(db, "SELECT DISTINCT occurred_at / 86400000 AS day FROM events WHERE occurred_at >= ?1 AND occurred_at < ?2", [
      dayStart(fromDay),
      dayStart(end),
    ]),
    distinctDays(db, "SELECT day FROM rollup_days WHERE day >= ?1 AND day < ?2", [fromDay, end]),
  ]);
  return { snapshot, ...(await rollDays(db, [...withEvents, ...withRollups], snapshot, now, options.counter ?? DEFAULT_COUNTER_RULES, { force: options.force })) };
}
