import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { runRetention } from "../../src/core/retention/retention";
import { getConfig } from "../../src/lib/config";
import { callJson, countRows, keyWith } from "../helpers";
import { clearLedger, DAY, random, randomInput, seedRows } from "../stats-fixtures";

const TODAY = Math.floor(Date.now() / DAY) * DAY;

describe("GET /v1/archives and POST /v1/archives/restore", () => {
  let archived: string[];

  beforeAll(async () => {
    await clearLedger();
    const next = random(5);
    await seedRows(
      Array.from({ length: 90 }, (_, index) => {
        const occurredAt = TODAY - 200 * DAY + Math.floor(index / 30) * DAY + index * 60_000;
        return { input: randomInput(next, occurredAt, index), receivedAt: occurredAt };
      }),
    );
    archived = (await runRetention(env, getConfig(env))).archived;
    expect(archived).toHaveLength(3);
  });

  it("lists archive objects with their row counts, a page at a time", async () => {
    const { status, body } = await callJson("GET", "/v1/archives");
    expect(status).toBe(200);
    expect(body.data.map((archive: any) => archive.key)).toEqual(archived);
    expect(body.data.map((archive: any) => archive.rows)).toEqual([30, 30, 30]);
    expect(body.data[0]).toMatchObject({ day: new Date(TODAY - 200 * DAY).toISOString().slice(0, 10), sha256: expect.stringMatching(/^[0-9a-f]{64}$/) });
    const first = await callJson("GET", "/v1/archives?limit=2");
    expect(first.body.data).toHaveLength(2);
    const second = await callJson("GET", `/v1/archives?limit=2&cursor=${encodeURIComponent(first.body.next_cursor)}`);
    expect(second.body).toMatchObject({ data: [{ key: archived[2] }], next_cursor: null });
  });

  it("restores an archive idempotently", async () => {
    expect(await countRows("events")).toBe(0);
    const restored = await callJson("POST", "/v1/archives/restore", { body: { key: archived[1] } });
    expect(restored.status).toBe(200);
    expect(restored.body).toEqual({ key: archived[1], rows: 30, restored: 30, already_present: 0 });
    const again = await callJson("POST", "/v1/archives/restore", { body: { key: archived[1] } });
    expect(again.body).toEqual({ key: archived[1], rows: 30, restored: 0, already_present: 30 });
    // Besides the 30 restored rows, each restore is recorded as an admin.archive.restore event.
    expect(await countRows("events", "action NOT LIKE 'admin.%'")).toBe(30);
  });

  it("answers 400 for a key that is not an archive and 404 for a missing one", async () => {
    const bad = await callJson("POST", "/v1/archives/restore", { body: { key: "bundles/x.zip" } });
    expect(bad.status).toBe(400);
    expect(bad.body.error.details[0].path).toBe("key");
    expect((await callJson("POST", "/v1/archives/restore", { body: { key: "archive/events/2020/02/30.ndjson.gz" } })).status).toBe(400);
    expect((await callJson("POST", "/v1/archives/restore", { body: { key: "archive/events/2001/01/01.ndjson.gz" } })).status).toBe(404);
    expect((await callJson("POST", "/v1/archives/restore", { body: {} })).status).toBe(400);
    expect((await callJson("GET", "/v1/archives?limit=5000")).status).toBe(400);
  });

  it("requires a key (401) with the admin scope (403)", async () => {
    const readKey = await keyWith("read");
    expect((await callJson("GET", "/v1/archives", { key: null })).status).toBe(401);
    expect((await callJson("GET", "/v1/archives", { key: readKey })).status).toBe(403);
    expect((await callJson("POST", "/v1/archives/restore", { key: null, body: { key: archived[0] } })).status).toBe(401);
    expect((await callJson("POST", "/v1/archives/restore", { key: readKey, body: { key: archived[0] } })).status).toBe(403);
  });
});
