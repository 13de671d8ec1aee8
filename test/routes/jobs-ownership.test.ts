import { runDurableObjectAlarm } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { PartUploader } from "../../src/core/bundles/parts";
import { mintToken } from "../../src/core/catalog/tokens";
import { createRecord, eventsFor, uniqueId } from "../catalog-helpers";
import { call, callJson, expectError } from "../helpers";

interface Portal {
  id: string;
  key: string;
}

async function portal(name: string): Promise<Portal> {
  const { status, body } = await callJson("POST", "/v1/keys", { body: { name, scopes: ["ingest"] } });
  expect(status).toBe(201);
  return { id: body.id, key: body.key };
}

async function bundleOf(owner: Portal): Promise<{ jobId: string; bundleId: string }> {
  const record = uniqueId("owned");
  await createRecord(record);
  const accepted = await callJson("POST", "/v1/bundles", { key: owner.key, body: { record_ids: [record], user: { id: `user-of-${owner.id}` } } });
  expect(accepted.status).toBe(202);
  return { jobId: accepted.body.job.id, bundleId: accepted.body.bundle_id };
}

async function finish(jobId: string): Promise<void> {
  const stub = env.BUNDLE_JOBS.getByName(jobId);
  for (let round = 0; round < 200; round++) {
    const { state } = await stub.snapshot();
    if (state && !["pending", "processing"].includes(state.status)) return;
    if (!(await runDurableObjectAlarm(stub))) await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error("job did not finish");
}

/** Holds every bundle job at its first write of ZIP bytes, so that jobs stay active until the test ends. */
function holdJobs(): void {
  const write = PartUploader.prototype.write;
  const gate = new Promise<void>((resolve) => (releaseJobs = resolve));
  vi.spyOn(PartUploader.prototype, "write").mockImplementation(async function (this: PartUploader, chunk: Uint8Array) {
    await gate;
    return write.call(this, chunk);
  });
}
let releaseJobs = () => {};

async function allJobIds(key: string): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | null = null;
  for (let page = 0; page < 100; page++) {
    const response: { status: number; body: any } = await callJson("GET", `/v1/jobs?limit=200${cursor ? `&cursor=${cursor}` : ""}`, { key });
    expect(response.status).toBe(200);
    ids.push(...response.body.data.map((job: { id: string }) => job.id));
    cursor = response.body.next_cursor;
    if (!cursor) break;
  }
  return ids;
}

describe("finding 5: 10.5: bundle jobs belong to the key that created them", () => {
  let alice: Portal;
  let bob: Portal;
  beforeAll(async () => {
    alice = await portal("portal A");
    bob = await portal("portal B");
  });
  afterEach(() => {
    releaseJobs();
    vi.restoreAllMocks();
  });

  it("another ingest key does not list a key's jobs; the owner and admin do", async () => {
    const own = await bundleOf(alice);
    const other = await bundleOf(bob);
    const aliceSees = await allJobIds(alice.key);
    expect(aliceSees).toContain(own.jobId);
    expect(aliceSees).not.toContain(other.jobId);
    const bobSees = await allJobIds(bob.key);
    expect(bobSees).toContain(other.jobId);
    expect(bobSees).not.toContain(own.jobId);
    const adminSees = await allJobIds("test-admin-key");
    expect(adminSees).toEqual(expect.arrayContaining([own.jobId, other.jobId]));
    // The status filter keeps to the owner's jobs too.
    const pending = await callJson("GET", "/v1/jobs?status=pending&limit=200", { key: bob.key });
    expect(pending.body.data.map((job: { id: string }) => job.id)).not.toContain(own.jobId);
  });

  it("another ingest key reading a job (and its signed link) gets 404, the same answer as for a job that does not exist", async () => {
    const { jobId } = await bundleOf(alice);
    await finish(jobId);
    const refused = await expectError(await call("GET", `/v1/jobs/${jobId}`, { key: bob.key }), 404, "not_found");
    const missing = await expectError(await call("GET", "/v1/jobs/no-such-job", { key: bob.key }), 404, "not_found");
    expect(refused.message.replace(jobId, "ID")).toBe(missing.message.replace("no-such-job", "ID"));
    const own = await callJson("GET", `/v1/jobs/${jobId}`, { key: alice.key });
    expect(own.status).toBe(200);
    expect(own.body.result.url).toMatch(/\/d\//);
    expect((await callJson("GET", `/v1/jobs/${jobId}`)).body.id).toBe(jobId);
  });

  it("another ingest key cannot cancel a job (404) and the job goes on", async () => {
    holdJobs();
    const { jobId } = await bundleOf(alice);
    await expectError(await call("DELETE", `/v1/jobs/${jobId}`, { key: bob.key }), 404, "not_found");
    const { state } = await env.BUNDLE_JOBS.getByName(jobId).snapshot();
    expect(["pending", "processing"]).toContain(state!.status);
    const cancelled = await callJson("DELETE", `/v1/jobs/${jobId}`, { key: alice.key });
    expect(cancelled.status).toBe(200);
    expect(cancelled.body.status).toBe("cancelled");
  });

  it("admin cancels any key's job", async () => {
    holdJobs();
    const { jobId } = await bundleOf(bob);
    const cancelled = await callJson("DELETE", `/v1/jobs/${jobId}`);
    expect(cancelled.status).toBe(200);
    expect(cancelled.body.status).toBe("cancelled");
  });

  it("a signed bundle link is bound to the job's owner: a link naming another key is refused and audited as a failure", async () => {
    const { jobId, bundleId } = await bundleOf(alice);
    await finish(jobId);
    const link = (await callJson("GET", `/v1/jobs/${jobId}`, { key: alice.key })).body.result.url as string;
    const token = new URL(link).pathname.slice(3);
    const payload = JSON.parse(new TextDecoder().decode(Uint8Array.from(atob(token.split(".")[0]!.replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0))));
    expect(payload).toMatchObject({ t: "b", b: bundleId, k: alice.id });

    const secret = env.DOWNLOAD_TOKEN_SECRET;
    const expiresAt = Math.floor(Date.now() / 1000) + 600;
    for (const ownerKeyId of [bob.id, null]) {
      const foreign = await mintToken(secret, { target: { kind: "bundle", bundleId, ownerKeyId }, sealedUser: null, expiresAt });
      await expectError(await call("GET", `/d/${foreign}`, { key: null }), 403, "forbidden");
    }
    const served = await call("GET", new URL(link).pathname, { key: null });
    expect(served.status).toBe(200);
    await served.arrayBuffer();
    const events = await eventsFor(bundleId);
    expect(events.map((event) => event.status).sort()).toEqual(["failure", "failure", "success"]);
  });
});
