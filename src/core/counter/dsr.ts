// COUNTER Dataset Report (DSR, release rd1) from the daily COUNTER rollups, in the SUSHI form DataCite receives:
// {"report-header": {...}, "report-datasets": [...]}. Datasets are read and written a page at a time, so a report of any
// size streams in bounded memory.
import { z } from "@hono/zod-openapi";
import { chunkForJsonParameter, preparedWithinLimits } from "../../db/limits";
import type { Config } from "../../lib/config";
import { ApiError } from "../../lib/errors";
import { dayLabel, dayOf, dayStart } from "../analytics/periods";
import { ROLLUP_WATERMARK } from "../analytics/rollup";
import { readState } from "../retention/maintenance";
import { normaliseDoi } from "../ledger/event-schema";
import { countDay } from "./count";
import { ALL_COUNTRIES, type CountedAccessMethod, type CounterRollupRow } from "./tally";

const DATASETS_PER_PAGE = 1_000;

const monthOrDay = z
  .string()
  .regex(/^\d{4}-\d{2}(-\d{2})?$/, "must be YYYY-MM or YYYY-MM-DD")
  .refine((value) => {
    const [year, month, day = "01"] = value.split("-");
    const date = new Date(Date.UTC(Number(year), Number(month) - 1, Number(day)));
    // A value that is no date at all (found by the security suite's fuzzer: it threw, answering 500).
    if (Number.isNaN(date.getTime())) return false;
    return date.toISOString().slice(0, value.length === 7 ? 7 : 10) === value;
  }, "is not a calendar date");

export const DsrQuerySchema = z.object({
  begin_date: monthOrDay.openapi({ description: "First month (YYYY-MM) or day (YYYY-MM-DD), UTC", example: "2026-10" }),
  end_date: monthOrDay.openapi({ description: "Last month (its last day) or day, inclusive, UTC", example: "2026-10" }),
  dataset_id: z.string().trim().min(1).max(300).optional().openapi({ description: "A DOI, or `type:id` for a dataset without one" }),
  platform: z.string().trim().min(1).max(200).optional().openapi({ description: "Only this platform (COUNTER_PLATFORM)" }),
});

export type DsrQuery = z.infer<typeof DsrQuerySchema>;

export interface DsrPeriod {
  /** First and last day (inclusive), as day numbers. */
  firstDay: number;
  lastDay: number;
}

/** The inclusive day range of a DSR request; a month as end date means its last day. */
export function dsrPeriod(query: Pick<DsrQuery, "begin_date" | "end_date">): DsrPeriod {
  const firstDay = dayOf(Date.parse(query.begin_date.length === 7 ? `${query.begin_date}-01` : query.begin_date));
  const end = query.end_date;
  const lastDay =
    end.length === 7 ? dayOf(Date.UTC(Number(end.slice(0, 4)), Number(end.slice(5, 7)), 1)) - 1 : dayOf(Date.parse(end));
  if (lastDay < firstDay)
    throw new ApiError("invalid_request", "end_date is before begin_date", { details: [{ path: "end_date", message: "must not be before begin_date" }] });
  if (lastDay - firstDay > 3 * 366)
    throw new ApiError("invalid_request", "A DSR covers at most three years", { details: [{ path: "end_date", message: "at most three years after begin_date" }] });
  return { firstDay, lastDay };
}

/** A dataset's key as the rollups hold it: a normalised DOI, else `type:id`. */
export function datasetKey(value: string): string {
  const doi = normaliseDoi(value);
  return /^10\.\d{4,9}\/\S+$/.test(doi) ? doi : value;
}

const METRICS = [
  ["total-dataset-investigations", "ti"],
  ["unique-dataset-investigations", "ui"],
  ["total-dataset-requests", "tr"],
  ["unique-dataset-requests", "ur"],
] as const;

interface Aggregate {
  dataset: string;
  month: string;
  access_method: CountedAccessMethod;
  country: string;
  ti: number;
  ui: number;
  tr: number;
  ur: number;
  doi: string | null;
  resource_type: string | null;
  resource_id: string | null;
  title: string | null;
}

interface CatalogEntry {
  id: string;
  doi: string | null;
  title: string;
  year: number | null;
}

export interface DsrInstance {
  "access-method": CountedAccessMethod;
  "metric-type": (typeof METRICS)[number][0];
  count: number;
  "country-counts"?: Record<string, number>;
}

export interface DsrDataset {
  "dataset-title": string;
  "dataset-id": { type: "doi" | "proprietary" | "uri"; value: string }[];
  platform: string;
  publisher: string;
  "publisher-id": { type: string; value: string }[];
  "data-type": "dataset";
  yop?: string;
  performance: { period: { "begin-date": string; "end-date": string }; instance: DsrInstance[] }[];
}

export interface DsrHeader {
  "report-name": "dataset report";
  "report-id": "dsr";
  release: "rd1";
  created: string;
  "created-by": string;
  "reporting-period": { "begin-date": string; "end-date": string };
  "report-filters": { name: string; value: string }[];
  "report-attributes": { name: string; value: string }[];
  exceptions: { code: number; severity: string; message: string; data: string }[];
}

/**
 * Days of the period whose rollups are behind their raw rows, counted now from raw rows so that the report is exact up to
 * the moment it is made: days never rolled up (from the watermark's day on, e.g. today), and days with events received
 * after their rollup (found through the receipt index past the watermark). Days whose raw rows were archived are left
 * to the cron's fold.
 */
export async function liveCounterRows(db: D1Database, config: Config, period: DsrPeriod, now: number): Promise<Live> {
  const watermark = (await readState(db, ROLLUP_WATERMARK)) ?? 0;
  const unrolledFrom = dayStart(Math.max(period.firstDay, dayOf(watermark)));
  const periodEnd = dayStart(period.lastDay + 1);
  const { results } = await preparedWithinLimits(
    db,
    `SELECT occurred_at / 86400000 AS day FROM events
     WHERE received_at > ?1 AND received_at <= ?4 AND +occurred_at >= ?2 AND +occurred_at < ?3
       AND received_at > coalesce((SELECT rolled_through FROM rollup_days WHERE rollup_days.day = events.occurred_at / 86400000), -1)
       AND NOT EXISTS (SELECT 1 FROM rollup_days WHERE rollup_days.day = events.occurred_at / 86400000 AND purged_at IS NOT NULL)
     UNION SELECT candidate.day FROM (SELECT DISTINCT occurred_at / 86400000 AS day FROM events WHERE occurred_at >= ?5 AND occurred_at < ?3 AND received_at <= ?4) AS candidate
       WHERE NOT EXISTS (SELECT 1 FROM rollup_days WHERE rollup_days.day = candidate.day)
     ORDER BY day`,
    [watermark, dayStart(period.firstDay), periodEnd, now, unrolledFrom],
  ).all<{ day: number }>();
  const days: number[] = [];
  const rows: CounterRollupRow[] = [];
  for (const { day } of results) {
    const counted = await countDay(db, config.counterRules, day, { receivedAfter: -1, receivedThrough: now });
    if (rows.length + counted.length > LIVE_ROWS_MAX) break;
    days.push(day);
    rows.push(...counted);
  }
  return { days, rows, datasets: [...new Set(rows.map((row) => row.dataset))].sort() };
}

/** Live counting keeps at most this many rows in memory; beyond, the remaining days come from their rollups. */
const LIVE_ROWS_MAX = 200_000;

type Live = { days: number[]; rows: CounterRollupRow[]; datasets: string[] };

const monthOfDay = (day: number) => dayLabel(day).slice(0, 7);

/**
 * The next page of datasets with usage in the period, in key order: from the rollups (an index-only walk of
 * counter_rollups_dataset, skipping live days) merged with the live rows' datasets up to the page's last key.
 */
async function datasetPage(db: D1Database, period: DsrPeriod, live: Live, after: string, only: string | undefined): Promise<string[]> {
  const { results } = await preparedWithinLimits(
    db,
    `SELECT DISTINCT dataset FROM counter_rollups INDEXED BY counter_rollups_dataset
     WHERE dataset > ?3 AND (?4 IS NULL OR dataset = ?4) AND day >= ?1 AND day <= ?2 AND day NOT IN (SELECT value FROM json_each(?5))
     ORDER BY dataset LIMIT ?6`,
    [period.firstDay, period.lastDay, after, only ?? null, JSON.stringify(live.days), DATASETS_PER_PAGE],
  ).all<{ dataset: string }>();
  const fromRollups = results.map((row) => row.dataset);
  const upTo = fromRollups.length === DATASETS_PER_PAGE ? fromRollups.at(-1)! : null;
  const fromLive = live.datasets.filter((dataset) => dataset > after && (only === undefined || dataset === only) && (upTo === null || dataset <= upTo));
  return [...new Set([...fromRollups, ...fromLive])].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/** Month sums of the page's datasets: rollups of the period's other days (index seeks by dataset) plus the live rows. */
async function aggregates(db: D1Database, period: DsrPeriod, live: Live, datasets: string[]): Promise<Aggregate[]> {
  const [chunk] = chunkForJsonParameter(datasets);
  const { results } = await preparedWithinLimits(
    db,
    `SELECT dataset, strftime('%Y-%m', day * 86400, 'unixepoch') AS month, access_method, country,
       sum(total_investigations) AS ti, sum(unique_investigations) AS ui, sum(total_requests) AS tr, sum(unique_requests) AS ur,
       max(doi) AS doi, max(resource_type) AS resource_type, max(resource_id) AS resource_id, max(title) AS title
     FROM counter_rollups INDEXED BY counter_rollups_dataset
     WHERE dataset IN (SELECT value FROM json_each(?3)) AND day >= ?1 AND day <= ?2 AND day NOT IN (SELECT value FROM json_each(?4))
     GROUP BY dataset, month, access_method, country`,
    [period.firstDay, period.lastDay, chunk!.json, JSON.stringify(live.days)],
  ).all<Aggregate>();
  const wanted = new Set(datasets);
  const merged = new Map<string, Aggregate>(results.map((row) => [JSON.stringify([row.dataset, row.month, row.access_method, row.country]), row]));
  for (const row of live.rows) {
    if (!wanted.has(row.dataset)) continue;
    const month = monthOfDay(row.day);
    const key = JSON.stringify([row.dataset, month, row.access_method, row.country]);
    const known = merged.get(key);
    const max = (a: string | null | undefined, b: string | null) => (a == null ? b : b == null || a > b ? a : b);
    merged.set(key, {
      dataset: row.dataset,
      month,
      access_method: row.access_method,
      country: row.country,
      ti: (known?.ti ?? 0) + row.total_investigations,
      ui: (known?.ui ?? 0) + row.unique_investigations,
      tr: (known?.tr ?? 0) + row.total_requests,
      ur: (known?.ur ?? 0) + row.unique_requests,
      doi: max(known?.doi, row.doi),
      resource_type: max(known?.resource_type, row.resource_type),
      resource_id: max(known?.resource_id, row.resource_id),
      title: max(known?.title, row.title),
    });
  }
  const order = (row: Aggregate) => JSON.stringify([row.dataset, row.month, row.access_method, row.country]);
  return [...merged.values()].sort((a, b) => (order(a) < order(b) ? -1 : order(a) > order(b) ? 1 : 0));
}

/** Catalog records of the page's datasets, by DOI and by `dataset:<id>`. */
async function catalogEntries(db: D1Database, rows: Aggregate[]): Promise<Map<string, CatalogEntry>> {
  const dois = [...new Set(rows.map((row) => row.doi).filter((doi): doi is string => doi !== null))];
  const ids = [...new Set(rows.filter((row) => row.resource_type === "dataset" && row.resource_id).map((row) => row.resource_id!))];
  const { results } = await preparedWithinLimits(
    db,
    `SELECT id, doi, title, json_extract(normalised, '$.publication_year') AS year FROM records
     WHERE doi IN (SELECT value FROM json_each(?1)) OR id IN (SELECT value FROM json_each(?2))`,
    [JSON.stringify(dois), JSON.stringify(ids)],
  ).all<CatalogEntry>();
  const found = new Map<string, CatalogEntry>();
  for (const entry of results) {
    if (entry.doi) found.set(entry.doi, entry);
    found.set(`dataset:${entry.id}`, entry);
  }
  return found;
}

function publisherIds(config: Config): { type: string; value: string }[] {
  if (!config.counterPublisherId) return [];
  const separator = config.counterPublisherId.indexOf(":");
  return [{ type: config.counterPublisherId.slice(0, separator), value: config.counterPublisherId.slice(separator + 1) }];
}

function recordUri(template: string, entry: CatalogEntry): string | null {
  if (template.includes("{doi}") && !entry.doi) return null;
  return template
    .replace("{doi}", encodeURIComponent(entry.doi ?? "").replace(/%2F/gi, "/"))
    .replace("{resource_type}", "dataset")
    .replace("{resource_id}", encodeURIComponent(entry.id));
}

/** Turns one dataset's aggregates (ordered by month) into its DSR item. */
function datasetItem(config: Config, period: DsrPeriod, rows: Aggregate[], catalog: Map<string, CatalogEntry>): DsrDataset {
  const first = rows[0]!;
  const eventDoi = rows.find((row) => row.doi)?.doi ?? null;
  const entry = catalog.get(first.dataset) ?? (eventDoi ? catalog.get(eventDoi) : undefined);
  const doi = eventDoi ?? entry?.doi ?? null;
  const ids: DsrDataset["dataset-id"] = doi ? [{ type: "doi", value: doi }] : [{ type: "proprietary", value: first.dataset }];
  const uri = entry ? recordUri(config.catalogRecordUrl, entry) : null;
  if (uri) ids.push({ type: "uri", value: uri });
  const months = new Map<string, Aggregate[]>();
  for (const row of rows) months.set(row.month, [...(months.get(row.month) ?? []), row]);
  const performance: DsrDataset["performance"] = [];
  for (const [month, monthRows] of months) {
    const monthStart = dayOf(Date.parse(`${month}-01`));
    const monthEnd = dayOf(Date.UTC(Number(month.slice(0, 4)), Number(month.slice(5, 7)), 1)) - 1;
    const instance: DsrInstance[] = [];
    for (const accessMethod of ["regular", "machine"] as const) {
      const total = monthRows.find((row) => row.access_method === accessMethod && row.country === ALL_COUNTRIES);
      if (!total) continue;
      for (const [metric, column] of METRICS) {
        if (total[column] === 0) continue;
        const countries = Object.fromEntries(
          monthRows
            .filter((row) => row.access_method === accessMethod && row.country !== ALL_COUNTRIES && row.country !== "" && row[column] > 0)
            .map((row) => [row.country.toLowerCase(), row[column]]),
        );
        instance.push({
          "access-method": accessMethod,
          "metric-type": metric,
          count: total[column],
          ...(Object.keys(countries).length > 0 ? { "country-counts": countries } : {}),
        });
      }
    }
    if (instance.length > 0)
      performance.push({
        period: { "begin-date": dayLabel(Math.max(monthStart, period.firstDay)), "end-date": dayLabel(Math.min(monthEnd, period.lastDay)) },
        instance,
      });
  }
  const title = entry?.title ?? rows.find((row) => row.title)?.title ?? first.dataset;
  return {
    "dataset-title": title,
    "dataset-id": ids,
    platform: config.counterPlatform,
    publisher: config.counterPublisher,
    "publisher-id": publisherIds(config),
    "data-type": "dataset",
    ...(entry?.year ? { yop: String(entry.year) } : {}),
    performance,
  };
}

/** Every dataset item of the period, a page of datasets at a time. */
export async function* dsrDatasets(db: D1Database, config: Config, query: DsrQuery, now = Date.now()): AsyncGenerator<DsrDataset> {
  if (query.platform !== undefined && query.platform !== config.counterPlatform) return;
  const period = dsrPeriod(query);
  const only = query.dataset_id ? datasetKey(query.dataset_id) : undefined;
  const live = await liveCounterRows(db, config, period, now);
  let after = "";
  for (;;) {
    const datasets = await datasetPage(db, period, live, after, only);
    if (datasets.length === 0) return;
    const rows = await aggregates(db, period, live, datasets);
    const catalog = await catalogEntries(db, rows);
    const byDataset = new Map<string, Aggregate[]>();
    for (const row of rows) byDataset.set(row.dataset, [...(byDataset.get(row.dataset) ?? []), row]);
    for (const dataset of datasets) {
      const item = datasetItem(config, period, byDataset.get(dataset) ?? [], catalog);
      if (item.performance.length > 0) yield item;
    }
    after = datasets.at(-1)!;
  }
}

/** The header: period, filters, time zone (UTC) and exceptions (partial data while the period has not ended). */
export async function dsrHeader(db: D1Database, config: Config, query: DsrQuery, now = Date.now()): Promise<DsrHeader> {
  const period = dsrPeriod(query);
  const filters = [
    { name: "begin-date", value: query.begin_date },
    { name: "end-date", value: query.end_date },
    ...(query.dataset_id ? [{ name: "dataset-id", value: query.dataset_id }] : []),
    ...(query.platform ? [{ name: "platform", value: query.platform }] : []),
  ];
  const exceptions: DsrHeader["exceptions"] = [];
  if (dayStart(period.lastDay + 1) > now)
    exceptions.push({
      code: 3040,
      severity: "warning",
      message: "Partial Data Returned",
      data: `the reporting period has not ended: usage is counted up to ${new Date(now).toISOString()}`,
    });
  return {
    "report-name": "dataset report",
    "report-id": "dsr",
    release: "rd1",
    created: new Date(now).toISOString().replace(/\.\d{3}Z$/, "Z"),
    "created-by": config.counterPlatform,
    "reporting-period": { "begin-date": dayLabel(period.firstDay), "end-date": dayLabel(period.lastDay) },
    "report-filters": filters,
    "report-attributes": [{ name: "time-zone", value: "UTC" }],
    exceptions,
  };
}

const NO_USAGE = { code: 3030, severity: "info", message: "No Usage Available for Requested Dates", data: "no COUNTER usage in the requested period" };

/**
 * The whole DSR as JSON text chunks: each dataset, then the header (last in the object, so its "no usage" exception can
 * depend on what was streamed). `tally.datasets` counts the datasets written.
 */
export async function* dsrJsonChunks(
  db: D1Database,
  config: Config,
  query: DsrQuery,
  now = Date.now(),
  tally: { datasets: number } = { datasets: 0 },
): AsyncGenerator<string> {
  const header = await dsrHeader(db, config, query, now);
  yield '{"report-datasets":[';
  for await (const item of dsrDatasets(db, config, query, now)) {
    yield `${tally.datasets > 0 ? "," : ""}${JSON.stringify(item)}`;
    tally.datasets++;
  }
  if (tally.datasets === 0) header.exceptions.push(NO_USAGE);
  yield `],"report-header":${JSON.stringify(header)}}`;
}

/** The DSR as a streamed body. */
export function dsrStream(db: D1Database, config: Config, query: DsrQuery, now = Date.now()): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  const chunks = dsrJsonChunks(db, config, query, now);
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const next = await chunks.next();
      if (next.done) controller.close();
      else controller.enqueue(encoder.encode(next.value));
    },
  });
}

