import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { app } from "../../src/app";
import { bytesOf, createRecord, uniqueId, uploadFile } from "../catalog-helpers";
import { ADMIN_KEY, callJson, countRows, keyWith } from "../helpers";

async function postWithEnv(overrides: Record<string, string>, body: unknown) {
  const ctx = createExecutionContext();
  const response = await app.fetch(
    new Request("http://localhost/v1/bundles", {
      method: "POST",
      headers: { authorization: `Bearer ${ADMIN_KEY}`, "content-type": "application/json" },
      body: JSON.stringify(body),
    }),
    { ...env, ...overrides },
    ctx,
  );
  await waitOnExecutionContext(ctx);
  return { status: response.status, body: (await response.json()) as any };
}

describe("POST /v1/bundles", () => {
  it("answers 404 listing every unknown record id, storing nothing", async () => {
    const known = uniqueId();
    await createRecord(known);
    const jobsBefore = await countRows("jobs");
    const missing = [uniqueId("missing"), uniqueId("missing")];
    const { status, body } = await callJson("POST", "/v1/bundles", { body: { record_ids: [missing[0], known, missing[1]] } });
    expect(status).toBe(404);
    expect(body.error.details).toEqual({ missing_record_ids: missing });
    expect(await countRows("jobs")).toBe(jobsBefore);
  });

  it("answers 413 before any work when the bundle would exceed BUNDLE_MAX_BYTES", async () => {
    const id = uniqueId();
    await createRecord(id);
    await uploadFile(id, "big.bin", bytesOf(300_000));
    const jobsBefore = await countRows("jobs");
    const refused = await postWithEnv({ BUNDLE_MAX_BYTES: "200000" }, { record_ids: [id], include_files: true });
    expect(refused.status).toBe(413);
    expect(refused.body.error).toMatchObject({ code: "payload_too_large", details: { max_bytes: 200_000 } });
    expect(refused.body.error.details.estimated_bytes).toBeGreaterThan(300_000);
    expect(await countRows("jobs")).toBe(jobsBefore);
    expect((await postWithEnv({ BUNDLE_MAX_BYTES: "200000" }, { record_ids: [id] })).status).toBe(202);
  });

  it("validates the body (1-500 record ids, known fields) and needs an ingest key", async () => {
    expect((await callJson("POST", "/v1/bundles", { body: { record_ids: [] } })).status).toBe(400);
    expect((await callJson("POST", "/v1/bundles", { body: { record_ids: Array.from({ length: 501 }, (_, i) => `r${i}`) } })).status).toBe(400);
    expect((await callJson("POST", "/v1/bundles", { body: { record_ids: ["a"], zip: true } })).status).toBe(400);
    expect((await callJson("POST", "/v1/bundles", { key: null, body: { record_ids: ["a"] } })).status).toBe(401);
    expect((await callJson("POST", "/v1/bundles", { key: await keyWith("catalog", "read"), body: { record_ids: ["a"] } })).status).toBe(403);
  });
});
