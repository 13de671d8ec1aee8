import { createExecutionContext, createScheduledController, evictDurableObject, runDurableObjectAlarm } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { unzipSync } from "fflate";
import { describe, expect, it, vi } from "vitest";
import { PartUploader } from "../../src/core/bundles/parts";
import { expireBundles } from "../../src/core/bundles/bundles";
import { failStaleJobs } from "../../src/core/bundles/jobs";
import { CRONS, scheduled } from "../../src/scheduled";
import { getConfig } from "../../src/lib/config";
import { bytesOf, createRecord, eventsFor, sha256, uniqueId, uploadFile } from "../catalog-helpers";
import { call, callJson } from "../helpers";

const MiB = 1024 * 1024;
const user = { id: "bundle-user-7", email: "ada@example.org", name: "Ada Lovelace", organisation: "Analytical Engines" };

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs the job's alarms (alarms also fire on their own) until it reaches a final state; returns the DO's state. */
async function driveJob(jobId: string) {
  const stub = env.BUNDLE_JOBS.getByName(jobId);
  for (let round = 0; round < 1000; round++) {
    const { state } = await stub.snapshot();
    if (state && !["pending", "processing"].includes(state.status)) return state;
    if (!(await runDurableObjectAlarm(stub))) await sleep(10);
  }
  throw new Error("job did not finish");
}

async function postBundle(body: Record<string, unknown>) {
  return callJson("POST", "/v1/bundles", { body: { user, ...body } });
}

describe("bundle job", () => {
  it("builds a multi-part ZIP across alarms whose files match their SHA-256, with manifest and PDFs", { timeout: 120_000 }, async () => {
    const a = uniqueId("bundle-a");
    const b = uniqueId("bundle-b");
    await createRecord(a, { title: "Moorings" });
    await createRecord(b, { title: "Benthos", schema: "iso19115", metadata: (await import("../fixtures/metadata/iso19115-odp.json")).default, doi: "10.1234/benthos" });
    const files: Record<string, Uint8Array> = {
      [`data/${a}/sst.nc`]: bytesOf(3.5 * MiB, 21),
      [`data/${a}/salinity.bin`]: bytesOf(2.75 * MiB, 22),
      [`data/${b}/species.csv`]: new TextEncoder().encode("station,species,count\n".repeat(40_000)),
      [`data/${b}/photo.png`]: bytesOf(200_000, 23),
    };
    for (const [path, data] of Object.entries(files)) {
      const [, recordId, name] = path.split("/");
      await uploadFile(recordId!, name!, data, name!.endsWith(".csv") ? "text/csv" : "application/octet-stream");
    }

    const accepted = await postBundle({ record_ids: [a, b, a], include_files: true });
    expect(accepted.status).toBe(202);
    expect(accepted.body).toMatchObject({ bundle_id: expect.any(String), job: { id: expect.any(String), status: "pending", progress: 0 } });
    expect(accepted.body.status_url).toBe(`http://localhost/v1/jobs/${accepted.body.job.id}`);

    const run = await driveJob(accepted.body.job.id);
    expect(run.status).toBe("completed");
    expect(run.partsUploaded).toBeGreaterThanOrEqual(2);
    expect(run.slices).toBeGreaterThanOrEqual(3);

    const job = await callJson("GET", `/v1/jobs/${accepted.body.job.id}`);
    expect(job.body).toMatchObject({ type: "bundle", status: "completed", progress: 100 });
    expect(job.body.result).toMatchObject({ bundle_id: accepted.body.bundle_id, total_files: 6, record_ids: [a, b] });
    expect(job.body.result.zip_size).toBeGreaterThan(6 * MiB);

    const response = await call("GET", new URL(job.body.result.url).pathname, { key: null });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("application/zip");
    const zip = new Uint8Array(await response.arrayBuffer());
    expect(zip.length).toBe(job.body.result.zip_size);
    const entries = unzipSync(zip);
    expect(Object.keys(entries).sort()).toEqual(
      [...Object.keys(files), `metadata/${a}.pdf`, `metadata/${b}.pdf`, "manifest.json"].sort(),
    );
    for (const [path, data] of Object.entries(files)) expect(await sha256(entries[path]!), path).toBe(await sha256(data));

    const manifest = JSON.parse(new TextDecoder().decode(entries["manifest.json"]));
    expect(manifest.total_files).toBe(6);
    for (const file of manifest.files) expect(await sha256(entries[file.path]!), file.path).toBe(file.sha256);
    expect(manifest.records.map((record: any) => [record.id, record.doi])).toEqual([[a, "10.15493/saeon.ocean.2021.001"], [b, "10.1234/benthos"]]);
    expect(manifest.records[1].citation).toContain("(2021). Benthos. Department of Forestry");
    expect(new TextDecoder().decode(entries[`metadata/${a}.pdf`]!.slice(0, 5))).toBe("%PDF-");

    const events = await eventsFor(accepted.body.bundle_id);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ action: "bundle.download", status: "success", resource_type: "bundle", bytes: zip.length });
    const meta = JSON.parse(events[0]!.meta!);
    expect(meta).toMatchObject({ bundle_id: accepted.body.bundle_id, record_ids: [a, b], dois: ["10.15493/saeon.ocean.2021.001", "10.1234/benthos"], total_files: 6, zip_size: zip.length });
    expect(meta.files_in_bundle).toContainEqual({ name: `data/${a}/sst.nc`, size: 3.5 * MiB, doi: "10.15493/saeon.ocean.2021.001" });
    expect(meta.files_in_bundle).toHaveLength(6);
    expect(await eventsFor(a)).toHaveLength(0);
  });

  it("redoes a failed slice from its checkpoint (same part numbers, same bytes) and survives eviction", { timeout: 120_000 }, async () => {
    const id = uniqueId("resume");
    await createRecord(id);
    const files = [bytesOf(2.5 * MiB, 51), bytesOf(2.5 * MiB, 52), bytesOf(2.5 * MiB, 53)];
    for (const [index, data] of files.entries()) await uploadFile(id, `part-${index}.bin`, data, "application/octet-stream");
    // Fail once, mid-job: the first write after one part is uploaded, i.e. after a checkpoint with parts and a tail.
    let failed = false;
    const write = PartUploader.prototype.write;
    const spy = vi.spyOn(PartUploader.prototype, "write").mockImplementation(async function (this: PartUploader, chunk: Uint8Array) {
      if (!failed && this.parts.length >= 1) {
        failed = true;
        throw new Error("simulated R2 outage");
      }
      return write.call(this, chunk);
    });
    try {
      const accepted = await postBundle({ record_ids: [id], include_files: true });
      const stub = env.BUNDLE_JOBS.getByName(accepted.body.job.id);
      await vi.waitUntil(() => failed, { timeout: 60_000, interval: 10 });
      await vi.waitUntil(async () => (await stub.snapshot()).state!.lastError === "simulated R2 outage", { timeout: 10_000, interval: 10 });
      await evictDurableObject(stub).catch(() => undefined);
      const state = await driveJob(accepted.body.job.id);
      expect(state).toMatchObject({ status: "completed", lastError: null });
      expect(state.partsUploaded).toBeGreaterThanOrEqual(2);
      const job = await callJson("GET", `/v1/jobs/${accepted.body.job.id}`);
      const entries = unzipSync(new Uint8Array(await (await call("GET", new URL(job.body.result.url).pathname, { key: null })).arrayBuffer()));
      for (const [index, data] of files.entries()) expect(await sha256(entries[`data/${id}/part-${index}.bin`]!)).toBe(await sha256(data));
    } finally {
      spy.mockRestore();
    }
  });

  it("bundles 100 metadata PDFs", { timeout: 120_000 }, async () => {
    const ids = Array.from({ length: 100 }, () => uniqueId("pdf"));
    for (const id of ids) await createRecord(id);
    const accepted = await postBundle({ record_ids: ids });
    expect(accepted.status).toBe(202);
    expect((await driveJob(accepted.body.job.id)).status).toBe("completed");
    const job = await callJson("GET", `/v1/jobs/${accepted.body.job.id}`);
    const zip = unzipSync(new Uint8Array(await (await call("GET", new URL(job.body.result.url).pathname, { key: null })).arrayBuffer()));
    expect(Object.keys(zip)).toHaveLength(101);
  });

  it("cancels a job mid-way: the multipart upload is aborted and nothing is left in R2", { timeout: 60_000 }, async () => {
    const id = uniqueId("cancel");
    await createRecord(id);
    await uploadFile(id, "big.bin", bytesOf(12 * MiB, 31));
    // Hold the job at its first write of ZIP bytes, so the cancel lands in the middle of a slice.
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let held = false;
    const write = PartUploader.prototype.write;
    const spy = vi.spyOn(PartUploader.prototype, "write").mockImplementation(async function (this: PartUploader, chunk: Uint8Array) {
      if (!held) {
        held = true;
        await gate;
      }
      return write.call(this, chunk);
    });
    try {
      const accepted = await postBundle({ record_ids: [id], include_files: true });
      const stub = env.BUNDLE_JOBS.getByName(accepted.body.job.id);
      await vi.waitUntil(() => held, { timeout: 10_000, interval: 10 });
      const mid = await stub.snapshot();
      expect(mid.state).toMatchObject({ status: "processing", planned: true, uploadId: expect.any(String) });

      const cancelled = await callJson("DELETE", `/v1/jobs/${accepted.body.job.id}`);
      expect(cancelled.status).toBe(200);
      expect(cancelled.body).toMatchObject({ status: "cancelled", message: expect.stringContaining("aborted") });
      release();
      await vi.waitUntil(async () => !(await runDurableObjectAlarm(stub)), { timeout: 10_000, interval: 20 });
      await sleep(50);
      await expect(env.BUCKET.resumeMultipartUpload(mid.state!.objectKey, mid.state!.uploadId!).complete([])).rejects.toThrow();
      expect(await env.BUCKET.head(mid.state!.objectKey)).toBeNull();
      expect(await stub.snapshot()).toMatchObject({ state: { status: "cancelled" }, parts: 0, tailBytes: 0 });
      expect((await callJson("GET", `/v1/jobs/${accepted.body.job.id}`)).body.status).toBe("cancelled");
      expect((await callJson("DELETE", `/v1/jobs/${accepted.body.job.id}`)).status).toBe(409);
    } finally {
      release();
      spy.mockRestore();
    }
  });

  it("fails with a reason when a file vanished, and the cron fails jobs that made no progress", async () => {
    const id = uniqueId("vanish");
    await createRecord(id);
    await uploadFile(id, "a.bin", bytesOf(1000, 41));
    const accepted = await postBundle({ record_ids: [id], include_files: true });
    const [object] = (await env.BUCKET.list({ prefix: `records/${id}/files/` })).objects;
    await env.BUCKET.delete(object!.key);
    expect((await driveJob(accepted.body.job.id)).status).toBe("failed");
    const job = await callJson("GET", `/v1/jobs/${accepted.body.job.id}`);
    expect(job.body).toMatchObject({ status: "failed", message: `File data/${id}/a.bin is missing from storage` });

    const stuck = await postBundle({ record_ids: [id] });
    const config = getConfig(env);
    await env.BUNDLE_JOBS.getByName(stuck.body.job.id).snapshot();
    const failed = await failStaleJobs(env, config, Date.now() + (config.jobStaleMinutes + 1) * 60_000);
    expect(failed).toContain(stuck.body.job.id);
    const stuckJob = await callJson("GET", `/v1/jobs/${stuck.body.job.id}`);
    expect(stuckJob.body).toMatchObject({ status: "failed", message: expect.stringContaining("No progress") });
  });

  it("expires bundles through the cron: the ZIP is deleted and its link answers 410 with a failure event", async () => {
    const id = uniqueId("expire");
    await createRecord(id);
    const accepted = await postBundle({ record_ids: [id] });
    await driveJob(accepted.body.job.id);
    const job = await callJson("GET", `/v1/jobs/${accepted.body.job.id}`);
    const config = getConfig(env);
    const later = Date.now() + config.bundleTtlHours * 3_600_000 + 1000;
    expect(await expireBundles(env, later)).toBeGreaterThanOrEqual(1);
    expect(await env.BUCKET.head(`bundles/${accepted.body.bundle_id}.zip`)).toBeNull();
    const gone = await callJson("GET", new URL(job.body.result.url).pathname, { key: null });
    expect(gone.status).toBe(410);
    expect((await eventsFor(accepted.body.bundle_id)).map((event) => [event.action, event.status])).toEqual([["bundle.download", "failure"]]);
  });

  it("is wired into the daily cron", { timeout: 60_000 }, async () => {
    const id = uniqueId("cron");
    await createRecord(id);
    const accepted = await postBundle({ record_ids: [id] });
    await driveJob(accepted.body.job.id);
    await env.DB.prepare("UPDATE bundles SET expires_at = ?1 WHERE id = ?2").bind(Date.now() - 1, accepted.body.bundle_id).run();
    expect(await env.BUCKET.head(`bundles/${accepted.body.bundle_id}.zip`)).not.toBeNull();
    await scheduled(createScheduledController({ cron: CRONS.daily, scheduledTime: Date.now() }), env, createExecutionContext());
    expect(await env.BUCKET.head(`bundles/${accepted.body.bundle_id}.zip`)).toBeNull();
  });
});
