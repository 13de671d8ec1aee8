// The records catalog: records with normalised metadata, their files streamed into R2, and the R2 key layout.
import { z } from "@hono/zod-openapi";
import { and, asc, eq, gt, sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { recordFiles, records } from "../../db/catalog-schema";
import { base64UrlToText, textToBase64Url } from "../../lib/base64url";
import { ApiError } from "../../lib/errors";
import { DoiSchema } from "../ledger/event-schema";
import { fromDataCite } from "./metadata/datacite";
import { fromIso19115 } from "./metadata/iso19115";
import { NormalisedRecordSchema, searchTextOf, type NormalisedRecord } from "./metadata/normalised";

export const RECORD_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;
/** File names are one path segment of letters (any script), digits and a few marks: no slashes, no leading dot. */
export const FILE_NAME_PATTERN = /^[\p{L}\p{N}_(][\p{L}\p{N} ._()+,=@-]{0,254}$/u;
/** R2's ceiling for a single PUT (5 GiB less 5 MiB); larger files need multipart uploads, which this endpoint does not offer. */
export const MAX_FILE_BYTES = 5 * 1024 ** 3 - 5 * 1024 ** 2;

export const RecordIdSchema = z
  .string()
  .regex(RECORD_ID_PATTERN, "must be 1-128 characters: letters, digits and . _ : - (starting with a letter or digit)")
  .openapi({ example: "odp-1234" });
/** Invisible characters (Unicode Default_Ignorable_Code_Point: zero-width and bidi controls, Hangul fillers, ...). */
const INVISIBLE = /\p{Default_Ignorable_Code_Point}/u;
/** File names are stored in NFC, so a name typed with combining marks and its precomposed twin are one name. */
export const FileNameSchema = z
  .string()
  .normalize("NFC")
  .regex(FILE_NAME_PATTERN, "must be one path segment of 1-255 characters: letters, digits, space and . _ ( ) + , = @ - (not starting with . or space)")
  .refine((name) => !INVISIBLE.test(name), "must not contain invisible or bidirectional control characters")
  // The pattern is given as its source: zod-to-openapi would otherwise write the literal's `u` flag into the string
  // ("…$/u"), a pattern no file name matches. JSON Schema patterns are read with Unicode semantics, so \p{…} stays valid.
  .openapi({ example: "temperatures.csv", pattern: FILE_NAME_PATTERN.source });

/**
 * What two file names look like to a person: NFKC with case folded (upper then lower case, so "ß" meets "SS"), so
 * `Data.csv`, `data.csv` and the full-width `ｄata.csv` are one name. Mixed-script look-alikes (Cyrillic "а") are not folded.
 */
export const fileNameFold = (name: string) => name.normalize("NFKC").toUpperCase().toLowerCase().normalize("NFKC");

/** The longest `Content-Type` stored for a file: a header becomes stored data, so it is capped like a body field. */
export const MAX_CONTENT_TYPE_CHARS = 255;
const token = "[!#$%&'*+.^_`|~0-9A-Za-z-]+";
const MEDIA_TYPE_PATTERN = new RegExp(`^${token}/${token}(\\s*;\\s*${token}=(${token}|"[^"\\\\]*"))*$`);

/** The stored content type of an upload: the request's `Content-Type` when it is a media type of at most 255 characters. */
export function uploadContentType(header: string | undefined): string {
  const value = header?.trim() || "application/octet-stream";
  if (value.length > MAX_CONTENT_TYPE_CHARS || !MEDIA_TYPE_PATTERN.test(value))
    throw new ApiError("invalid_request", "Content-Type is not a media type", {
      details: [{ path: "Content-Type", message: `must be a media type such as text/csv, at most ${MAX_CONTENT_TYPE_CHARS} characters` }],
    });
  return value;
}

export const MetadataSchemaName = z.enum(["datacite4", "iso19115"]);
export type MetadataSchemaName = z.infer<typeof MetadataSchemaName>;

export const RecordInputSchema = z
  .strictObject({
    doi: DoiSchema.optional().openapi({ description: "Defaults to the DOI found in the metadata", example: "10.15493/odp.1234" }),
    title: z.string().trim().min(1).max(1000),
    public: z.boolean().default(false).openapi({ description: "Public records' files can be downloaded without a key" }),
    schema: MetadataSchemaName,
    metadata: z.record(z.string(), z.unknown()).openapi({ description: "A DataCite 4 JSON or ISO 19115 JSON document" }),
  })
  .openapi("RecordInput");
export type RecordInput = z.infer<typeof RecordInputSchema>;

export const FileSchema = z
  .object({
    name: z.string(),
    size: z.number().int(),
    content_type: z.string(),
    sha256: z.string(),
    uploaded_at: z.string(),
  })
  .openapi("RecordFile");
export type CatalogFile = z.infer<typeof FileSchema>;

export const RecordSummarySchema = z
  .object({
    id: z.string(),
    doi: z.string().nullable(),
    title: z.string(),
    public: z.boolean(),
    schema: MetadataSchemaName,
    created_at: z.string(),
    updated_at: z.string(),
  })
  .openapi("RecordSummary");

export const RecordSchema = RecordSummarySchema.extend({
  metadata: z.record(z.string(), z.unknown()),
  normalised: NormalisedRecordSchema,
  files: z.array(FileSchema),
}).openapi("Record");
export type CatalogRecord = z.infer<typeof RecordSchema>;

export const RecordListSchema = z.object({ data: z.array(RecordSummarySchema), next_cursor: z.string().nullable() }).openapi("RecordList");

/** What serving and bundling need of a record: no raw metadata. */
export interface RecordForDownload {
  id: string;
  doi: string | null;
  title: string;
  public: boolean;
  normalised: NormalisedRecord;
  updatedAt: number;
  files: StoredFile[];
}

export interface StoredFile extends CatalogFile {
  objectKey: string;
}

export const normaliseMetadata = (schema: MetadataSchemaName, metadata: unknown): NormalisedRecord =>
  schema === "datacite4" ? fromDataCite(metadata) : fromIso19115(metadata);

export const recordPrefix = (recordId: string) => `records/${recordId}/`;
export const metadataPdfPrefix = (recordId: string) => `${recordPrefix(recordId)}metadata/`;
const fileObjectKey = (recordId: string) => `${recordPrefix(recordId)}files/${crypto.randomUUID()}`;

const iso = (ms: number) => new Date(ms).toISOString();

type RecordRow = typeof records.$inferSelect;
type FileRow = typeof recordFiles.$inferSelect;

function toFile(row: FileRow): StoredFile {
  return { name: row.name, size: row.size, content_type: row.contentType, sha256: row.sha256, uploaded_at: iso(row.uploadedAt), objectKey: row.objectKey };
}

const publicFile = ({ objectKey: _objectKey, ...file }: StoredFile): CatalogFile => file;

function toSummary(row: Pick<RecordRow, "id" | "doi" | "title" | "public" | "schema" | "createdAt" | "updatedAt">) {
  return { id: row.id, doi: row.doi, title: row.title, public: row.public, schema: row.schema, created_at: iso(row.createdAt), updated_at: iso(row.updatedAt) };
}

/** Deletes every R2 object under a prefix (listing is paginated; deletes go 1,000 keys at a time). */
export async function deletePrefix(bucket: R2Bucket, prefix: string, keep: Set<string> = new Set()): Promise<void> {
  let cursor: string | undefined;
  do {
    const page = await bucket.list({ prefix, cursor, limit: 1000 });
    const keys = page.objects.map((object) => object.key).filter((key) => !keep.has(key));
    if (keys.length > 0) await bucket.delete(keys);
    cursor = page.truncated ? page.cursor : undefined;
  } while (cursor);
}

/** Creates or replaces a record; its files stay. Cached metadata PDFs of the old version are dropped. */
export async function putRecord(env: Env, id: string, input: RecordInput, now = Date.now()): Promise<{ record: CatalogRecord; created: boolean }> {
  const normalised = normaliseMetadata(input.schema, input.metadata);
  const doi = input.doi ?? normalised.doi;
  const values = {
    id,
    doi,
    title: input.title,
    public: input.public,
    schema: input.schema,
    metadata: JSON.stringify(input.metadata),
    normalised: JSON.stringify(normalised),
    searchText: searchTextOf(input.title, normalised),
    createdAt: now,
    updatedAt: now,
  };
  const { createdAt: _createdAt, ...replaced } = values;
  const [stored] = await drizzle(env.DB)
    .insert(records)
    .values(values)
    .onConflictDoUpdate({ target: records.id, set: replaced })
    .returning({ createdAt: records.createdAt });
  await deletePrefix(env.BUCKET, metadataPdfPrefix(id));
  return { record: (await getRecord(env.DB, id))!, created: stored!.createdAt === now };
}

export async function getRecord(db: D1Database, id: string): Promise<CatalogRecord | null> {
  const orm = drizzle(db);
  const [[row], files] = await orm.batch([
    orm.select().from(records).where(eq(records.id, id)).limit(1),
    orm.select().from(recordFiles).where(eq(recordFiles.recordId, id)).orderBy(asc(recordFiles.name)),
  ]);
  if (!row) return null;
  return {
    ...toSummary(row),
    metadata: JSON.parse(row.metadata) as Record<string, unknown>,
    normalised: JSON.parse(row.normalised) as NormalisedRecord,
    files: files.map((file) => publicFile(toFile(file))),
  };
}

export async function requireRecord(db: D1Database, id: string): Promise<CatalogRecord> {
  const record = await getRecord(db, id);
  if (!record) throw new ApiError("not_found", `No record with id ${id}`);
  return record;
}

const escapeLike = (text: string) => text.replace(/[\\%_]/g, (char) => `\\${char}`);
const encodeCursor = (id: string) => textToBase64Url(id);

function decodeCursor(cursor: string): string {
  const id = base64UrlToText(cursor);
  if (id !== null && RECORD_ID_PATTERN.test(id)) return id;
  throw new ApiError("invalid_request", "The cursor is not valid", { details: [{ path: "cursor", message: "not a cursor returned by this API" }] });
}

/** Records ordered by id, optionally filtered by `q` (a substring of title, DOI, creators, keywords), keyset-paginated. */
export async function listRecords(db: D1Database, options: { q?: string; limit: number; cursor?: string }) {
  const conditions = [
    options.q ? sql`${records.searchText} LIKE ${`%${escapeLike(options.q.toLowerCase())}%`} ESCAPE '\\'` : undefined,
    options.cursor ? gt(records.id, decodeCursor(options.cursor)) : undefined,
  ];
  const rows = await drizzle(db)
    .select({ id: records.id, doi: records.doi, title: records.title, public: records.public, schema: records.schema, createdAt: records.createdAt, updatedAt: records.updatedAt })
    .from(records)
    .where(and(...conditions))
    .orderBy(asc(records.id))
    .limit(options.limit + 1);
  const page = rows.slice(0, options.limit);
  return { data: page.map(toSummary), next_cursor: rows.length > options.limit ? encodeCursor(page.at(-1)!.id) : null };
}

/** Deletes a record, its file rows and every R2 object it owns (files and cached PDFs). */
export async function deleteRecord(env: Env, id: string): Promise<void> {
  const orm = drizzle(env.DB);
  const [deleted] = await orm.batch([
    orm.delete(records).where(eq(records.id, id)).returning({ id: records.id }),
    orm.delete(recordFiles).where(eq(recordFiles.recordId, id)),
  ]);
  if (deleted.length === 0) throw new ApiError("not_found", `No record with id ${id}`);
  await deletePrefix(env.BUCKET, recordPrefix(id));
}

export async function listFiles(db: D1Database, recordId: string): Promise<CatalogFile[]> {
  await requireRecord(db, recordId);
  const rows = await drizzle(db).select().from(recordFiles).where(eq(recordFiles.recordId, recordId)).orderBy(asc(recordFiles.name));
  return rows.map((row) => publicFile(toFile(row)));
}

/** 409 when the record already holds another file whose name folds to the same (see `fileNameFold`); the same name is a replacement. */
async function refuseLookAlikeName(db: D1Database, recordId: string, name: string): Promise<void> {
  const folded = fileNameFold(name);
  const rows = await drizzle(db).select({ name: recordFiles.name }).from(recordFiles).where(eq(recordFiles.recordId, recordId));
  const twin = rows.find((row) => row.name !== name && fileNameFold(row.name) === folded);
  if (twin)
    throw new ApiError("conflict", `Record ${recordId} already has a file named ${twin.name}, which looks the same as ${name}`, {
      details: { existing_file: twin.name },
    });
}

const toHex = (buffer: ArrayBuffer) => [...new Uint8Array(buffer)].map((byte) => byte.toString(16).padStart(2, "0")).join("");

/**
 * Streams `body` into R2 under a fresh key while hashing it: a TransformStream feeds each chunk to a DigestStream and
 * on to R2, so backpressure holds memory to a few chunks whatever the file size. The declared length makes the stream a
 * FixedLengthStream, which R2 needs; a body shorter or longer than declared fails the upload.
 */
export async function putFile(
  env: Env,
  recordId: string,
  name: string,
  body: ReadableStream<Uint8Array>,
  length: number,
  contentType: string,
  now = Date.now(),
): Promise<{ file: CatalogFile; created: boolean }> {
  await requireRecord(env.DB, recordId);
  await refuseLookAlikeName(env.DB, recordId, name);
  const objectKey = fileObjectKey(recordId);
  const digest = new crypto.DigestStream("SHA-256");
  const digestWriter = digest.getWriter();
  const hashing = new TransformStream<Uint8Array, Uint8Array>({
    async transform(chunk, controller) {
      await digestWriter.write(chunk);
      controller.enqueue(chunk);
    },
    async flush() {
      await digestWriter.close();
    },
  });
  const fixed = new FixedLengthStream(length);
  try {
    await Promise.all([
      env.BUCKET.put(objectKey, fixed.readable, { httpMetadata: { contentType } }),
      body.pipeThrough(hashing).pipeTo(fixed.writable),
    ]);
  } catch (error) {
    await env.BUCKET.delete(objectKey);
    throw new ApiError("invalid_request", "The upload did not match its Content-Length or was interrupted", {
      details: [{ path: "(body)", message: String(error instanceof Error ? error.message : error) }],
    });
  }
  const sha256 = toHex(await digest.digest);
  const orm = drizzle(env.DB);
  const [previous] = await orm.select({ objectKey: recordFiles.objectKey }).from(recordFiles).where(and(eq(recordFiles.recordId, recordId), eq(recordFiles.name, name)));
  const row = { recordId, name, size: length, contentType, sha256, objectKey, uploadedAt: now };
  const [, recordStillThere] = await orm.batch([
    orm
      .insert(recordFiles)
      .values(row)
      .onConflictDoUpdate({ target: [recordFiles.recordId, recordFiles.name], set: { size: length, contentType, sha256, objectKey, uploadedAt: now } }),
    orm.select({ id: records.id }).from(records).where(eq(records.id, recordId)),
  ]);
  if (recordStillThere.length === 0) {
    await orm.delete(recordFiles).where(eq(recordFiles.recordId, recordId));
    await env.BUCKET.delete(objectKey);
    throw new ApiError("not_found", `Record ${recordId} was deleted during the upload`);
  }
  await Promise.all([previous ? env.BUCKET.delete(previous.objectKey) : undefined, deletePrefix(env.BUCKET, metadataPdfPrefix(recordId))]);
  return { file: publicFile(toFile(row)), created: !previous };
}

function parseForDownload(row: Pick<RecordRow, "id" | "doi" | "title" | "public" | "normalised" | "updatedAt">, files: StoredFile[]): RecordForDownload {
  return { id: row.id, doi: row.doi, title: row.title, public: row.public, normalised: JSON.parse(row.normalised) as NormalisedRecord, updatedAt: row.updatedAt, files };
}

/** One record with its stored files, for serving; null when it does not exist. */
export async function recordForDownload(db: D1Database, id: string): Promise<RecordForDownload | null> {
  const [found] = await recordsForDownload(db, [id]);
  return found ?? null;
}

/**
 * Records with their files in ONE query (files aggregated per record with json_group_array), in the order asked;
 * ids that do not exist are simply absent. The id list travels as one JSON parameter, so 500 ids bind one parameter.
 */
export async function recordsForDownload(db: D1Database, ids: string[]): Promise<RecordForDownload[]> {
  const { results } = await db
    .prepare(
      `SELECT r.id, r.doi, r.title, r.public, r.normalised, r.updated_at AS updatedAt,
        (SELECT json_group_array(json_object('name', f.name, 'size', f.size, 'content_type', f.content_type, 'sha256', f.sha256,
           'uploaded_at', f.uploaded_at, 'object_key', f.object_key))
         FROM (SELECT * FROM record_files WHERE record_id = r.id ORDER BY name) AS f) AS files
       FROM records AS r WHERE r.id IN (SELECT value FROM json_each(?1))`,
    )
    .bind(JSON.stringify(ids))
    .all<{ id: string; doi: string | null; title: string; public: number; normalised: string; updatedAt: number; files: string }>();
  const byId = new Map(
    results.map((row) => {
      const files = (JSON.parse(row.files) as { name: string; size: number; content_type: string; sha256: string; uploaded_at: number; object_key: string }[]).map(
        (file): StoredFile => ({ name: file.name, size: file.size, content_type: file.content_type, sha256: file.sha256, uploaded_at: iso(file.uploaded_at), objectKey: file.object_key }),
      );
      return [row.id, parseForDownload({ ...row, public: row.public === 1 }, files)];
    }),
  );
  return ids.flatMap((id) => (byId.has(id) ? [byId.get(id)!] : []));
}
