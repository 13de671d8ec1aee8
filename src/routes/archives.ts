// HTTP surface of the R2 archives (admin): list them with their row counts, fetch an object, and restore one into the ledger.
import { createRoute, z } from "@hono/zod-openapi";
import { recordAdminAction } from "../core/ledger/admin-audit";
import { ArchiveSchema, archiveObject, listArchives, restoreArchive, RestoreResultSchema } from "../core/retention/archive";
import { requireScope } from "./middleware/auth";
import { jsonBody } from "./middleware/body";
import { authErrors, errorResponses, jsonRequestBody, router, security } from "./openapi";

export const archives = router();

const listRoute = createRoute({
  method: "get",
  path: "/v1/archives",
  operationId: "listArchives",
  tags: ["Maintenance"],
  summary: "Archive objects (one per day) with their row counts and checksums",
  security,
  middleware: [requireScope("admin")] as const,
  request: {
    query: z.object({
      limit: z.coerce.number().int().min(1).max(1000).default(100),
      cursor: z.string().max(1024).optional().openapi({ description: "next_cursor of the previous page" }),
    }),
  },
  responses: {
    200: {
      description: "A page of archives, oldest day first",
      content: { "application/json": { schema: z.object({ data: z.array(ArchiveSchema), next_cursor: z.string().nullable() }).openapi("ArchiveList") } },
    },
    ...errorResponses("invalid_request", ...authErrors),
  },
});

archives.openapi(listRoute, async (c) => c.json(await listArchives(c.env.BUCKET, c.req.valid("query")), 200));

const objectRoute = createRoute({
  method: "get",
  path: "/v1/archives/object",
  operationId: "getArchiveObject",
  tags: ["Maintenance"],
  summary: "Download one archive object (gzip NDJSON or its Parquet copy), for auditors and analytics engines",
  security,
  middleware: [requireScope("admin")] as const,
  request: {
    query: z.object({
      key: z.string().min(1).max(256).openapi({ example: "archive/events/date=2026-05-01/events.parquet" }),
    }),
  },
  responses: {
    200: {
      description: "The object's bytes as stored, with its row count and SHA-256 in headers",
      content: { "application/gzip": { schema: z.string().openapi({ format: "binary" }) }, "application/vnd.apache.parquet": { schema: z.string().openapi({ format: "binary" }) } },
    },
    ...errorResponses("invalid_request", "not_found", ...authErrors),
  },
});

archives.openapi(objectRoute, async (c) => {
  const object = await archiveObject(c.env.BUCKET, c.req.valid("query").key);
  return new Response(object.body, {
    headers: {
      "content-type": object.httpMetadata?.contentType ?? "application/octet-stream",
      "content-length": String(object.size),
      "content-disposition": `attachment; filename="${object.key.replace(/[^A-Za-z0-9._=-]+/g, "_")}"`,
      "x-archive-rows": object.customMetadata?.rows ?? "",
      "x-archive-sha256": object.customMetadata?.sha256 ?? "",
    },
  });
});

const restoreRoute = createRoute({
  method: "post",
  path: "/v1/archives/restore",
  operationId: "restoreArchive",
  tags: ["Maintenance"],
  summary: "Re-import an archive into the ledger (idempotent by event id)",
  description:
    "Restored events keep their ids, times and receipt times, so statistics do not count them twice. They are older than the retention period, so the next retention run archives (the object stays the same) and deletes them again unless RETENTION_DAYS was raised.",
  security,
  middleware: [requireScope("admin"), ...jsonBody(16 * 1024)] as const,
  request: {
    body: jsonRequestBody(z.strictObject({ key: z.string().min(1).max(256).openapi({ example: "archive/events/2026/05/01.ndjson.gz" }) }).openapi("ArchiveRestoreRequest")),
  },
  responses: {
    200: { description: "Rows in the archive and how many were restored", content: { "application/json": { schema: RestoreResultSchema } } },
    ...errorResponses("invalid_request", "not_found", "payload_too_large", "unsupported_media_type", ...authErrors),
  },
});

archives.openapi(restoreRoute, async (c) => {
  const result = await restoreArchive(c.env.BUCKET, c.var.db, c.req.valid("json").key);
  await recordAdminAction(c.env, c.var.config, { action: "archive.restore", apiKeyId: c.var.apiKeyId, resource: { type: "archive", id: result.key }, meta: result });
  return c.json(result, 200);
});
