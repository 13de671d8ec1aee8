// Streamed exports of events as CSV (RFC 4180, formula cells neutralised per OWASP) or NDJSON. Keyset pages of D1 rows
// (≤ 5,000 rows, ≤ ~1.5 MB) are encoded one at a time into a pull-based ReadableStream; the page after the one being
// encoded is read meanwhile, and no further until the client takes the encoded one, so memory stays at about three
// pages (and two bounded dictionary caches) whatever the size of the export.
import { and, sql, type SQL } from "drizzle-orm";
import { SQLiteAsyncDialect } from "drizzle-orm/sqlite-core";
import { EventDictionaries } from "../../db/event-dictionaries";
import { eventsWithStoredIdsSql } from "../../db/event-storage";
import { jsonPage } from "../../db/json-pages";
import { actors, events } from "../../db/ledger-schema";
import type { EventFilter } from "./event-schema";
import { filterConditions, toEvent, type ResolvedEventFilter, type SelectedEvent } from "./query";

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

// Cells starting with =, +, -, @, tab or carriage return get a leading apostrophe and quotes (OWASP CSV injection), so
// spreadsheets show them as text instead of evaluating them.
const FORMULA_START = /^[=+\-@\t\r]/;
/** What makes a field need quotes: a quote, comma, line break or byte-order mark anywhere, a space at either end. */
const NEEDS_QUOTES = /[",\r\n\ufeff]|^ | $/;

/**
 * One CSV field, byte for byte as papaparse 5's unparse writes it with `escapeFormulae: FORMULA_START` (the export used
 * it until the export's throughput work; test/core/ledger/export.test.ts compares the two): numbers as they print,
 * text quoted when needed with quotes doubled, formula starts neutralised. Written here because papaparse spent ~8 µs
 * per 21-field row (a regex replace and six scans per field), half of the Worker's time per exported row; this is one
 * test per field.
 */
function csvField(value: string | number): string {
  if (typeof value === "number") return String(value);
  if (FORMULA_START.test(value)) return `"'${value.replace(/"/g, '""')}"`;
  return NEEDS_QUOTES.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

/** RFC 4180 text of rows: fields separated by commas, every line (the last too) ended by CRLF. */
export function csvLines(rows: (string | number)[][]): string {
  let text = "";
  for (const row of rows) {
    for (let index = 0; index < row.length; index++) text += index === 0 ? csvField(row[index]!) : `,${csvField(row[index]!)}`;
    text += "\r\n";
  }
  return text;
}

/** A cell's text as spreadsheets should show it: a leading apostrophe when it would start a formula, as in the CSV. */
export const neutraliseFormula = (value: string) => (FORMULA_START.test(value) ? `'${value}` : value);

/**
 * What a page reads, in order: the view's decoded columns, but stored dictionary ids instead of the four strings and
 * the resource (resolved by EventDictionaries), and the actor's personal data joined by the decoded actor key.
 */
const PAGE_COLUMNS = {
  id: sql`${events.id}`,
  occurred_at: sql`${events.occurredAt}`,
  received_at: sql`${events.receivedAt}`,
  stored_action: sql`"events"."stored_action"`,
  status: sql`${events.status}`,
  stored_resource: sql`"events"."stored_resource"`,
  stored_organisation: sql`"events"."stored_organisation"`,
  ip_prefix: sql`${events.ipPrefix}`,
  stored_user_agent: sql`"events"."stored_user_agent"`,
  bytes: sql`${events.bytes}`,
  message: sql`${events.message}`,
  meta: sql`${events.meta}`,
  duplicate_of: sql`${events.duplicateOf}`,
  stored_key_id: sql`"events"."stored_key_id"`,
  client_id: sql`${events.clientId}`,
  denied_count: sql`${events.deniedCount}`,
  access_method: sql`${events.accessMethod}`,
  country: sql`${events.country}`,
  session_id: sql`${events.sessionId}`,
  actor_id: sql`${actors.actorId}`,
  email: sql`${actors.email}`,
  name: sql`${actors.name}`,
};
const PAGE_COLUMN_NAMES = Object.keys(PAGE_COLUMNS);
/** A page row as jsonPage returns it, in PAGE_COLUMNS order. */
type PageRow = [
  id: string, occurredAt: number, receivedAt: number, action: unknown, status: SelectedEvent["status"], resource: unknown,
  organisation: unknown, ipPrefix: string | null, userAgent: unknown, bytes: number | null, message: string | null,
  meta: string | null, duplicateOf: string | null, keyId: unknown, clientId: string | null, deniedCount: number | null,
  accessMethod: SelectedEvent["accessMethod"], country: string | null, sessionId: string | null, actorId: string | null,
  email: string | null, name: string | null,
];
const STRING_POSITIONS = ["stored_action", "stored_organisation", "stored_user_agent", "stored_key_id"].map((name) => PAGE_COLUMN_NAMES.indexOf(name));
const RESOURCE_POSITION = PAGE_COLUMN_NAMES.indexOf("stored_resource");
const dialect = new SQLiteAsyncDialect();

/** The page query: `events` is the view's SELECT with stored ids (same columns, so the filters read as on the view). */
function pageQuery(filter: ResolvedEventFilter, after: { occurredAt: number; id: string } | null, limit: number): { sql: string; params: unknown[] } {
  const conditions = filterConditions(filter);
  if (after) conditions.push(sql`(${events.occurredAt}, ${events.id}) > (${after.occurredAt}, ${after.id})`);
  const selection = sql.join(
    Object.entries(PAGE_COLUMNS).map(([name, column]) => sql`${column} AS ${sql.identifier(name)}`),
    sql`, `,
  );
  const where: SQL = conditions.length > 0 ? sql` WHERE ${and(...conditions)}` : sql``;
  return dialect.sqlToQuery(
    sql`SELECT ${selection} FROM (${sql.raw(eventsWithStoredIdsSql())}) AS ${events} LEFT JOIN ${actors} ON ${actors.actorKey} = ${events.actorKey}${where} ORDER BY ${events.occurredAt}, ${events.id} LIMIT ${limit}`,
  );
}

/**
 * The events after `after` in (occurred_at, id) order; at most `limit`, fewer when the page reaches ~1.5 MB. Strings and
 * resources come from `dictionaries`, which a caller reading many pages keeps from one page to the next.
 */
export async function exportPage(
  db: D1Database,
  filter: ResolvedEventFilter,
  after: { occurredAt: number; id: string } | null,
  limit = EXPORT_PAGE_ROWS,
  dictionaries = new EventDictionaries(db),
): Promise<SelectedEvent[]> {
  const query = pageQuery(filter, after, limit);
  const rows = (await jsonPage(db, query.sql, query.params, PAGE_COLUMN_NAMES, ["occurred_at", "id"])) as PageRow[];
  await dictionaries.load(
    rows.flatMap((row) => STRING_POSITIONS.map((position) => row[position])),
    rows.map((row) => row[RESOURCE_POSITION]),
  );
  const page = rows.map((row): SelectedEvent => {
    const [id, occurredAt, receivedAt, action, status, resource, organisation, ipPrefix, userAgent, bytes, message, meta, duplicateOf, keyId, clientId, deniedCount, accessMethod, country, sessionId, actorId, email, name] = row;
    const stored = dictionaries.resource(resource);
    return {
      id,
      occurredAt,
      receivedAt,
      action: dictionaries.string(action),
      status,
      resourceType: stored?.resource_type ?? null,
      resourceId: stored?.resource_id ?? null,
      doi: stored?.doi ?? null,
      title: stored?.title ?? null,
      organisation: dictionaries.string(organisation),
      ipPrefix,
      userAgent: dictionaries.string(userAgent),
      bytes,
      message,
      meta,
      duplicateOf,
      keyId: dictionaries.string(keyId),
      clientId,
      deniedCount,
      accessMethod,
      country,
      file: stored?.file ?? null,
      sessionId,
      actorId,
      email,
      name,
    };
  });
  dictionaries.trim();
  return page;
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
  const dictionaries = new EventDictionaries(db);
  const nextPage = (after: SelectedEvent | undefined): Promise<SelectedEvent[]> | null => {
    if (!after) return null;
    const page = exportPage(db, filter, { occurredAt: after.occurredAt!, id: after.id! }, pageRows, dictionaries);
    // Awaited by the next pull; a client that leaves before it must not turn its failure into an unhandled rejection.
    page.catch(() => undefined);
    return page;
  };
  const first = await exportPage(db, filter, null, pageRows, dictionaries);
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
