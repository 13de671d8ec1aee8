// Per-key bundle limits: bytes held in live bundles (BUNDLE_QUOTA_BYTES) and jobs running at once (BUNDLE_MAX_ACTIVE_JOBS).
import type { Config } from "../../lib/config";
import { ApiError } from "../../lib/errors";

export interface BundleUsage {
  /** Live (unexpired, undeleted) bundles of the key: completed ones at their ZIP size, building ones at their estimate. */
  bytes: number;
  /** The key's bundle jobs that are pending or processing. */
  activeJobs: number;
}

/**
 * What a key holds now. Ownership is read from the job rows (`jobs.owner_key_id`); only jobs younger than the bundle
 * lifetime can own a live bundle, so the owner index bounds the rows read to one TTL of that key's jobs.
 */
export async function bundleUsage(db: D1Database, config: Config, ownerKeyId: string, now = Date.now()): Promise<BundleUsage> {
  const row = await db
    .prepare(
      `SELECT
         coalesce(sum(CASE WHEN j.status = 'completed' THEN coalesce(b.zip_size, b.estimated_bytes, 0)
                           WHEN j.status IN ('pending', 'processing') THEN coalesce(b.estimated_bytes, 0) ELSE 0 END), 0) AS bytes,
         count(CASE WHEN j.status IN ('pending', 'processing') THEN 1 END) AS active_jobs
       FROM jobs AS j JOIN bundles AS b ON b.job_id = j.id
       WHERE j.owner_key_id = ?1 AND j.created_at > ?2 AND b.deleted_at IS NULL AND b.expires_at > ?3`,
    )
    .bind(ownerKeyId, now - Math.round(config.bundleTtlHours * 3_600_000), now)
    .first<{ bytes: number; active_jobs: number }>();
  return { bytes: row?.bytes ?? 0, activeJobs: row?.active_jobs ?? 0 };
}

/**
 * Refuses a new bundle of `estimatedBytes` for the key: 429 `too_many_jobs` while it has BUNDLE_MAX_ACTIVE_JOBS jobs
 * running, 413 `quota_exceeded` when its live bundles plus this one would pass BUNDLE_QUOTA_BYTES. Checked before
 * anything is stored; two requests racing past the check can each start, so a key can overshoot by one bundle per
 * concurrent request, never without bound.
 */
export async function enforceBundleQuota(db: D1Database, config: Config, ownerKeyId: string, estimatedBytes: number, now = Date.now()): Promise<void> {
  const usage = await bundleUsage(db, config, ownerKeyId, now);
  if (usage.activeJobs >= config.bundleMaxActiveJobs)
    throw new ApiError("too_many_jobs", `This API key already has ${usage.activeJobs} bundle job(s) running, the most it may run at once`, {
      details: { active_jobs: usage.activeJobs, max_active_jobs: config.bundleMaxActiveJobs },
      headers: { "Retry-After": "30" },
    });
  if (usage.bytes + estimatedBytes > config.bundleQuotaBytes)
    throw new ApiError("quota_exceeded", `This bundle (about ${estimatedBytes} bytes) would take this API key's live bundles over its quota of ${config.bundleQuotaBytes} bytes`, {
      details: { used_bytes: usage.bytes, requested_bytes: estimatedBytes, quota_bytes: config.bundleQuotaBytes },
    });
}
