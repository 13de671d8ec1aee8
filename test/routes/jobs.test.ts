import { describe, expect, it } from "vitest";
import { createRecord, uniqueId } from "../catalog-helpers";
import { callJson, keyWith } from "../helpers";

describe("jobs API", () => {
  it("shows a job, lists jobs by status with pagination, and 404s unknown ids", async () => {
    const id = uniqueId();
    await createRecord(id);
    const created: string[] = [];
    for (let i = 0; i < 3; i++) created.push((await callJson("POST", "/v1/bundles", { body: { record_ids: [id] } })).body.job.id);
    const job = await callJson("GET", `/v1/jobs/${created[0]}`);
    expect(job.status).toBe(200);
    expect(job.body).toMatchObject({ id: created[0], type: "bundle", status: expect.stringMatching(/pending|processing|completed/) });
    expect(Object.keys(job.body).sort()).toEqual(["created_at", "id", "message", "progress", "result", "status", "type", "updated_at"]);

    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: any = await callJson("GET", `/v1/jobs?limit=2${cursor ? `&cursor=${cursor}` : ""}`);
      seen.push(...page.body.data.map((j: any) => j.id));
      cursor = page.body.next_cursor;
    } while (cursor);
    expect(seen.filter((jobId) => created.includes(jobId)).sort()).toEqual([...created].sort());
    expect(new Set(seen).size).toBe(seen.length);

    const failed = await callJson("GET", "/v1/jobs?status=failed&limit=200");
    expect(failed.body.data.every((j: any) => j.status === "failed")).toBe(true);
    expect((await callJson("GET", "/v1/jobs?status=unknown")).status).toBe(400);
    expect((await callJson("GET", "/v1/jobs/no-such-job")).status).toBe(404);
    expect((await callJson("DELETE", "/v1/jobs/no-such-job")).status).toBe(404);
  });

  it("answers 401 without a key and 403 without the ingest scope", async () => {
    const readKey = await keyWith("read", "catalog");
    for (const [method, path] of [["GET", "/v1/jobs/x"], ["GET", "/v1/jobs"], ["DELETE", "/v1/jobs/x"]] as const) {
      expect((await callJson(method, path, { key: null })).status, `${method} ${path}`).toBe(401);
      expect((await callJson(method, path, { key: readKey })).status, `${method} ${path}`).toBe(403);
    }
  });
});
