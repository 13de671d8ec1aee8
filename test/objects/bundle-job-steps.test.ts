import { runDurableObjectAlarm } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { PartUploader } from "../../src/core/bundles/parts";
import { BundleJob } from "../../src/objects/bundle-job";
import { bytesOf, createRecord, uniqueId, uploadFile } from "../catalog-helpers";
import { call, callJson } from "../helpers";

const MiB = 1024 * 1024;
/** The job's step: 1 MiB of input between two returns to the event loop (STEP_BYTES in src/objects/bundle-job.ts). */
const STEP = MiB;
const FILE_BYTES = 40 * MiB;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Counts the ZIP bytes the job hands to the multipart uploader, without changing what it does. */
function countWrites(): { total: () => number } {
  let total = 0;
  const write = PartUploader.prototype.write;
  vi.spyOn(PartUploader.prototype, "write").mockImplementation(async function (this: PartUploader, chunk: Uint8Array) {
    total += chunk.length;
    return write.call(this, chunk);
  });
  return { total: () => total };
}

async function largeFileBundle(): Promise<{ jobId: string; recordId: string }> {
  const id = uniqueId("steps");
  await createRecord(id);
  await uploadFile(id, "large.bin", bytesOf(FILE_BYTES, 77), "application/octet-stream");
  const accepted = await callJson("POST", "/v1/bundles", { body: { record_ids: [id], include_files: true } });
  expect(accepted.status).toBe(202);
  return { jobId: accepted.body.job.id, recordId: id };
}

/** Waits until the job's alarm has nothing left to run. */
async function settle(jobId: string) {
  const stub = env.BUNDLE_JOBS.getByName(jobId);
  await vi.waitUntil(async () => !(await runDurableObjectAlarm(stub)), { timeout: 20_000, interval: 20 });
  await sleep(50);
  return stub.snapshot();
}

describe("finding 4: 10.4: a large file is written in bounded steps", () => {
  afterEach(() => vi.restoreAllMocks());

  it("serves other requests while a 40 MiB file is being written (the whole file used to run as one synchronous stretch)", { timeout: 60_000 }, async () => {
    const writes = countWrites();
    const { jobId } = await largeFileBundle();
    await vi.waitUntil(() => writes.total() >= 2 * MiB, { timeout: 20_000, interval: 1 });
    const health = await call("GET", "/health");
    expect(health.status).toBe(200);
    // /health was answered while the file was still being written: less than the whole file had reached the uploader.
    expect(writes.total()).toBeLessThan(FILE_BYTES);
    const { state } = await settle(jobId);
    expect(state!.status).toBe("completed");
  });

  it("a cancel stops the job at the next step boundary and aborts the multipart upload", { timeout: 60_000 }, async () => {
    const writes = countWrites();
    let atCancel: number | null = null;
    const cancel = BundleJob.prototype.cancel;
    vi.spyOn(BundleJob.prototype, "cancel").mockImplementation(function (this: BundleJob) {
      atCancel = writes.total();
      return cancel.call(this);
    });
    const { jobId } = await largeFileBundle();
    const stub = env.BUNDLE_JOBS.getByName(jobId);
    await vi.waitUntil(() => writes.total() >= 2 * MiB, { timeout: 20_000, interval: 1 });
    const mid = await stub.snapshot();

    const cancelled = await callJson("DELETE", `/v1/jobs/${jobId}`);
    expect(cancelled.status, JSON.stringify(cancelled.body)).toBe(200);
    expect(cancelled.body.status).toBe("cancelled");
    const after = await settle(jobId);

    expect(atCancel).not.toBeNull();
    // After the cancel ran inside the object, at most the rest of the step in progress reached the uploader.
    expect(writes.total() - atCancel!).toBeLessThanOrEqual(STEP);
    expect(writes.total()).toBeLessThan(FILE_BYTES);
    expect(after).toMatchObject({ state: { status: "cancelled" }, parts: 0, tailBytes: 0 });
    // No slice ran after the one the cancel interrupted.
    expect(after.state!.slices).toBe(mid.state!.slices);
    await expect(env.BUCKET.resumeMultipartUpload(mid.state!.objectKey, mid.state!.uploadId!).complete([])).rejects.toThrow();
    expect(await env.BUCKET.head(mid.state!.objectKey)).toBeNull();
  });

  it("reads the file in ranges pinned to one version: a file replaced between two ranges fails the job", { timeout: 60_000 }, async () => {
    const writes = countWrites();
    const { jobId, recordId } = await largeFileBundle();
    const [source] = (await env.BUCKET.list({ prefix: `records/${recordId}/files/` })).objects;
    await vi.waitUntil(() => writes.total() >= 2 * MiB, { timeout: 20_000, interval: 1 });
    // Still inside the first 16 MiB range: the next range must come from the same version of the object.
    await env.BUCKET.put(source!.key, bytesOf(FILE_BYTES, 78));
    const { state } = await settle(jobId);
    expect(state!.status).toBe("failed");
    const job = await callJson("GET", `/v1/jobs/${jobId}`);
    expect(job.body).toMatchObject({ status: "failed", message: `File data/${recordId}/large.bin was replaced during the job` });
  });
});
