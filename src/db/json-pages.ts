// Reads a page of rows as a single JSON cell. D1 charges per row and per cell it returns (locally ~50 µs per row), so
// bulk readers (exports, archives) let SQLite aggregate the page into one JSON array and parse it in one JSON.parse.
import { preparedWithinLimits } from "./limits";

/** D1 refuses values over 2 MB; a page stops before this many bytes (plus at most one row). */
const PAGE_BYTES = 1_500_000;

/**
 * Runs `innerSql` (which must already order and limit its rows) and returns its rows as arrays of `columns`, in the
 * order of `orderBy`. A page may hold fewer rows than the inner LIMIT when they would exceed ~1.5 MB, so callers page on
 * until a page comes back empty.
 */
export async function jsonPage(
  db: D1Database,
  innerSql: string,
  params: unknown[],
  columns: readonly string[],
  orderBy: readonly string[],
): Promise<unknown[][]> {
  const quoted = (name: string) => `"${name.replace(/"/g, '""')}"`;
  const order = orderBy.map(quoted).join(", ");
  // The rows are json_array texts already: concatenating them is the JSON array, without parsing each row again as
  // json_group_array(json(row)) did (~0.4 µs per row of a 20-column export page in SQLite 3.51).
  const sql = `SELECT '[' || group_concat(row, ',' ORDER BY ${order}) || ']' AS page FROM (
      SELECT row, ${order}, sum(length(row)) OVER (ORDER BY ${order} ROWS UNBOUNDED PRECEDING) - length(row) AS before
      FROM (SELECT json_array(${columns.map(quoted).join(", ")}) AS row, ${order} FROM (${innerSql}))
    ) WHERE before < ?`;
  const row = await preparedWithinLimits(db, sql, [...params, PAGE_BYTES]).first<{ page: string }>();
  return JSON.parse(row?.page ?? "[]") as unknown[][];
}
