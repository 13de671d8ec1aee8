// Parquet copies of retired days in a Hive-partitioned layout (archive/events/date=YYYY-MM-DD/events.parquet) that DuckDB,
// Spark, Trino, ClickHouse and R2 SQL read directly. Each copy is encoded from the day's verified NDJSON archive (the
// source of truth, during its read-back) and checked to hold the very same rows before it counts; restore reads it like
// the NDJSON object.
import { parquetMetadataAsync, parquetRead, parquetReadObjects, type AsyncBuffer } from "hyparquet";
import { ByteWriter, ParquetWriter } from "hyparquet-writer";
import { z } from "@hono/zod-openapi";
import { toHex } from "../../lib/crypto";
import { ApiError } from "../../lib/errors";
import { accessMethodOf } from "../counter/classify";
import type { EventRow } from "../ledger/ingest";
import { dayLabel, dayOf } from "../analytics/periods";
import { ArchivedRowSchema, eventColumns, type ArchiveManifest } from "./archive";

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
  /** ColumnDigest of the values given to the encoder. */
  sha256: string;
}

const encoder = new TextEncoder();

/**
 * SHA-256 of row groups column by column, each column's values (INT64 as numbers, absent as null) as one JSON array:
 * the same for the values encoded and for the values a copy decodes to exactly when they are equal, value for value.
 */
class ColumnDigest {
  private readonly digest = new crypto.DigestStream("SHA-256");
  private readonly writer = this.digest.getWriter();

  constructor() {
    // An abandoned digest rejects these; they are awaited only by finish().
    for (const settled of [this.writer.closed, this.digest.digest]) settled.catch(() => undefined);
  }

  async add(values: readonly unknown[]): Promise<void> {
    await this.writer.write(encoder.encode(`${JSON.stringify(values)}\n`));
  }

  async finish(): Promise<string> {
    await this.writer.close();
    return toHex(await this.digest.digest);
  }
}

/** Encodes rows (in the archive's order) as one Parquet file, a row group at a time, as they are added. */
export class ParquetEncoder {
  private readonly writer = new ByteWriter();
  private readonly parquet = new ParquetWriter({ writer: this.writer, schema: parquetSchema(), createdBy: "download-audit" });
  private readonly digest = new ColumnDigest();
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
    return { bytes: this.writer.getBuffer(), rows: this.rows, sha256: await this.digest.finish() };
  }

  private async writeGroup(): Promise<void> {
    const group = this.group;
    if (group.length === 0) return;
    this.group = [];
    const columnData = [];
    for (const { name, integer } of columns()) {
      const values = group.map((row) => row[name] ?? null);
      await this.digest.add(values);
      columnData.push({ name, data: integer ? values.map((value) => (value === null ? null : BigInt(value as number))) : values });
    }
    await this.parquet.write({ columnData, rowGroupSize: ROW_GROUP_ROWS });
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
 * The ColumnDigest and row count of what a Parquet copy decodes to, read a row group at a time with hyparquet (the same
 * reader restore uses), each column as decoded rather than assembled into row objects.
 */
async function digestOfCopy(bytes: ArrayBuffer): Promise<{ sha256: string; rows: number }> {
  const file = asyncBuffer(bytes);
  const metadata = await parquetMetadataAsync(file);
  const digest = new ColumnDigest();
  let rowStart = 0;
  for (const group of metadata.row_groups) {
    const rowEnd = rowStart + Number(group.num_rows);
    const chunks = new Map<string, { rowStart: number; data: ArrayLike<unknown> }[]>();
    await parquetRead({
      file,
      metadata,
      rowStart,
      rowEnd,
      onChunk: ({ columnName, columnData, rowStart: start }) => chunks.set(columnName, [...(chunks.get(columnName) ?? []), { rowStart: start, data: columnData }]),
    });
    for (const { name } of columns()) {
      const values: unknown[] = [];
      for (const chunk of (chunks.get(name) ?? []).sort((a, b) => a.rowStart - b.rowStart))
        for (let index = 0; index < chunk.data.length; index++) {
          const value = chunk.data[index];
          values.push(typeof value === "bigint" ? Number(value) : (value ?? null));
        }
      await digest.add(values);
    }
    rowStart = rowEnd;
  }
  return { sha256: await digest.finish(), rows: rowStart };
}

/**
 * Stores the Parquet copy of a verified NDJSON archive, encoded from the lines of the very version verified, after
 * decoding the copy and checking that it holds the archive's number of rows and, column by column, exactly the values
 * the encoder was given. Overwrites an older copy: the NDJSON object is the record.
 */
export async function storeDayParquet(bucket: R2Bucket, manifest: ArchiveManifest, encoded: EncodedParquet): Promise<{ key: string; rows: number; size: number }> {
  const check = await digestOfCopy(encoded.bytes);
  if (check.rows !== manifest.rows || encoded.rows !== manifest.rows || check.sha256 !== encoded.sha256)
    throw new Error(`The Parquet copy of ${manifest.key} does not hold the archived rows; nothing deleted`);
  const key = parquetKey(manifest.day);
  const written = await bucket.put(key, encoded.bytes, {
    httpMetadata: { contentType: "application/vnd.apache.parquet" },
    customMetadata: { rows: String(encoded.rows), sha256: manifest.sha256, day: dayLabel(manifest.day), source: manifest.key, format: "download-audit ledger rows, Parquet" },
  });
  return { key, rows: encoded.rows, size: written.size };
}
