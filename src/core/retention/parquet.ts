// Parquet copies of retired days in a Hive-partitioned layout (archive/events/date=YYYY-MM-DD/events.parquet) that DuckDB,
// Spark, Trino, ClickHouse and R2 SQL read directly. Each copy is encoded from the day's verified NDJSON archive (the
// source of truth, during its read-back) and checked to hold the very same rows before it counts; restore reads it like
// the NDJSON object.
import { parquetMetadataAsync, parquetReadObjects, type AsyncBuffer } from "hyparquet";
import { ByteWriter, ParquetWriter } from "hyparquet-writer";
import { z } from "@hono/zod-openapi";
import { toHex } from "../../lib/crypto";
import { ApiError } from "../../lib/errors";
import { accessMethodOf } from "../counter/classify";
import type { EventRow } from "../ledger/ingest";
import { dayLabel, dayOf } from "../analytics/periods";
import { ArchivedRowSchema, archiveLine, eventColumns, type ArchiveManifest } from "./archive";

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

export interface EncodedParquet {
  bytes: ArrayBuffer;
  rows: number;
}

/** Encodes rows (in the archive's order) as one Parquet file, a row group at a time, as they are added. */
export class ParquetEncoder {
  private readonly writer = new ByteWriter();
  private readonly parquet = new ParquetWriter({ writer: this.writer, schema: parquetSchema(), createdBy: "download-audit" });
  private group: EventRow[] = [];
  private rows = 0;

  async add(rows: Iterable<EventRow>): Promise<void> {
    for (const row of rows) {
      this.group.push(row);
      if (this.group.length === ROW_GROUP_ROWS) await this.writeGroup();
    }
  }

  async finish(): Promise<EncodedParquet> {
    await this.writeGroup();
    this.parquet.finish();
    return { bytes: this.writer.getBuffer(), rows: this.rows };
  }

  private async writeGroup(): Promise<void> {
    const group = this.group;
    if (group.length === 0) return;
    this.group = [];
    await this.parquet.write({
      columnData: columns().map(({ name, integer }) => ({
        name,
        data: group.map((row) => (integer && row[name] !== null ? BigInt(row[name] as number) : row[name])),
      })),
      rowGroupSize: ROW_GROUP_ROWS,
    });
    this.rows += group.length;
  }
}

function asyncBuffer(bytes: ArrayBuffer): AsyncBuffer {
  return { byteLength: bytes.byteLength, slice: (start, end) => bytes.slice(start, end) };
}

/** The rows of a Parquet copy as decoded, a row group at a time, INT64 columns as numbers; nothing checked yet. */
async function* parquetObjects(bytes: ArrayBuffer): AsyncGenerator<Record<string, unknown>> {
  const file = asyncBuffer(bytes);
  const metadata = await parquetMetadataAsync(file);
  const total = Number(metadata.num_rows);
  for (let start = 0; start < total; start += ROW_GROUP_ROWS) {
    const objects = await parquetReadObjects({ file, metadata, rowStart: start, rowEnd: Math.min(total, start + ROW_GROUP_ROWS) });
    for (const object of objects)
      yield Object.fromEntries(eventColumns.map((name) => [name, typeof object[name] === "bigint" ? Number(object[name]) : (object[name] ?? null)]));
  }
}

/** The rows of a Parquet copy, converted back to ledger rows and checked like archive lines (restore reads them). */
export async function* parquetRows(bytes: ArrayBuffer): AsyncGenerator<EventRow> {
  let index = 0;
  for await (const converted of parquetObjects(bytes)) {
    index++;
    const row = ArchivedRowSchema.safeParse(converted);
    if (!row.success) throw new ApiError("invalid_request", `Row ${index} of the Parquet archive is not a ledger row`);
    yield { ...row.data, access_method: row.data.access_method ?? accessMethodOf(row.data.user_agent) };
  }
}

/**
 * SHA-256 (hex) and count of decoded rows as archive lines: equal to the NDJSON archive's exactly when the rows are the
 * same, so the rows need no schema check of their own here.
 */
async function digestOfRows(rows: AsyncIterable<Record<string, unknown>>): Promise<{ sha256: string; rows: number }> {
  const digest = new crypto.DigestStream("SHA-256");
  const writer = digest.getWriter();
  const encoder = new TextEncoder();
  let count = 0;
  let lines: string[] = [];
  const write = async () => {
    await writer.write(encoder.encode(lines.join("")));
    lines = [];
  };
  for await (const row of rows) {
    lines.push(archiveLine(row as unknown as EventRow));
    count++;
    if (lines.length === 1_000) await write();
  }
  await write();
  await writer.close();
  return { sha256: toHex(await digest.digest), rows: count };
}

/**
 * Stores the Parquet copy of a verified NDJSON archive, encoded from the lines of the very version verified, after
 * reading the copy back and checking that its rows hash to the archive's SHA-256. Overwrites an older copy: the NDJSON
 * object is the record.
 */
export async function storeDayParquet(bucket: R2Bucket, manifest: ArchiveManifest, encoded: EncodedParquet): Promise<{ key: string; rows: number; size: number }> {
  const check = await digestOfRows(parquetObjects(encoded.bytes));
  if (check.rows !== manifest.rows || check.sha256 !== manifest.sha256)
    throw new Error(`The Parquet copy of ${manifest.key} does not hold the archived rows; nothing deleted`);
  const key = parquetKey(manifest.day);
  const written = await bucket.put(key, encoded.bytes, {
    httpMetadata: { contentType: "application/vnd.apache.parquet" },
    customMetadata: { rows: String(encoded.rows), sha256: manifest.sha256, day: dayLabel(manifest.day), source: manifest.key, format: "download-audit ledger rows, Parquet" },
  });
  return { key, rows: encoded.rows, size: written.size };
}
