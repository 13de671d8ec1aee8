// ZIP bundles of records: validation and sizing of a request, the bundle row, and expiry of old bundles.
import { z } from "@hono/zod-openapi";
import { and, eq, isNull, lte } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { bundles, jobs } from "../../db/catalog-schema";
import type { Config } from "../../lib/config";
import { uuidv7 } from "../../lib/crypto";
import { ApiError } from "../../lib/errors";
import { RecordIdSchema, recordsForDownload, type RecordForDownload } from "../catalog/catalog";
import { MAX_META_BYTES } from "../ledger/event-schema";
import { getJob, updateJob, type Job } from "./jobs";
import { enforceBundleQuota } from "./quota";
import { DownloadUserSchema, sealUser } from "../catalog/tokens";

export const MAX_BUNDLE_RECORDS = 500;
/** What a metadata PDF is assumed to weigh before it is rendered (they are typically 3-20 KB). */
export const PDF_SIZE_ESTIMATE = 64 * 1024;
/** Local header, data descriptor and central directory record of one entry, plus its name twice. */
const ENTRY_OVERHEAD = 30 + 16 + 46 + 2 * 300;
const MAX_ZIP_ENTRIES = 0xffff - 1;

export const BundleRequestSchema = z
  .strictObject({
    record_ids: z.array(RecordIdSchema).min(1).max(MAX_BUNDLE_RECORDS),
    include_files: z.boolean().default(false).openapi({ description: "Add the records' data files; otherwise only metadata PDFs" }),
    user: DownloadUserSchema.optional(),
  })
  .openapi("BundleRequest");
export type BundleRequest = z.infer<typeof BundleRequestSchema>;

/** What the job Durable Object needs to build the bundle; personal data only in sealed form. */
export interface BundleJobParams {
  jobId: string;
  bundleId: string;
  recordIds: string[];
  includeFiles: boolean;
  objectKey: string;
  /** Origin for the signed link in the result. */
  origin: string;
  createdAt: number;
  expiresAt: number;
  /** The API key that asked for the bundle: it owns the job, and the signed link is bound to it. */
  ownerKeyId: string | null;
}

/** What a `bundle.download` event carries in `meta` besides bundle_id and zip_size. */
export interface BundleSummary {
  record_ids: string[];
  dois: string[];
  files_in_bundle: { name: string; size: number; doi: string | null }[];
  total_files: number;
}

export const bundleObjectKey = (bundleId: string) => `bundles/${bundleId}.zip`;

/** A record's folder in a bundle (`data/<folder>/<file>`): record ids may hold ':', which some unzip tools refuse in names. */
export const bundleFolder = (recordId: string) => recordId.replace(/[:\\]/g, "_");

/** Upper bound of a bundle's size before any work: PDFs at their estimate, files at their stored size, ZIP overhead. */
export function estimateBundle(records: RecordForDownload[], includeFiles: boolean): { bytes: number; entries: number } {
  let bytes = 4096;
  let entries = 1;
  for (const record of records) {
    bytes += PDF_SIZE_ESTIMATE + ENTRY_OVERHEAD;
    entries += 1;
    if (!includeFiles) continue;
    for (const file of record.files) bytes += file.size + ENTRY_OVERHEAD;
    entries += record.files.length;
  }
  return { bytes, entries };
}

/**
 * Validates and registers a bundle: all records in one query, unknown ids → 404 listing them, too large → 413, the
 * key's bundle quota (429/413, quota.ts), all before anything is stored. Then a pending job and the bundle row, and the job's Durable Object is started.
 */
export async function createBundle(
  env: Env,
  config: Config,
  request: BundleRequest,
  origin: string,
  ownerKeyId: string,
  now = Date.now(),
): Promise<{ bundleId: string; job: Job }> {
  const recordIds = [...new Set(request.record_ids)];
  const found = await recordsForDownload(env.DB, recordIds);
  const known = new Set(found.map((record) => record.id));
  const missing = recordIds.filter((id) => !known.has(id));
  if (missing.length > 0) throw new ApiError("not_found", `${missing.length} record(s) do not exist`, { details: { missing_record_ids: missing } });
  const estimate = estimateBundle(found, request.include_files);
  if (estimate.bytes > config.bundleMaxBytes)
    throw new ApiError("payload_too_large", `The bundle would be about ${estimate.bytes} bytes, over the limit of ${config.bundleMaxBytes}`, {
      details: { estimated_bytes: estimate.bytes, max_bytes: config.bundleMaxBytes },
    });
  if (estimate.entries > MAX_ZIP_ENTRIES) throw new ApiError("payload_too_large", `The bundle would hold ${estimate.entries} files, over ${MAX_ZIP_ENTRIES}`);
  if (!config.downloadTokenSecret) throw new ApiError("internal", "Download links are not configured (DOWNLOAD_TOKEN_SECRET)");
  await enforceBundleQuota(env.DB, config, ownerKeyId, estimate.bytes, now);

  const bundleId = uuidv7(now);
  const params: BundleJobParams = {
    jobId: uuidv7(now),
    bundleId,
    recordIds,
    includeFiles: request.include_files,
    objectKey: bundleObjectKey(bundleId),
    origin,
    createdAt: now,
    expiresAt: now + Math.round(config.bundleTtlHours * 3_600_000),
    ownerKeyId,
  };
  const orm = drizzle(env.DB);
  await orm.batch([
    orm.insert(jobs).values({ id: params.jobId, type: "bundle", status: "pending", progress: 0, message: "Waiting to start", createdAt: now, updatedAt: now, ownerKeyId }),
    orm.insert(bundles).values({
      id: params.bundleId,
      jobId: params.jobId,
      recordIds,
      includeFiles: request.include_files,
      objectKey: params.objectKey,
      sealedUser: await sealUser(config.downloadTokenSecret, request.user),
      createdAt: now,
      expiresAt: params.expiresAt,
      ownerKeyId,
      estimatedBytes: estimate.bytes,
    }),
  ]);
  try {
    await env.BUNDLE_JOBS.getByName(params.jobId).start(params);
  } catch (error) {
    await updateJob(env.DB, params.jobId, { status: "failed", message: "The job could not be started; try again" });
    throw error;
  }
  return { bundleId: params.bundleId, job: (await getJob(env.DB, params.jobId, { keyId: ownerKeyId, admin: false }))! };
}

export type BundleRow = typeof bundles.$inferSelect;

export async function getBundle(db: D1Database, id: string): Promise<BundleRow | null> {
  const [row] = await drizzle(db).select().from(bundles).where(eq(bundles.id, id)).limit(1);
  return row ?? null;
}

export async function getBundleOfJob(db: D1Database, jobId: string): Promise<BundleRow | null> {
  const [row] = await drizzle(db).select().from(bundles).where(eq(bundles.jobId, jobId)).limit(1);
  return row ?? null;
}

/** Deletes expired bundles' ZIPs from R2 and marks them deleted, 1,000 per round (one R2 delete call each); returns how many. */
export async function expireBundles(env: Env, now = Date.now(), batch = 1000, maxRounds = 20): Promise<number> {
  const orm = drizzle(env.DB);
  let expiredTotal = 0;
  for (let round = 0; round < maxRounds; round++) {
    const expired = await orm
      .select({ id: bundles.id, objectKey: bundles.objectKey })
      .from(bundles)
      .where(and(isNull(bundles.deletedAt), lte(bundles.expiresAt, now)))
      .limit(batch);
    if (expired.length === 0) break;
    await env.BUCKET.delete(expired.map((bundle) => bundle.objectKey));
    await env.DB.prepare("UPDATE bundles SET deleted_at = ?1 WHERE id IN (SELECT value FROM json_each(?2))")
      .bind(now, JSON.stringify(expired.map((bundle) => bundle.id)))
      .run();
    expiredTotal += expired.length;
    if (expired.length < batch) break;
  }
  return expiredTotal;
}

/**
 * The `meta` of a `bundle.download` event. The ledger keeps meta under 16 KB (MAX_META_BYTES), so a very large bundle
 * lists only its first files (`files_truncated: true`), and beyond that its first 100 records (`records_truncated: true`); `total_files` stays exact and manifest.json has them all.
 */
export function bundleEventMeta(bundle: BundleRow): Record<string, unknown> {
  const summary = JSON.parse(bundle.summary ?? "null") as BundleSummary | null;
  const meta: Record<string, unknown> = {
    bundle_id: bundle.id,
    record_ids: summary?.record_ids ?? bundle.recordIds,
    dois: summary?.dois ?? [],
    files_in_bundle: summary?.files_in_bundle ?? [],
    total_files: summary?.total_files ?? 0,
    zip_size: bundle.zipSize,
  };
  const size = () => new TextEncoder().encode(JSON.stringify(meta)).length;
  if (size() <= MAX_META_BYTES) return meta;
  const files = summary?.files_in_bundle ?? [];
  let keep = files.length;
  while (keep > 0 && size() > MAX_META_BYTES) {
    keep = Math.floor(keep / 2);
    meta.files_in_bundle = files.slice(0, keep);
    meta.files_truncated = true;
  }
  if (size() > MAX_META_BYTES) {
    meta.record_ids = (meta.record_ids as string[]).slice(0, 100);
    meta.dois = (meta.dois as string[]).slice(0, 100);
    meta.records_truncated = true;
  }
  return meta;
}

