// The portal flow: signed download links (POST /v1/download-links) and serving them (GET /d/{token}) with one audit event each.
import { createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import type { AppEnv } from "../app-env";
import { bundleEventMeta, getBundle } from "../core/bundles/bundles";
import { FileNameSchema, recordForDownload, RecordIdSchema, type RecordForDownload } from "../core/catalog/catalog";
import { ensureMetadataPdf, metadataPdfName } from "../core/catalog/pdf";
import { DownloadUserSchema, mintToken, openUser, sealUser, verifyToken, type DownloadTarget, type DownloadUser, type TokenClaims } from "../core/catalog/tokens";
import { requireScope } from "./middleware/auth";
import { jsonBody } from "./middleware/body";
import { ApiError } from "../lib/errors";
import { linkOrigin } from "./bundles";
import { authErrors, errorResponses, router, security } from "./openapi";
import { downloadResponses } from "./records";
import { failDownload, serveObject, type DownloadAudit } from "./serve-download";

export const downloadsRouter = router();

function tokenSecret(c: Context<AppEnv>): string {
  const secret = c.var.config.downloadTokenSecret;
  if (!secret) throw new ApiError("internal", "Download links are not configured (DOWNLOAD_TOKEN_SECRET)");
  return secret;
}

const DownloadLinkRequestSchema = z
  .strictObject({
    record_id: RecordIdSchema,
    file: FileNameSchema.optional().openapi({ description: "A file of the record; omit for the record's metadata PDF" }),
    user: DownloadUserSchema.optional().openapi({ description: "Who the link is for; recorded as the download's actor" }),
    ttl_seconds: z.number().int().min(1).max(3600).optional().openapi({ description: "Lifetime of the link; default DOWNLOAD_LINK_TTL_SECONDS" }),
  })
  .openapi("DownloadLinkRequest");

const DownloadLinkSchema = z.object({ url: z.string(), expires_at: z.string() }).openapi("DownloadLink");

const createLinkRoute = createRoute({
  method: "post",
  path: "/v1/download-links",
  operationId: "createDownloadLink",
  tags: ["Downloads"],
  summary: "A signed, expiring link to a record's file or metadata PDF, bound to the user",
  security,
  middleware: [requireScope("ingest"), ...jsonBody(64 * 1024)] as const,
  request: { body: { required: true, content: { "application/json": { schema: DownloadLinkRequestSchema } } } },
  responses: {
    201: { description: "Created", content: { "application/json": { schema: DownloadLinkSchema } } },
    ...errorResponses("invalid_request", "not_found", "payload_too_large", "unsupported_media_type", ...authErrors),
  },
});

downloadsRouter.openapi(createLinkRoute, async (c) => {
  const secret = tokenSecret(c);
  const request = c.req.valid("json");
  const record = await recordForDownload(c.var.db, request.record_id);
  if (!record) throw new ApiError("not_found", `No record with id ${request.record_id}`);
  if (request.file && !record.files.some((file) => file.name === request.file))
    throw new ApiError("not_found", `Record ${request.record_id} has no file named ${request.file}`);
  const expiresAt = Math.floor(Date.now() / 1000) + (request.ttl_seconds ?? c.var.config.downloadLinkTtlSeconds);
  const token = await mintToken(secret, {
    target: request.file ? { kind: "file", recordId: record.id, file: request.file } : { kind: "metadata", recordId: record.id },
    sealedUser: await sealUser(secret, request.user),
    expiresAt,
  });
  return c.json({ url: `${linkOrigin(c.var.config.publicBaseUrl, c.req.url)}/d/${token}`, expires_at: new Date(expiresAt * 1000).toISOString() }, 201);
});

const datasetResource = (record: RecordForDownload) => ({ type: "dataset" as const, id: record.id, doi: record.doi, title: record.title });

/** The audit event's action and resource for a token's target, before anything is loaded. */
function auditFor(claims: TokenClaims, user: DownloadUser | null): DownloadAudit {
  const { target } = claims;
  if (target.kind === "bundle") return { action: "bundle.download", resource: { type: "bundle", id: target.bundleId }, user, meta: { bundle_id: target.bundleId } };
  if (target.kind === "metadata") return { action: "metadata.download", resource: { type: "dataset", id: target.recordId }, user };
  return { action: "download", resource: { type: "dataset", id: target.recordId, file: target.file }, user, meta: { file: target.file } };
}

async function serveRecordTarget(c: Context<AppEnv>, target: Exclude<DownloadTarget, { kind: "bundle" }>, audit: DownloadAudit): Promise<Response> {
  const record = await recordForDownload(c.var.db, target.recordId);
  if (!record) return failDownload(c, audit, "not_found", `Record ${target.recordId} no longer exists`);
  const recordAudit = { ...audit, resource: { ...datasetResource(record), file: audit.resource?.file } };
  if (target.kind === "metadata") return serveObject(c, await ensureMetadataPdf(c.env.BUCKET, record), metadataPdfName(record.id), recordAudit);
  const file = record.files.find((candidate) => candidate.name === target.file);
  if (!file) return failDownload(c, recordAudit, "not_found", `Record ${record.id} no longer has a file named ${target.file}`);
  return serveObject(c, file.objectKey, file.name, recordAudit);
}

async function serveBundle(c: Context<AppEnv>, target: Extract<DownloadTarget, { kind: "bundle" }>, audit: DownloadAudit): Promise<Response> {
  const { bundleId } = target;
  const bundle = await getBundle(c.var.db, bundleId);
  if (!bundle || bundle.zipSize === null) return failDownload(c, audit, "not_found", `Bundle ${bundleId} does not exist or is not ready`);
  if (bundle.ownerKeyId !== target.ownerKeyId) return failDownload(c, audit, "forbidden", "This download link is not valid");
  const bundleAudit: DownloadAudit = {
    ...audit,
    resource: { type: "bundle", id: bundle.id, title: `Bundle of ${bundle.recordIds.length} record(s)` },
    meta: bundleEventMeta(bundle),
  };
  if (bundle.deletedAt !== null || bundle.expiresAt <= Date.now()) return failDownload(c, bundleAudit, "gone", `Bundle ${bundleId} has expired`);
  return serveObject(c, bundle.objectKey, `bundle-${bundle.id}.zip`, bundleAudit);
}

const downloadRoute = createRoute({
  method: "get",
  path: "/d/{token}",
  operationId: "downloadWithLink",
  tags: ["Downloads"],
  summary: "Download through a signed link (no API key)",
  description:
    "Tampered token → 403, expired → 410, both recorded as failed downloads. Rate limited per client IP (429) and deduplicated like every download. Supports Range and If-None-Match.",
  request: { params: z.object({ token: z.string().min(1).max(4096) }) },
  responses: { ...downloadResponses, ...errorResponses("invalid_request", "forbidden", "not_found", "gone", "rate_limited", "internal") },
});

downloadsRouter.openapi(downloadRoute, async (c) => {
  const secret = tokenSecret(c);
  const verified = await verifyToken(secret, c.req.valid("param").token);
  if (verified.status === "invalid") return failDownload(c, { action: "download" }, "forbidden", "This download link is not valid");
  const { claims } = verified;
  const audit = auditFor(claims, await openUser(secret, claims.sealedUser));
  if (verified.status === "expired") return failDownload(c, audit, "gone", "This download link has expired");
  if (claims.target.kind === "bundle") return serveBundle(c, claims.target, audit);
  return serveRecordTarget(c, claims.target, audit);
});
