// Streamed exports of events as CSV (RFC 4180 via papaparse, formula cells neutralised per OWASP) or NDJSON. Keyset pages
// of D1 rows (≤ 5,000 rows, ≤ ~1.5 MB) are encoded one at a time into a pull-based ReadableStream; the page after the one
// being encoded is read meanwhile, and no further until the client takes the encoded one, so memory stays at about three
// pages whatever the size of the export.
import { and, asc, eq, sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import Papa from "papaparse";
import { jsonPage } from "../../db/json-pages";
import { actors, events } from "../../db/ledger-schema";
import type { EventFilter } from "./event-schema";
import { eventSelection, filterConditions, toEvent, type ResolvedEventFilter, type SelectedEvent } from "./query";

export const CSV_COLUMNS = [
  "id", "occurred_at", "action", "status", "resource_type", "resource_id", "doi", "title", "actor_id", "email", "name",
  "organisation", "ip", "user_agent", "bytes", "message", "link", "file", "session_id", "country", "access_method",
] as const;

export type ExportFormat = "csv" | "ndjson";

export const EXPORT_PAGE_ROWS = 5_000;

export interface CatalogTemplates {
  /** {doi}, {resource_type}, {resource_id} */
  recordUrl: string;
  /** {dois}: the bundle's DOIs as `"a" OR "b"`, URL-encoded */
  searchUrl: string;
}

/** DOIs keep their slashes in a URL path; everything else that URLs reserve is encoded. */
const encodeDoi = (doi: string) => encodeURIComponent(doi).replace(/%2F/gi, "/");

function bundleDois(meta: string | null): string[] | null {
  if (!meta) return null;
  try {
    const dois = (JSON.parse(meta) as { dois?: unknown }).dois;
    return Array.isArray(dois) && dois.length > 0 && dois.every((doi) => typeof doi === "string") ? (dois as string[]) : null;
  } catch {
    return null;
  }
}

function fill(template: string, values: Record<string, string | null>): string {
  let missing = false;
  const link = template.replace(/\{(\w+)\}/g, (placeholder, name: string) => {
    if (!(name in values)) return placeholder;
    const value = values[name];
    if (value == null || value === "") missing = true;
    return value ?? "";
  });
  return missing ? "" : link;
}

/** The catalog link of an event: a search over all DOIs of a bundle, else the record page; empty when a value is missing. */
export function catalogLink(row: Pick<SelectedEvent, "doi" | "resourceType" | "resourceId" | "meta">, templates: CatalogTemplates): string {
  const dois = bundleDois(row.meta);
  if (dois) return fill(templates.searchUrl, { dois: encodeURIComponent(dois.map((doi) => `"${doi}"`).join(" OR ")) });
  return fill(templates.recordUrl, {
    doi: row.doi ? encodeDoi(row.doi) : null,
    resource_type: row.resourceType ? encodeURIComponent(row.resourceType) : null,
    resource_id: row.resourceId ? encodeURIComponent(row.resourceId) : null,
  });
}

/** One event as the export's columns (CSV_COLUMNS), shared by the CSV and Excel exports. */
export function exportRow(row: SelectedEvent, templates: CatalogTemplates): (string | number)[] {
  return [
    row.id!,
    new Date(row.occurredAt!).toISOString(),
    row.action!,
    row.status!,
    row.resourceType ?? "",
    row.resourceId ?? "",
    row.doi ?? "",
    row.title ?? "",
    row.actorId ?? "",
    row.email ?? "",
    row.name ?? "",
    row.organisation ?? "",
    row.ipPrefix ?? "",
    row.userAgent ?? "",
    row.bytes ?? "",
    row.message ?? "",
    catalogLink(row, templates),
    row.file ?? "",
    row.sessionId ?? "",
    row.country ?? "",
    row.accessMethod ?? "",
  ];
}

/**
 * RFC 4180 text of rows (CRLF line ends, fields quoted when they hold a comma, quote or line break). Cells starting with
 * =, +, -, @, tab or carriage return get a leading apostrophe and quotes (OWASP CSV injection), so spreadsheets show them
 * as text instead of evaluating them.
 */
// papaparse's own `escapeFormulae: true` pattern ends in `.*$` and so misses formulas that contain a line break.
const FORMULA_START = /^[=+\-@\t\r]/;

export function csvLines(rows: (string | number)[][]): string {
  return `${Papa.unparse(rows, { newline: "\r\n", escapeFormulae: FORMULA_START, header: false })}\r\n`;
}

/** A cell's text as spreadsheets should show it: a leading apostrophe when it would start a formula, as in the CSV. */
export const neutraliseFormula = (value: string) => (FORMULA_START.test(value) ? `'${value}` : value);

const pageKeys = Object.keys(eventSelection) as (keyof typeof eventSelection)[];
const pageColumns = pageKeys.map((key) => eventSelection[key].name);

/** The events after `after` in (occurred_at, id) order; at most `limit`, fewer when the page reaches ~1.5 MB. */
export async function exportPage(
  db: D1Database,
  filter: ResolvedEventFilter,
  after: { occurredAt: number; id: string } | null,
  limit = EXPORT_PAGE_ROWS,
): Promise<SelectedEvent[]> {
  const conditions = filterConditions(filter);
  if (after) conditions.push(sql`(${events.occurredAt}, ${events.id}) > (${after.occurredAt}, ${after.id})`);
  const query = drizzle(db)
    .select(eventSelection)
    .from(events)
    .leftJoin(actors, eq(actors.actorKey, events.actorKey))
    .where(and(...conditions))
    .orderBy(asc(events.occurredAt), asc(events.id))
    .limit(limit)
    .toSQL();
  const rows = await jsonPage(db, query.sql, query.params, pageColumns, ["occurred_at", "id"]);
  return rows.map((values) => Object.fromEntries(pageKeys.map((key, index) => [key, values[index] ?? null])) as SelectedEvent);
}

const encoder = new TextEncoder();

/**
 * The export as a byte stream, oldest event first. The first page is read before the stream is returned, so a failing
 * query still becomes an error response rather than a truncated file.
 */
export async function exportStream(
  db: D1Database,
  filter: ResolvedEventFilter,
  format: ExportFormat,
  templates: CatalogTemplates,
  pageRows = EXPORT_PAGE_ROWS,
): Promise<ReadableStream<Uint8Array>> {
  const encode = (page: SelectedEvent[]) =>
    format === "csv"
      ? csvLines(page.map((row) => exportRow(row, templates)))
      : page.map((row) => `${JSON.stringify(toEvent(row))}\n`).join("");
  const nextPage = (after: SelectedEvent | undefined): Promise<SelectedEvent[]> | null => {
    if (!after) return null;
    const page = exportPage(db, filter, { occurredAt: after.occurredAt!, id: after.id! }, pageRows);
    // Awaited by the next pull; a client that leaves before it must not turn its failure into an unhandled rejection.
    page.catch(() => undefined);
    return page;
  };
  const first = await exportPage(db, filter, null, pageRows);
  // The page after the one being encoded is already being read: D1 works on it while this isolate encodes.
  let following = nextPage(first.at(-1));
  let pending = (format === "csv" ? csvLines([[...CSV_COLUMNS]]) : "") + (first.length > 0 ? encode(first) : "");
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (pending) {
        controller.enqueue(encoder.encode(pending));
        pending = "";
        return;
      }
      const page = following ? await following : [];
      if (page.length === 0) {
        controller.close();
        return;
      }
      following = nextPage(page.at(-1));
      controller.enqueue(encoder.encode(encode(page)));
    },
  });
}

/**
 * download-audit_<from>_<to>.<ext>: dates when the bounds are midnights, compact UTC date-times otherwise; an open start is
 * "beginning" and an open end the export's date.
 */
export function exportFilename(filter: Pick<EventFilter, "from" | "to">, format: ExportFormat | "xlsx", now = Date.now()): string {
  const stamp = (ms: number) => {
    const iso = new Date(ms).toISOString();
    return iso.endsWith("T00:00:00.000Z") ? iso.slice(0, 10) : iso.replace(/\.\d{3}Z$/, "Z").replace(/:/g, "");
  };
  const from = filter.from === undefined ? "beginning" : stamp(filter.from);
  const to = filter.to === undefined ? new Date(now).toISOString().slice(0, 10) : stamp(filter.to);
  return `download-audit_${from}_${to}.${format}`;
}
