// Parquet copies of retired days in a Hive-partitioned layout (archive/events/date=YYYY-MM-DD/events.parquet) that DuckDB,
// Spark, Trino, ClickHouse and R2 SQL read directly. Each copy is written from the day's verified NDJSON archive (the
// source of truth) and checked to hold the very same rows before it counts; restore reads it like the NDJSON object.
import { parquetMetadataAsync, parquetReadObjects, type AsyncBuffer } from "hyparquet";
import { ByteWriter, ParquetWriter } from "hyparquet-writer";
import { z } from "@hono/zod-openapi";
import { ApiError } from "../../lib/errors";
import { accessMethodOf } from "../counter/classify";
import type { EventRow } from "../ledger/ingest";
import { dayLabel, dayOf } from "../analytics/periods";
import { archivedRows, ArchivedRowSchema, archiveLine, eventColumns, type ArchiveManifest } from "./archive";

const PARQUET_KEY = /^archive\/events\/date=(\d{4})-(\d{2})-(\d{2})\/events\.parquet$/;
/** Rows per row group: bounds the column arrays held while writing and the rows decoded at once while reading. */
const ROW_GROUP_ROWS = 10_000;

/** Sorts after every NDJSON archive key (archive/events/YYYY/…), which listArchives relies on. */
export const PARQUET_PREFIX = "archive/events/date=";

export function parquetKey(day: number): string {
  return `${PARQUET_PREFIX}${dayLabel(day)}/events.parquet`;
}

export function dayOfParquetKey(key: string): number | undefined {
  const match = PARQUET_KEY.exec(key);
  if (!match) return undefined;
  const day = dayOf(Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3])));
  return parquetKey(day) === key ? day : undefined;
}

interface Column {
  name: (typeof eventColumns)[number];
  integer: boolean;
  nullable: boolean;
}

let columnsOfArchive: Column[] | undefined;

/**
 * Integer columns are INT64 (epoch milliseconds for times), the rest UTF-8 strings; nullability as in the archive schema.
 * Derived on first use (archive.ts and this module import each other).
 */
function columns(): Column[] {
  return (columnsOfArchive ??= eventColumns.map((name) => {
    // Unwrap defaults (columns added later, absent from older archives) and nullability down to the value's type.
    let field = ArchivedRowSchema.shape[name] as z.ZodType;
    let nullable = false;
    for (;;) {
      if (field instanceof z.ZodDefault) field = field.unwrap() as z.ZodType;
      else if (field instanceof z.ZodNullable || field instanceof z.ZodOptional) {
        nullable = true;
        field = field.unwrap() as z.ZodType;
      } else break;
    }
    return { name, integer: field instanceof z.ZodNumber, nullable };
  }));
}

function parquetSchema() {
  return [
    { name: "root", num_children: columns().length },
    ...columns().map(({ name, integer, nullable }) => ({
      name,
      repetition_type: nullable ? ("OPTIONAL" as const) : ("REQUIRED" as const),
      ...(integer ? { type: "INT64" as const } : { type: "BYTE_ARRAY" as const, converted_type: "UTF8" as const }),
    })),
  ];
}

/** Encodes rows (in the archive's order) as one Parquet file, a row group at a time. */
async function encodeParquet(rows: AsyncIterable<EventRow>): Promise<{ bytes: ArrayBuffer; rows: number }> {
  const writer = new ByteWriter();
  const parquet = new ParquetWriter({ writer, schema: parquetSchema(), createdBy: "download-audit" });
  let group: EventRow[] = [];
  let count = 0;
  const writeGroup = async () => {
    if (group.length === 0) return;
    await parquet.write({
      columnData: columns().map(({ name, integer }) => ({
        name,
        data: group.map((row) => (integer && row[name] !== null ? BigInt(row[name] as number) : row[name])),
      })),
      rowGroupSize: ROW_GROUP_ROWS,
    });
    count += group.length;
    group = [];
  };
  for await (const row of rows) {
    group.push(row);
    if (group.length === ROW_GROUP_ROWS) await writeGroup();
  }
  await writeGroup();
  await parquet.finish();
  return { bytes: writer.getBuffer(), rows: count };
}

function asyncBuffer(bytes: ArrayBuffer): AsyncBuffer {
  return { byteLength: bytes.byteLength, slice: (start, end) => bytes.slice(start, end) };
}

/** The rows of a Parquet copy, a row group at a time, converted back to ledger rows and checked like archive lines. */
export async function* parquetRows(bytes: ArrayBuffer): AsyncGenerator<EventRow> {
  const file = asyncBuffer(bytes);
  const metadata = await parquetMetadataAsync(file);
  const total = Number(metadata.num_rows);
  for (let start = 0; start < total; start += ROW_GROUP_ROWS) {
    const objects = await parquetReadObjects({ file, metadata, rowStart: start, rowEnd: Math.min(total, start + ROW_GROUP_ROWS) });
    for (const [index, object] of objects.entries()) {
      const converted = Object.fromEntries(eventColumns.map((name) => [name, typeof object[name] === "bigint" ? Number(object[name]) : (object[name] ?? null)]));
      const row = ArchivedRowSchema.safeParse(converted);
      if (!row.success) throw new ApiError("invalid_request", `Row ${start + index + 1} of the Parquet archive is not a ledger row`);
      yield { ...row.data, access_method: row.data.access_method ?? accessMethodOf(row.data.user_agent) };
    }
  }
}

/** SHA-256 (hex) and count of the rows as archive lines: equal to the NDJSON archive's exactly when the rows are the same. */
async function digestOfRows(rows: AsyncIterable<EventRow>): Promise<{ sha256: string; rows: number }> {
  const digest = new crypto.DigestStream("SHA-256");
  const writer = digest.getWriter();
  const encoder = new TextEncoder();
  let count = 0;
  for await (const row of rows) {
    await writer.write(encoder.encode(archiveLine(row)));
    count++;
  }
  await writer.close();
  const hex = [...new Uint8Array(await digest.digest)].map((byte) => byte.toString(16).padStart(2, "0")).join("");
  return { sha256: hex, rows: count };
}

/**
 * Writes the Parquet copy of a verified NDJSON archive (read from the very version verified), then reads the copy back
 * and checks that its rows hash to the archive's SHA-256. Overwrites an older copy: the NDJSON object is the record.
 */
export async function writeDayParquet(bucket: R2Bucket, manifest: ArchiveManifest): Promise<{ key: string; rows: number; size: number }> {
  const source = await bucket.get(manifest.key, { onlyIf: { etagMatches: manifest.etag } });
  if (!source || !("body" in source)) throw new ApiError("conflict", `${manifest.key} changed after it was verified`);
  const encoded = await encodeParquet(archivedRows(source.body));
  const check = await digestOfRows(parquetRows(encoded.bytes));
  if (check.rows !== manifest.rows || check.sha256 !== manifest.sha256)
    throw new Error(`The Parquet copy of ${manifest.key} does not hold the archived rows; nothing deleted`);
  const key = parquetKey(manifest.day);
  const written = await bucket.put(key, encoded.bytes, {
    httpMetadata: { contentType: "application/vnd.apache.parquet" },
    customMetadata: { rows: String(encoded.rows), sha256: manifest.sha256, day: dayLabel(manifest.day), source: manifest.key, format: "download-audit ledger rows, Parquet" },
  });
  return { key, rows: encoded.rows, size: written.size };
}
