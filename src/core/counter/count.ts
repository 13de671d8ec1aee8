// Reads a day's successful, non-robot COUNTER events from the ledger (with the 30 s after midnight that can decide its
// last double-clicks) and turns them into clicks for DayTally: user keys, access methods, bundles expanded to datasets.
import { jsonPage } from "../../db/json-pages";
import { chunkForJsonParameter, preparedWithinLimits } from "../../db/limits";
import { normaliseDoi } from "../ledger/event-schema";
import { DAY_MS, dayStart } from "../analytics/periods";
import { accessMethodOf, type AccessMethod } from "./classify";
import { countedActions, DOUBLE_CLICK_MS, type CounterRules } from "./rules";
import { DayTally, type Click, type CounterRollupRow, type DatasetRef } from "./tally";

const PAGE_ROWS = 5_000;

const columns = [
  "id", "occurred_at", "action", "resource_type", "resource_id", "doi", "title", "file", "user", "access_method", "user_agent",
  "country", "meta",
] as const;

type Row = [string, number, string, string | null, string | null, string | null, string | null, string | null, string, AccessMethod | null, string | null, string | null, string | null];

/**
 * The COUNTER user key: actor id, else normalised email (both already in `actor_key`), else the portal's session id,
 * else IP + user agent (`user_key` when there is no actor), else the event itself.
 */
const userKeySql = "coalesce(actor_key, 'session:' || session_id, user_key, 'event:' || id)";

/** Bundle events: one request per dataset in the bundle. */
const isBundle = (row: Row) => row[2] === "bundle.download" || row[3] === "bundle";

export interface CountWindow {
  /** Events of the day received in (receivedAfter, receivedThrough]; the 30 s after the day: any received ≤ receivedThrough. */
  receivedAfter: number;
  receivedThrough: number;
}

function parseMeta(meta: string | null): { bundle_id?: unknown; dois?: unknown } {
  if (!meta) return {};
  try {
    const parsed = JSON.parse(meta) as unknown;
    return parsed && typeof parsed === "object" ? (parsed as { bundle_id?: unknown; dois?: unknown }) : {};
  } catch {
    return {};
  }
}

/** The datasets of bundles the service built: each record's DOI, else `dataset:<record id>`. */
async function bundleDatasets(db: D1Database, bundleIds: string[]): Promise<Map<string, DatasetRef[]>> {
  const found = new Map<string, DatasetRef[]>();
  for (const chunk of chunkForJsonParameter(bundleIds)) {
    const { results } = await preparedWithinLimits(
      db,
      `SELECT b.id AS bundle, r.value AS record, records.doi AS doi, records.title AS title
       FROM bundles b, json_each(b.record_ids) r LEFT JOIN records ON records.id = r.value
       WHERE b.id IN (SELECT value FROM json_each(?1))`,
      [chunk.json],
    ).all<{ bundle: string; record: string; doi: string | null; title: string | null }>();
    for (const row of results) {
      const refs = found.get(row.bundle) ?? [];
      refs.push({
        key: row.doi ?? `dataset:${row.record}`,
        doi: row.doi,
        resource_type: "dataset",
        resource_id: row.record,
        title: row.title,
      });
      found.set(row.bundle, refs);
    }
  }
  return found;
}

function datasetOf(row: Row): DatasetRef | null {
  const [, , , type, id, doi, title] = row;
  if (doi) return { key: doi, doi, resource_type: type, resource_id: id, title };
  if (type && id) return { key: `${type}:${id}`, doi: null, resource_type: type, resource_id: id, title };
  return null;
}

/** The datasets one event counts for: a bundle's datasets, else its own resource. */
function datasetsOf(row: Row, bundles: Map<string, DatasetRef[]>): DatasetRef[] {
  if (!isBundle(row)) {
    const own = datasetOf(row);
    return own ? [own] : [];
  }
  const meta = parseMeta(row[12]);
  const built = typeof meta.bundle_id === "string" ? bundles.get(meta.bundle_id) : undefined;
  if (built) return built;
  if (!Array.isArray(meta.dois)) return [];
  const dois = new Set(meta.dois.filter((doi): doi is string => typeof doi === "string").map(normaliseDoi));
  return [...dois].map((doi) => ({ key: doi, doi, resource_type: null, resource_id: null, title: null }));
}

/** A day's COUNTER rows from raw events in `window`. */
export async function countDay(db: D1Database, rules: CounterRules, day: number, window: CountWindow): Promise<CounterRollupRow[]> {
  const start = dayStart(day);
  const end = start + DAY_MS;
  const tally = new DayTally(day, start, end);
  const actions = JSON.stringify(countedActions(rules));
  let after: [number, string] = [start - 1, ""];
  for (;;) {
    const page = (await jsonPage(
      db,
      `SELECT id, occurred_at, action, resource_type, resource_id, doi, title, file, ${userKeySql} AS user, access_method,
         CASE WHEN access_method IS NULL THEN user_agent END AS user_agent, country,
         CASE WHEN action = 'bundle.download' OR resource_type = 'bundle' THEN meta END AS meta
       FROM events
       WHERE occurred_at >= ?1 AND occurred_at <= ?2 AND (occurred_at, id) > (?3, ?4) AND status = 'success'
         AND action IN (SELECT value FROM json_each(?5)) AND coalesce(access_method, '') <> 'robot'
         AND received_at <= ?7 AND (received_at > ?6 OR occurred_at >= ?8)
       ORDER BY occurred_at, id LIMIT ?9`,
      [start, end + DOUBLE_CLICK_MS, after[0], after[1], actions, window.receivedAfter, window.receivedThrough, end, PAGE_ROWS],
      columns,
      ["occurred_at", "id"],
    )) as Row[];
    if (page.length === 0) break;
    const bundleIds = [
      ...new Set(page.filter(isBundle).map((row) => parseMeta(row[12]).bundle_id).filter((id): id is string => typeof id === "string")),
    ];
    const bundles = bundleIds.length > 0 ? await bundleDatasets(db, bundleIds) : new Map<string, DatasetRef[]>();
    for (const row of page) {
      const accessMethod = row[9] ?? accessMethodOf(row[10]);
      if (accessMethod === "robot") continue;
      const request = rules.requestActions.has(row[2]);
      for (const dataset of datasetsOf(row, bundles)) {
        const click: Click = { at: row[1], user: row[8], action: row[2], dataset, file: row[7], request, accessMethod, country: row[11] ?? "" };
        tally.add(click);
      }
    }
    const last = page.at(-1)!;
    after = [last[1], last[0]];
  }
  return tally.finish();
}
