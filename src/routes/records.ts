// HTTP surface of the records catalog: records, their files (streamed into R2), and anonymous downloads of public records.
import { createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import type { AppEnv } from "../app-env";
import {
  deleteRecord,
  FileNameSchema,
  FileSchema,
  listFiles,
  listRecords,
  MAX_FILE_BYTES,
  putFile,
  putRecord,
  recordForDownload,
  RecordIdSchema,
  RecordInputSchema,
  RecordListSchema,
  RecordSchema,
  requireRecord,
  uploadContentType,
  type RecordForDownload,
} from "../core/catalog/catalog";
import { ensureMetadataPdf, metadataPdfName } from "../core/catalog/pdf";
import { presentedKey, requireScope } from "./middleware/auth";
import { jsonBody, MB } from "./middleware/body";
import { ApiError } from "../lib/errors";
import { authErrors, errorResponses, router, security, securityWithScope } from "./openapi";
import { failDownload, serveObject } from "./serve-download";
import { sessionEnv } from "./middleware/d1-session";

export const recordsRouter = router();

const json = <T extends z.ZodType>(schema: T, description: string) => ({ description, content: { "application/json": { schema } } });
const binary = (description: string, type = "application/octet-stream") => ({
  description,
  content: { [type]: { schema: z.string().openapi({ format: "binary" }) } },
});
export const downloadResponses = {
  200: binary("The whole file"),
  206: binary("The requested byte range (`Range: bytes=start-end`)"),
  304: { description: "Not modified (`If-None-Match` matched the ETag)" },
};

const recordParams = z.object({ id: RecordIdSchema });
const fileParams = z.object({ id: RecordIdSchema, name: FileNameSchema });

const putRecordRoute = createRoute({
  method: "put",
  path: "/v1/records/{id}",
  operationId: "putRecord",
  tags: ["Records"],
  summary: "Create or replace a record (metadata normalised from DataCite 4 or ISO 19115 JSON)",
  security,
  middleware: [requireScope("catalog"), ...jsonBody(1 * MB)] as const,
  request: { params: recordParams, body: { required: true, content: { "application/json": { schema: RecordInputSchema } } } },
  responses: {
    201: json(RecordSchema, "Created"),
    200: json(RecordSchema, "Replaced"),
    ...errorResponses("invalid_request", "payload_too_large", "unsupported_media_type", ...authErrors),
  },
});

recordsRouter.openapi(putRecordRoute, async (c) => {
  const { record, created } = await putRecord(sessionEnv(c), c.req.valid("param").id, c.req.valid("json"));
  return c.json(record, created ? 201 : 200);
});

const getRecordRoute = createRoute({
  method: "get",
  path: "/v1/records/{id}",
  operationId: "getRecord",
  tags: ["Records"],
  summary: "One record with its metadata, normalised record and files",
  security,
  middleware: [requireScope("catalog")] as const,
  request: { params: recordParams },
  responses: { 200: json(RecordSchema, "The record"), ...errorResponses("invalid_request", "not_found", ...authErrors) },
});

recordsRouter.openapi(getRecordRoute, async (c) => c.json(await requireRecord(c.var.db, c.req.valid("param").id), 200));

const listRecordsRoute = createRoute({
  method: "get",
  path: "/v1/records",
  operationId: "listRecords",
  tags: ["Records"],
  summary: "Records ordered by id; `q` searches title, DOI, creators and keywords",
  security,
  middleware: [requireScope("catalog")] as const,
  request: {
    query: z.object({
      q: z.string().trim().min(1).max(200).optional(),
      limit: z.coerce.number().int().min(1).max(500).default(50),
      cursor: z.string().max(512).optional(),
    }),
  },
  responses: { 200: json(RecordListSchema, "A page of records"), ...errorResponses("invalid_request", ...authErrors) },
});

recordsRouter.openapi(listRecordsRoute, async (c) => c.json(await listRecords(c.var.db, c.req.valid("query")), 200));

const deleteRecordRoute = createRoute({
  method: "delete",
  path: "/v1/records/{id}",
  operationId: "deleteRecord",
  tags: ["Records"],
  summary: "Delete a record, its files and cached PDFs",
  security,
  middleware: [requireScope("catalog")] as const,
  request: { params: recordParams },
  responses: { 204: { description: "Deleted" }, ...errorResponses("invalid_request", "not_found", ...authErrors) },
});

recordsRouter.openapi(deleteRecordRoute, async (c) => {
  await deleteRecord(sessionEnv(c), c.req.valid("param").id);
  return c.body(null, 204);
});

const putFileRoute = createRoute({
  method: "put",
  path: "/v1/records/{id}/files/{name}",
  operationId: "uploadFile",
  tags: ["Records"],
  summary: "Upload (or replace) a file of a record; the body is streamed into R2 and hashed on the way",
  description: `Needs \`Content-Length\` (at most ${MAX_FILE_BYTES} bytes, R2's single-upload ceiling). The file's \`Content-Type\` is the request's (a media type of at most 255 characters).`,
  security,
  middleware: [requireScope("catalog")] as const,
  request: { params: fileParams, body: { content: { "application/octet-stream": { schema: z.string().openapi({ format: "binary" }) } } } },
  responses: {
    201: json(FileSchema, "Stored"),
    200: json(FileSchema, "Replaced"),
    ...errorResponses("invalid_request", "not_found", "conflict", "payload_too_large", ...authErrors),
  },
});

recordsRouter.openapi(putFileRoute, async (c) => {
  const { id, name } = c.req.valid("param");
  const declared = c.req.header("content-length");
  if (!declared || !/^\d+$/.test(declared))
    throw new ApiError("invalid_request", "Content-Length is required", { details: [{ path: "Content-Length", message: "required: the upload is streamed into storage" }] });
  const length = Number(declared);
  if (length > MAX_FILE_BYTES) throw new ApiError("payload_too_large", `Files are limited to ${MAX_FILE_BYTES} bytes`);
  const body = c.req.raw.body ?? new ReadableStream<Uint8Array>({ start: (controller) => controller.close() });
  const contentType = uploadContentType(c.req.header("content-type"));
  const { file, created } = await putFile(sessionEnv(c), id, name, body, length, contentType);
  return c.json(file, created ? 201 : 200);
});

const listFilesRoute = createRoute({
  method: "get",
  path: "/v1/records/{id}/files",
  operationId: "listFiles",
  tags: ["Records"],
  summary: "Files of a record with size, content type and SHA-256",
  security,
  middleware: [requireScope("catalog")] as const,
  request: { params: recordParams },
  responses: { 200: json(z.object({ data: z.array(FileSchema) }), "The files"), ...errorResponses("invalid_request", "not_found", ...authErrors) },
});

recordsRouter.openapi(listFilesRoute, async (c) => c.json({ data: await listFiles(c.var.db, c.req.valid("param").id) }, 200));

/**
 * A public record is open to anyone. A private record and a missing one answer alike, so no caller learns that a
 * private record exists: without a key both are 404; a presented key is checked first (401/403), and only a `catalog`
 * key sees the private record.
 */
async function downloadableRecord(c: Context<AppEnv>, id: string): Promise<RecordForDownload> {
  const record = await recordForDownload(c.var.db, id);
  if (record?.public) return record;
  const keyPresented = presentedKey(c.req.raw.headers) !== undefined;
  if (keyPresented) await requireScope("catalog")(c, async () => {});
  if (!record || !keyPresented) throw new ApiError("not_found", `No record with id ${id}`);
  return record;
}

const resourceOf = (record: RecordForDownload) => ({ type: "dataset" as const, id: record.id, doi: record.doi, title: record.title });

const downloadFileRoute = createRoute({
  method: "get",
  path: "/v1/records/{id}/files/{name}",
  operationId: "downloadFile",
  tags: ["Downloads"],
  summary: "Download a file of a public record without a key (other records need a `catalog` key)",
  description:
    "Rate limited per client IP and recorded as one `download` event, like signed links. Without a key, a record that is not public answers 404 like a missing one.",
  security: [{}, ...securityWithScope("catalog")],
  request: { params: fileParams },
  responses: { ...downloadResponses, ...errorResponses("invalid_request", "not_found", ...authErrors) },
});

recordsRouter.openapi(downloadFileRoute, async (c) => {
  const { id, name } = c.req.valid("param");
  const record = await downloadableRecord(c, id);
  const audit = { action: "download" as const, resource: resourceOf(record), meta: { file: name } };
  const file = record.files.find((candidate) => candidate.name === name);
  if (!file) return failDownload(c, audit, "not_found", `Record ${id} has no file named ${name}`);
  return serveObject(c, file.objectKey, file.name, audit);
});

const metadataPdfRoute = createRoute({
  method: "get",
  path: "/v1/records/{id}/metadata.pdf",
  operationId: "downloadMetadataPdf",
  tags: ["Downloads"],
  summary: "The record's metadata as PDF (rendered once per version of the record, then served from R2)",
  description:
    "Public records need no key; others need a `catalog` key (without a key they answer 404 like a missing record). Recorded as one `metadata.download` event.",
  security: [{}, ...securityWithScope("catalog")],
  request: { params: recordParams },
  responses: { ...downloadResponses, 200: binary("The PDF", "application/pdf"), ...errorResponses("invalid_request", "not_found", ...authErrors) },
});

recordsRouter.openapi(metadataPdfRoute, async (c) => {
  const record = await downloadableRecord(c, c.req.valid("param").id);
  const key = await ensureMetadataPdf(c.env.BUCKET, record);
  return serveObject(c, key, metadataPdfName(record.id), { action: "metadata.download", resource: resourceOf(record) });
});
