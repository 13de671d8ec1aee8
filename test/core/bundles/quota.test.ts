import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { app } from "../../../src/app";
import { bundleUsage, enforceBundleQuota } from "../../../src/core/bundles/quota";
import { getConfig } from "../../../src/lib/config";
import { sha256Hex } from "../../../src/lib/crypto";
import { ApiError } from "../../../src/lib/errors";
import { bytesOf, createRecord, uniqueId, uploadFile } from "../../catalog-helpers";
import { countRows, keyWith, unique } from "../../helpers";

const HOUR = 3_600_000;
const NOW = Date.parse("2026-11-29T12:00:00Z");

/** A job and its bundle row, as createBundle stores them, owned by `owner`. */
async function seedBundle(owner: string, status: string, bytes: { estimated: number; zip?: number }, times: { createdAt?: number; expiresAt?: number; deletedAt?: number } = {}) {
  const jobId = unique("job");
  const createdAt = times.createdAt ?? NOW - HOUR;
  await env.DB.batch([
    env.DB.prepare("INSERT INTO jobs (id, type, status, progress, created_at, updated_at, owner_key_id) VALUES (?1, 'bundle', ?2, 0, ?3, ?3, ?4)").bind(jobId, status, createdAt, owner),
    env.DB.prepare(
      "INSERT INTO bundles (id, job_id, record_ids, include_files, object_key, zip_size, created_at, expires_at, deleted_at, estimated_bytes) VALUES (?1, ?2, '[]', 0, 'k', ?3, ?4, ?5, ?6, ?7)",
    ).bind(unique("bundle"), jobId, bytes.zip ?? null, createdAt, times.expiresAt ?? createdAt + 24 * HOUR, times.deletedAt ?? null, bytes.estimated),
  ]);
}

async function postBundle(key: string, overrides: Record<string, string>, body: unknown) {
  const context = createExecutionContext();
  const response = await app.fetch(
    new Request("http://localhost/v1/bundles", { method: "POST", headers: { authorization: `Bearer ${key}`, "content-type": "application/json" }, body: JSON.stringify(body) }),
    { ...env, ...overrides } as Env,
    context,
  );
  await waitOnExecutionContext(context);
  return { status: response.status, headers: response.headers, body: (await response.json()) as any };
}

describe("finding 9c: per-key bundle quota", () => {
  it("finding 9c: counts a key's live bundles (completed at ZIP size, building at estimate), not other keys', expired, deleted or failed ones", async () => {
    const owner = unique("key");
    const config = getConfig(env);
    await seedBundle(owner, "completed", { estimated: 900, zip: 500 });
    await seedBundle(owner, "processing", { estimated: 300 });
    await seedBundle(owner, "pending", { estimated: 200 });
    await seedBundle(owner, "failed", { estimated: 10_000 });
    await seedBundle(owner, "cancelled", { estimated: 10_000 });
    await seedBundle(owner, "completed", { estimated: 10_000, zip: 10_000 }, { deletedAt: NOW - HOUR });
    await seedBundle(owner, "completed", { estimated: 10_000, zip: 10_000 }, { createdAt: NOW - 30 * HOUR, expiresAt: NOW - 6 * HOUR });
    await seedBundle(unique("other-key"), "processing", { estimated: 10_000 });
    // 500 + 300 + 200 bytes; two jobs running.
    expect(await bundleUsage(env.DB, config, owner, NOW)).toEqual({ bytes: 1000, activeJobs: 2 });
  });

  it("finding 9c: refuses with 429 too_many_jobs at BUNDLE_MAX_ACTIVE_JOBS and 413 quota_exceeded over BUNDLE_QUOTA_BYTES", async () => {
    const owner = unique("key");
    const config = { ...getConfig(env), bundleMaxActiveJobs: 2, bundleQuotaBytes: 2000 };
    await seedBundle(owner, "completed", { estimated: 1200, zip: 1000 });
    await seedBundle(owner, "processing", { estimated: 500 });
    await expect(enforceBundleQuota(env.DB, config, owner, 500, NOW)).resolves.toBeUndefined();
    const overQuota = await enforceBundleQuota(env.DB, config, owner, 501, NOW).catch((error: ApiError) => error);
    expect(overQuota).toMatchObject({ code: "quota_exceeded", status: 413, details: { used_bytes: 1500, requested_bytes: 501, quota_bytes: 2000 } });
    await seedBundle(owner, "pending", { estimated: 1 });
    const busy = await enforceBundleQuota(env.DB, config, owner, 1, NOW).catch((error: ApiError) => error);
    expect(busy).toMatchObject({ code: "too_many_jobs", status: 429, details: { active_jobs: 2, max_active_jobs: 2 } });
  });

  it("finding 9c: POST /v1/bundles stops a key at its quota, storing nothing, while another key still builds", async () => {
    const id = uniqueId();
    await createRecord(id);
    await uploadFile(id, "big.bin", bytesOf(300_000));
    const [first, second] = [await keyWith("ingest"), await keyWith("ingest")];
    // Each bundle is estimated at 300,000 file bytes + a 64 KiB PDF estimate + ZIP overhead (> 364,000): one fits in 500,000, two do not.
    const limits = { BUNDLE_QUOTA_BYTES: "500000", BUNDLE_MAX_ACTIVE_JOBS: "5" };
    const request = { record_ids: [id], include_files: true };
    expect((await postBundle(first, limits, request)).status).toBe(202);
    const jobsBefore = await countRows("jobs");
    const refused = await postBundle(first, limits, request);
    expect(refused.status).toBe(413);
    expect(refused.body.error.code).toBe("quota_exceeded");
    expect(await countRows("jobs")).toBe(jobsBefore);
    expect((await postBundle(second, limits, request)).status).toBe(202);
  });

  it("finding 9c: POST /v1/bundles answers 429 too_many_jobs with Retry-After once a key runs BUNDLE_MAX_ACTIVE_JOBS", async () => {
    const key = await keyWith("ingest");
    const { id: keyId } = (await env.DB.prepare("SELECT id FROM api_keys WHERE secret_hash = ?1").bind(await sha256Hex(key)).first<{ id: string }>())!;
    await seedBundle(keyId, "processing", { estimated: 1 }, { createdAt: Date.now() - 1000, expiresAt: Date.now() + HOUR });
    const id = uniqueId();
    await createRecord(id);
    const refused = await postBundle(key, { BUNDLE_MAX_ACTIVE_JOBS: "1" }, { record_ids: [id] });
    expect(refused.status).toBe(429);
    expect(refused.body.error.code).toBe("too_many_jobs");
    expect(refused.headers.get("retry-after")).toBe("30");
  });
});
