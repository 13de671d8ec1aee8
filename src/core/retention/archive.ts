// Raw-event archives in R2: one gzip NDJSON object per day (archive/events/YYYY/MM/DD.ndjson.gz) holding complete ledger
// rows (duplicates and denials included) in (occurred_at, id) order. A write merges the existing object with the day's rows,
// so an object only ever grows; it is conditional on the object it merged, so two writers cannot lose each other's rows.
// Each verified day also gets a Parquet copy (parquet.ts); restore reads either.
import { z } from "@hono/zod-openapi";
import { Gunzip } from "fflate";
import { jsonPage } from "../../db/json-pages";
import { chunkForJsonParameter, D1_LIMITS, preparedWithinLimits } from "../../db/limits";
import { toHex } from "../../lib/crypto";
import { ApiError } from "../../lib/errors";
import { accessMethodOf } from "../counter/classify";
import { storeEvents, type EventRow } from "../ledger/ingest";
import { DAY_MS, dayLabel, dayOf, dayStart } from "../analytics/periods";
import { dayOfParquetKey, PARQUET_PREFIX, parquetRows } from "./parquet";

export const ARCHIVE_PREFIX = "archive/events/";
const ARCHIVE_KEY = /^archive\/events\/(\d{4})\/(\d{2})\/(\d{2})\.ndjson\.gz$/;
const PAGE_ROWS = 5_000;
/**
 * Ledger rows per keyset page of a day being archived. A page is cut at ~1.5 MB of JSON (json-pages.ts), after SQLite has
 * decoded and serialised every row up to the LIMIT: at ~560–680 B per row, a LIMIT of 5,000 returned ~2,200 rows per
 * page and computed the rest for nothing; 2,000 rows (~1.3 MB) fit whole.
 */
const LEDGER_PAGE_ROWS = 2_000;
const encoder = new TextEncoder();

export const eventColumns = [
  "id", "occurred_at", "received_at", "action", "status", "resource_type", "resource_id", "doi", "title", "actor_key",
  "user_key", "organisation", "ip_prefix", "ip_hash", "user_agent", "bytes", "message", "meta", "duplicate_of", "key_id",
  "client_id", "content_hash", "denied_count", "access_method", "country", "file", "session_id",
] as const satisfies readonly (keyof EventRow)[];

/** An archived line must be a complete ledger row; restore refuses anything else. */
export const ArchivedRowSchema = z.strictObject({
  id: z.string().min(1).max(128),
  occurred_at: z.number().int(),
  received_at: z.number().int(),
  action: z.string().min(1),
  status: z.enum(["success", "failure", "denied"]),
  resource_type: z.string().nullable(),
  resource_id: z.string().nullable(),
  doi: z.string().nullable(),
  title: z.string().nullable(),
  actor_key: z.string().nullable(),
  user_key: z.string().nullable(),
  organisation: z.string().nullable(),
  ip_prefix: z.string().nullable(),
  ip_hash: z.string().nullable(),
  user_agent: z.string().nullable(),
  bytes: z.number().int().nullable(),
  message: z.string().nullable(),
  meta: z.string().nullable(),
  duplicate_of: z.string().nullable(),
  // Archives written before issue 10 lack the ownership columns; their rows restore as `legacy`.
  key_id: z.string().min(1).default("legacy"),
  client_id: z.string().nullable().default(null),
  content_hash: z.string().nullable().default(null),
  denied_count: z.number().int().min(1).nullable().default(null),
  // Archives written before COUNTER classification lack these; restore classifies such rows from their user agent.
  access_method: z.enum(["regular", "machine", "robot"]).nullable().optional(),
  country: z.string().nullable().default(null),
  file: z.string().nullable().default(null),
  session_id: z.string().nullable().default(null),
});

export function archiveKey(day: number): string {
  const [year, month, date] = dayLabel(day).split("-");
  return `${ARCHIVE_PREFIX}${year}/${month}/${date}.ndjson.gz`;
}

export function dayOfArchiveKey(key: string): number | undefined {
  const match = ARCHIVE_KEY.exec(key);
  if (!match) return undefined;
  const ms = Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3]));
  return archiveKey(dayOf(ms)) === key ? dayOf(ms) : undefined;
}

export interface ArchiveManifest {
  key: string;
  day: number;
  /** Lines in the object. */
  rows: number;
  /** Rows read from the ledger for this write (the rest came from the previous object). */
  fromLedger: number;
  /** SHA-256 (hex) of the uncompressed NDJSON. */
  sha256: string;
  etag: string;
  size: number;
}

/** Order of SQLite's BINARY collation (UTF-8 bytes, i.e. code points), which JavaScript's `<` on UTF-16 does not match. */
function compareIds(a: string, b: string): number {
  const left = [...a];
  const right = [...b];
  for (let i = 0; i < Math.min(left.length, right.length); i++) {
    const difference = left[i]!.codePointAt(0)! - right[i]!.codePointAt(0)!;
    if (difference !== 0) return difference;
  }
  return left.length - right.length;
}

const compareRows = (a: EventRow, b: EventRow) => a.occurred_at - b.occurred_at || compareIds(a.id, b.id);

/** The day's ledger rows in (occurred_at, id) order, a keyset page (one JSON cell) at a time. */
async function* ledgerRowsOfDay(db: D1Database, day: number): AsyncGenerator<EventRow> {
  let after: [number, string] = [dayStart(day) - 1, ""];
  for (;;) {
    const page = await jsonPage(
      db,
      `SELECT ${eventColumns.join(", ")} FROM events
       WHERE occurred_at >= ? AND occurred_at < ? AND (occurred_at, id) > (?, ?) ORDER BY occurred_at, id LIMIT ?`,
      [dayStart(day), dayStart(day) + DAY_MS, after[0], after[1], LEDGER_PAGE_ROWS],
      eventColumns,
      ["occurred_at", "id"],
    );
    if (page.length === 0) return;
    const rows = page.map((values) => Object.fromEntries(eventColumns.map((column, index) => [column, values[index] ?? null])) as unknown as EventRow);
    yield* rows;
    const last = rows.at(-1)!;
    after = [last.occurred_at, last.id];
  }
}

/**
 * A gzip body, decompressed chunk by chunk with fflate's streaming Gunzip: synchronous, so a corrupt or truncated object
 * throws right where it is read (workerd's DecompressionStream reports that as an unhandled rejection of its pipe).
 */
async function* gunzip(body: ReadableStream<Uint8Array>): AsyncGenerator<Uint8Array> {
  const output: Uint8Array[] = [];
  const decompressor = new Gunzip((chunk) => output.push(chunk));
  const reader = body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      decompressor.push(value ?? new Uint8Array(0), done);
      yield* output.splice(0);
      if (done) return;
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
}

/** Lines of a gzip NDJSON body, decompressed and decoded as they stream in. */
async function* ndjsonLines(body: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let rest = "";
  for await (const chunk of gunzip(body)) {
    rest += decoder.decode(chunk, { stream: true });
    const lines = rest.split("\n");
    rest = lines.pop()!;
    for (const line of lines) if (line) yield line;
  }
  rest += decoder.decode();
  if (rest) yield rest;
}

export async function* archivedRows(body: ReadableStream<Uint8Array>): AsyncGenerator<EventRow> {
  let line = 0;
  for await (const text of ndjsonLines(body)) {
    line++;
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    const row = ArchivedRowSchema.safeParse(parsed);
    if (!row.success) throw new ApiError("invalid_request", `Line ${line} of the archive is not a ledger row`, { details: [{ path: `line ${line}`, message: row.error?.issues[0]?.message ?? "not JSON" }] });
    yield { ...row.data, access_method: row.data.access_method ?? accessMethodOf(row.data.user_agent) };
  }
}

/** Two sorted row streams as one, each id once. */
async function* mergeRows(first: AsyncIterator<EventRow>, second: AsyncIterator<EventRow>): AsyncGenerator<EventRow> {
  let a = await first.next();
  let b = await second.next();
  while (!a.done || !b.done) {
    const order = a.done ? 1 : b.done ? -1 : compareRows(a.value, b.value);
    if (order <= 0) {
      yield a.value!;
      if (order === 0) b = await second.next();
      a = await first.next();
    } else {
      yield b.value!;
      b = await second.next();
    }
  }
}

/** One archive line: the row's columns in archive order as JSON, newline-terminated. */
export function archiveLine(row: EventRow): string {
  return `${JSON.stringify(Object.fromEntries(eventColumns.map((column) => [column, row[column]])))}\n`;
}

/** Serialises rows to NDJSON, hashing the plain text and gzipping it as it goes; only the compressed bytes are kept. */
async function encodeArchive(rows: AsyncIterable<EventRow>): Promise<{ gzip: Uint8Array; rows: number; sha256: string; received: [number, number] }> {
  const compression = new CompressionStream("gzip");
  const compressed = new Response(compression.readable).arrayBuffer();
  const writer = compression.writable.getWriter();
  const digest = new crypto.DigestStream("SHA-256");
  const digestWriter = digest.getWriter();
  // An abort rejects these promises too; they are awaited only on success.
  for (const settled of [writer.closed, digestWriter.closed, digest.digest]) settled.catch(() => undefined);
  let count = 0;
  const received: [number, number] = [Infinity, -Infinity];
  let pending: string[] = [];
  const flush = async () => {
    if (pending.length === 0) return;
    const bytes = encoder.encode(pending.join(""));
    pending = [];
    await Promise.all([digestWriter.write(bytes.slice()), writer.write(bytes)]);
  };
  try {
    for await (const row of rows) {
      pending.push(archiveLine(row));
      count++;
      received[0] = Math.min(received[0], row.received_at);
      received[1] = Math.max(received[1], row.received_at);
      if (pending.length >= 500) await flush();
    }
    await flush();
    await Promise.all([digestWriter.close(), writer.close()]);
  } catch (error) {
    await Promise.allSettled([writer.abort(error), digestWriter.abort(error), compressed]);
    throw error;
  }
  return { gzip: new Uint8Array(await compressed), rows: count, sha256: toHex(await digest.digest), received };
}

async function* counting<T>(source: AsyncIterable<T>, counter: { value: number }): AsyncGenerator<T> {
  for await (const item of source) {
    counter.value++;
    yield item;
  }
}

async function* nothing(): AsyncGenerator<EventRow> {}

/**
 * Writes the day's archive: the previous object's rows merged with the day's current ledger rows. The put is conditional
 * on the object that was merged (or on there being none), so a concurrent writer makes this one fail instead of being
 * overwritten by a smaller object. Returns null when there is nothing to archive.
 */
export async function writeDayArchive(bucket: R2Bucket, db: D1Database, day: number): Promise<ArchiveManifest | null> {
  const key = archiveKey(day);
  const previous = await bucket.get(key);
  const fromLedger = { value: 0 };
  const merged = mergeRows(previous ? archivedRows(previous.body) : nothing(), counting(ledgerRowsOfDay(db, day), fromLedger));
  const encoded = await encodeArchive(merged);
  if (encoded.rows === 0) return null;
  const written = await bucket.put(key, encoded.gzip, {
    onlyIf: previous ? { etagMatches: previous.etag } : new Headers({ "If-None-Match": "*" }),
    httpMetadata: { contentType: "application/gzip" },
    customMetadata: {
      rows: String(encoded.rows),
      sha256: encoded.sha256,
      day: dayLabel(day),
      format: "download-audit ledger rows, NDJSON",
      // The receipt times it spans: integrity verification reads only the archives that can hold rows of a sealed window.
      received_min: String(encoded.received[0]),
      received_max: String(encoded.received[1]),
    },
  });
  if (!written) throw new ApiError("conflict", `${key} was changed by another run; nothing of ${dayLabel(day)} was deleted`);
  return { key, day, rows: encoded.rows, fromLedger: fromLedger.value, sha256: encoded.sha256, etag: written.etag, size: written.size };
}

/**
 * Reads the object back (the very version written) and checks its line count and SHA-256 against the manifest. `visit`
 * receives the object's complete lines as they stream in, so the same read-back can feed the Parquet copy and the ids to
 * delete; what it builds counts only when this returns true (a visitor that throws makes the check fail).
 */
export async function verifyArchive(bucket: R2Bucket, manifest: ArchiveManifest, visit?: (lines: string[]) => void | Promise<void>): Promise<boolean> {
  const object = await bucket.get(manifest.key, { onlyIf: { etagMatches: manifest.etag } });
  if (!object || !("body" in object)) return false;
  const digest = new crypto.DigestStream("SHA-256");
  const writer = digest.getWriter();
  for (const settled of [writer.closed, digest.digest]) settled.catch(() => undefined);
  const decoder = new TextDecoder();
  let lines = 0;
  let rest = "";
  try {
    for await (const chunk of gunzip(object.body)) {
      await writer.write(chunk);
      const complete = (rest + decoder.decode(chunk, { stream: true })).split("\n");
      rest = complete.pop()!;
      lines += complete.length;
      if (visit && complete.length > 0) await visit(complete);
    }
    await writer.close();
  } catch (error) {
    await writer.abort(error).catch(() => undefined);
    return false;
  }
  return lines === manifest.rows && toHex(await digest.digest) === manifest.sha256 && object.customMetadata?.sha256 === manifest.sha256;
}

export const ArchiveSchema = z
  .object({
    key: z.string(),
    day: z.string(),
    rows: z.number().nullable(),
    sha256: z.string().nullable(),
    size: z.number(),
    uploaded: z.string(),
  })
  .openapi("Archive");

export type Archive = z.infer<typeof ArchiveSchema>;

export async function listArchives(bucket: R2Bucket, options: { cursor?: string; limit: number }): Promise<{ data: Archive[]; next_cursor: string | null }> {
  const listing = await bucket.list({ prefix: ARCHIVE_PREFIX, cursor: options.cursor, limit: options.limit, include: ["customMetadata"] });
  const data = listing.objects
    .filter((object) => dayOfArchiveKey(object.key) !== undefined)
    .map((object) => ({
      key: object.key,
      day: dayLabel(dayOfArchiveKey(object.key)!),
      rows: object.customMetadata?.rows ? Number(object.customMetadata.rows) : null,
      sha256: object.customMetadata?.sha256 ?? null,
      size: object.size,
      uploaded: object.uploaded.toISOString(),
    }));
  // NDJSON keys (archive/events/YYYY/…) sort before the Parquet copies (archive/events/date=…): once a page reaches
  // those, every NDJSON archive has been listed.
  const done = !listing.truncated || listing.objects.some((object) => object.key.startsWith(PARQUET_PREFIX));
  return { data, next_cursor: done ? null : listing.cursor };
}

export const RestoreResultSchema = z
  .object({ key: z.string(), rows: z.number(), restored: z.number(), already_present: z.number() })
  .openapi("ArchiveRestoreResult");

/** An archive object (NDJSON or Parquet) by key; any other key of the bucket is refused. */
export async function archiveObject(bucket: R2Bucket, key: string): Promise<R2ObjectBody> {
  if (dayOfArchiveKey(key) === undefined && dayOfParquetKey(key) === undefined)
    throw new ApiError("invalid_request", "Not an archive key", {
      details: [{ path: "key", message: "must look like archive/events/YYYY/MM/DD.ndjson.gz or archive/events/date=YYYY-MM-DD/events.parquet" }],
    });
  const object = await bucket.get(key);
  if (!object) throw new ApiError("not_found", `No archive ${key}`);
  return object;
}

/** Re-imports an archive into the ledger; rows whose id is present are left alone, so restoring twice inserts nothing. */
export async function restoreArchive(bucket: R2Bucket, db: D1Database, key: string): Promise<z.infer<typeof RestoreResultSchema>> {
  const object = await archiveObject(bucket, key);
  const source = dayOfParquetKey(key) !== undefined ? parquetRows(await object.arrayBuffer()) : archivedRows(object.body);
  let rows = 0;
  let restored = 0;
  let page: EventRow[] = [];
  const store = async () => {
    restored += (await storeEvents(db, page.map((row) => ({ row, actor: null })), { keepReceivedAt: true })).inserted.size;
    page = [];
  };
  for await (const row of source) {
    rows++;
    page.push(row);
    if (page.length === PAGE_ROWS) await store();
  }
  if (page.length > 0) await store();
  return { key, rows, restored, already_present: rows - restored };
}

/**
 * Deletes, in statements of at most 1,000 ids, the ledger rows of a verified archive (`ids`, read from the verified
 * object) that its day's rollup already holds.
 */
export async function deleteArchivedRows(db: D1Database, ids: readonly string[], manifest: ArchiveManifest, rolledThrough: number): Promise<number> {
  let deleted = 0;
  let batch: D1PreparedStatement[] = [];
  const run = async () => {
    const results = await db.batch(batch);
    deleted += results.reduce((sum, result) => sum + (result.meta.changes ?? 0), 0);
    batch = [];
  };
  for (let start = 0; start < ids.length; start += D1_LIMITS.maxRowsPerStatement) {
    for (const chunk of chunkForJsonParameter(ids.slice(start, start + D1_LIMITS.maxRowsPerStatement)))
      batch.push(
        preparedWithinLimits(
          db,
          `DELETE FROM event_rows WHERE id IN (SELECT value FROM json_each(?1)) AND received_at <= ?2 AND occurred_at >= ?3 AND occurred_at < ?4`,
          [chunk.json, rolledThrough, dayStart(manifest.day), dayStart(manifest.day) + DAY_MS],
        ),
      );
    if (batch.length >= 10) await run();
  }
  if (batch.length > 0) await run();
  return deleted;
}
