// D1 tables of the records catalog (records, their files), background jobs and ZIP bundles.
import { index, integer, primaryKey, sqliteTable, text } from "drizzle-orm/sqlite-core";

/** A catalogued record (dataset): its metadata as sent, and the normalised form every reader uses. */
export const records = sqliteTable(
  "records",
  {
    id: text("id").primaryKey(),
    doi: text("doi"),
    title: text("title").notNull(),
    public: integer("public", { mode: "boolean" }).notNull().default(false),
    schema: text("schema", { enum: ["datacite4", "iso19115"] }).notNull(),
    /** The metadata document exactly as sent (JSON). */
    metadata: text("metadata").notNull(),
    /** The adapter's normalised record (JSON). */
    normalised: text("normalised").notNull(),
    /** Lower-cased title, DOI, creators and keywords: what `q` searches. */
    searchText: text("search_text").notNull(),
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
  },
  (table) => [index("records_doi").on(table.doi)],
);

/** Files of a record, stored in R2 under `object_key`. */
export const recordFiles = sqliteTable(
  "record_files",
  {
    recordId: text("record_id").notNull(),
    name: text("name").notNull(),
    size: integer("size").notNull(),
    contentType: text("content_type").notNull(),
    sha256: text("sha256").notNull(),
    objectKey: text("object_key").notNull(),
    uploadedAt: integer("uploaded_at").notNull(),
  },
  (table) => [primaryKey({ columns: [table.recordId, table.name] })],
);

/** Background jobs as clients see them; the work itself runs in a Durable Object per job. */
export const jobs = sqliteTable(
  "jobs",
  {
    id: text("id").primaryKey(),
    type: text("type", { enum: ["bundle"] }).notNull(),
    status: text("status", { enum: ["pending", "processing", "completed", "failed", "cancelled"] }).notNull(),
    progress: integer("progress").notNull().default(0),
    message: text("message"),
    /** JSON result of a completed job. */
    result: text("result"),
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
    /** The API key that created the job: only it (and admin keys) may see or cancel it. Null for jobs created before owners were recorded. */
    ownerKeyId: text("owner_key_id"),
  },
  (table) => [
    index("jobs_created").on(table.createdAt, table.id),
    index("jobs_status_created").on(table.status, table.createdAt, table.id),
    index("jobs_owner_created").on(table.ownerKeyId, table.createdAt, table.id),
    index("jobs_owner_status_created").on(table.ownerKeyId, table.status, table.createdAt, table.id),
  ],
);

/** ZIP bundles of records; the object lives in R2 until `expires_at`, when the daily cron deletes it. */
export const bundles = sqliteTable(
  "bundles",
  {
    id: text("id").primaryKey(),
    jobId: text("job_id").notNull(),
    recordIds: text("record_ids", { mode: "json" }).$type<string[]>().notNull(),
    includeFiles: integer("include_files", { mode: "boolean" }).notNull(),
    objectKey: text("object_key").notNull(),
    /** The requesting user, sealed (AES-GCM) so no personal data sits here in plain text. */
    sealedUser: text("sealed_user"),
    /** Set on completion: size of the ZIP and the summary a `bundle.download` event carries. */
    zipSize: integer("zip_size"),
    summary: text("summary"),
    createdAt: integer("created_at").notNull(),
    expiresAt: integer("expires_at").notNull(),
    deletedAt: integer("deleted_at"),
    /** The API key whose job built the bundle; its signed links carry this id and are refused for any other bundle owner. */
    ownerKeyId: text("owner_key_id"),
    /** Upper bound of the ZIP's size (PDFs estimated, files at size), counted against the owner's quota until zip_size is known. */
    estimatedBytes: integer("estimated_bytes"),
  },
  (table) => [index("bundles_expires").on(table.deletedAt, table.expiresAt), index("bundles_job").on(table.jobId)],
);
