// Writes a day's COUNTER rows beside the event rollups, inside the same atomic batches: a rebuild replaces the day's
// rows, a fold (day whose raw rows were archived) adds late events' counts to them.
import { chunkForJsonParameter, preparedWithinLimits } from "../../db/limits";
import type { CounterRollupRow } from "./tally";

const rollupColumns = [
  "day", "dataset", "access_method", "country", "doi", "resource_type", "resource_id", "title", "total_investigations",
  "unique_investigations", "total_requests", "unique_requests",
] as const satisfies readonly (keyof CounterRollupRow)[];

const rowsFromJson = (guard: string) => `SELECT ${rollupColumns.map((_, index) => `json_extract(value, '$[${index}]')`).join(", ")}
  FROM json_each(?1) WHERE ${guard}`;

/** Guarded SQL conditions use ?2… ; ?1 is always the rows' JSON. */
export interface Guard {
  sql: string;
  params: unknown[];
}

function rowStatements(db: D1Database, rows: CounterRollupRow[], sql: string, guard: Guard): D1PreparedStatement[] {
  return chunkForJsonParameter(rows.map((row) => rollupColumns.map((column) => row[column]))).map((chunk) =>
    preparedWithinLimits(db, sql, [chunk.json, ...guard.params]),
  );
}

/** Statements replacing the day's rows by `rows`, each applying only while `guard` holds (?1 is reserved). */
export function replaceCounterDay(db: D1Database, day: number, rows: CounterRollupRow[], guard: Guard): D1PreparedStatement[] {
  return [
    preparedWithinLimits(db, `DELETE FROM counter_rollups WHERE day = ?1 AND ${guard.sql}`, [day, ...guard.params]),
    ...rowStatements(db, rows, `INSERT INTO counter_rollups (${rollupColumns.join(", ")}) ${rowsFromJson(guard.sql)}`, guard),
  ];
}

/**
 * Statements adding `rows` to the day's rows. Uniques add up as well: a late event's session is counted as new, which is
 * exact unless that session already had events of the same dataset before the day's raw rows were archived.
 */
export function addToCounterDay(db: D1Database, rows: CounterRollupRow[], guard: Guard): D1PreparedStatement[] {
  return rowStatements(
    db,
    rows,
    `INSERT INTO counter_rollups (${rollupColumns.join(", ")}) ${rowsFromJson(guard.sql)}
     ON CONFLICT (day, dataset, access_method, country) DO UPDATE SET
       doi = coalesce(counter_rollups.doi, excluded.doi), resource_type = coalesce(counter_rollups.resource_type, excluded.resource_type),
       resource_id = coalesce(counter_rollups.resource_id, excluded.resource_id), title = coalesce(counter_rollups.title, excluded.title),
       total_investigations = counter_rollups.total_investigations + excluded.total_investigations,
       unique_investigations = counter_rollups.unique_investigations + excluded.unique_investigations,
       total_requests = counter_rollups.total_requests + excluded.total_requests,
       unique_requests = counter_rollups.unique_requests + excluded.unique_requests`,
    guard,
  );
}
