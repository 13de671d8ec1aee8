import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { runRollup } from "../../src/core/analytics/rollup";
import { callJson, keyWith } from "../helpers";
import { clearLedger, DAY, seedRows } from "../stats-fixtures";

const TODAY = Math.floor(Date.now() / DAY) * DAY;
const day = (offset: number, hour = 12) => TODAY + offset * DAY + hour * 3_600_000;

const download = (id: string, occurredAt: number, overrides: Record<string, unknown> = {}) => ({
  id,
  occurred_at: new Date(occurredAt).toISOString(),
  action: "download",
  resource: { type: "dataset", id: "ds-1", doi: "10.1234/ds.1", title: "Ocean temperatures" },
  actor: { id: "ada", email: "ada@example.org", organisation: "Analytical Engines" },
  client: { ip: "203.0.113.7" },
  bytes: 100,
  ...overrides,
});

describe("GET /v1/stats and friends", () => {
  let readKey: string;
  let ingestKey: string;

  beforeAll(async () => {
    await clearLedger();
    readKey = await keyWith("read");
    ingestKey = await keyWith("ingest");
    const rows = await seedRows([
      { input: download("a", day(-3)), receivedAt: day(-3) },
      { input: download("b", day(-3, 13), { actor: { id: "bob", organisation: "Babbage & Co" } }), receivedAt: day(-3, 13) },
      { input: download("c", day(-2), { status: "failure" }), receivedAt: day(-2) },
      { input: download("d", day(-1), { resource: { type: "dataset", id: "ds-2", doi: "10.1234/ds.2" }, bytes: 50 }), receivedAt: day(-1) },
      { input: download("e", day(0, 0)), receivedAt: Date.now() },
      { input: download("f", day(-1), { action: "auth.login", resource: undefined }), receivedAt: day(-1) },
    ]);
    await seedRows([
      { input: download("dup", day(-3, 14)), receivedAt: day(-3, 14), duplicateOf: rows[0]!.id },
      { input: download("denied", day(-3, 15)), receivedAt: day(-3, 15), denied: true },
    ]);
    await runRollup(env.DB, { now: Date.now(), settleMs: 0 });
  });

  it("answers totals, top lists and a zero-filled series; duplicates and denials never count", async () => {
    const { status, body } = await callJson("GET", `/v1/stats?from=${new Date(TODAY - 4 * DAY).toISOString().slice(0, 10)}&interval=day`, { key: readKey });
    expect(status).toBe(200);
    expect(body.totals).toEqual({ events: 5, successful: 4, failed: 1, success_rate: 0.8, unique_users: 2, bytes: 350 });
    // Unique users come from the rollups' sketches by default; two users in two of 4,096 registers estimate as 2.
    expect(body.unique_users_estimated).toBe(true);
    expect(body.series).toHaveLength(5);
    expect(body.series.map((entry: any) => entry.successful)).toEqual([0, 2, 0, 1, 1]);
    expect(body.top_organisations).toEqual([
      { organisation: "Analytical Engines", events: 4, unique_users: 1 },
      { organisation: "Babbage & Co", events: 1, unique_users: 1 },
    ]);
    expect(body.top_resources[0]).toEqual({ resource_type: "dataset", resource_id: "ds-1", doi: "10.1234/ds.1", title: "Ocean temperatures", events: 4, unique_users: 2 });
  });

  it("counts unique users exactly with exact=true, and refuses any other value", async () => {
    const from = new Date(TODAY - 4 * DAY).toISOString().slice(0, 10);
    const exact = await callJson("GET", `/v1/stats?from=${from}&exact=true`, { key: readKey });
    expect(exact.status).toBe(200);
    expect(exact.body.unique_users_estimated).toBe(false);
    expect(exact.body.totals).toEqual({ events: 5, successful: 4, failed: 1, success_rate: 0.8, unique_users: 2, bytes: 350 });
    expect(exact.body.top_organisations[0]).toEqual({ organisation: "Analytical Engines", events: 4, unique_users: 1 });
    const estimated = await callJson("GET", `/v1/stats?from=${from}&exact=false`, { key: readKey });
    expect(estimated.body.unique_users_estimated).toBe(true);
    const bad = await callJson("GET", `/v1/stats?from=${from}&exact=yes`, { key: readKey });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe("invalid_request");
    expect(bad.body.error.details[0].path).toBe("exact");
  });

  it("filters by action list, organisation and resource, with ISO weeks and months", async () => {
    const logins = await callJson("GET", "/v1/stats?action=auth.login&interval=week", { key: readKey });
    expect(logins.body.totals.events).toBe(1);
    expect(logins.body.series.every((entry: any) => /^\d{4}-W\d{2}$/.test(entry.period))).toBe(true);
    const org = await callJson("GET", "/v1/stats?organisation=Babbage%20%26%20Co&interval=month", { key: readKey });
    expect(org.body.totals.events).toBe(1);
    expect(org.body.series.every((entry: any) => /^\d{4}-\d{2}$/.test(entry.period))).toBe(true);
    const resource = await callJson("GET", "/v1/stats?resource_type=dataset&resource_id=ds-2&top=1", { key: readKey });
    expect(resource.body.totals).toMatchObject({ events: 1, bytes: 50 });
    expect(resource.body.top_resources).toHaveLength(1);
  });

  it("answers one resource and one person", async () => {
    const resource = await callJson("GET", "/v1/stats/resources/dataset/ds-1", { key: readKey });
    expect(resource.status).toBe(200);
    expect(resource.body).toEqual({
      resource_type: "dataset",
      resource_id: "ds-1",
      events: 4,
      unique_users: 2,
      unique_users_estimated: false,
      bytes: 300,
      first_at: new Date(day(-3)).toISOString(),
      last_at: new Date(day(0, 0)).toISOString(),
    });
    const ada = await callJson("GET", "/v1/stats/users?email=ADA@example.org", { key: readKey });
    expect(ada.body).toEqual({ events: 4, resources: 2, bytes: 250, last_at: new Date(day(0, 0)).toISOString() });
    const bob = await callJson("GET", "/v1/stats/users?actor_id=bob", { key: readKey });
    expect(bob.body.events).toBe(1);
  });

  it("rejects bad input with invalid_request", async () => {
    for (const path of [
      "/v1/stats?from=2026-02-01&to=2026-01-01",
      "/v1/stats?from=2000-01-01&to=2026-01-01",
      "/v1/stats?interval=year",
      "/v1/stats?action=Not%20An%20Action",
      "/v1/stats?top=0",
      "/v1/stats?from=yesterday",
      "/v1/stats/users",
      "/v1/stats/users?email=a@example.org&actor_id=x",
      "/v1/stats/users?email=not-an-email",
      "/v1/stats/resources/dataset/ds-1?from=2026-02-01&to=2026-01-01",
    ]) {
      const { status, body } = await callJson("GET", path, { key: readKey });
      expect(status, path).toBe(400);
      expect(body.error.code, path).toBe("invalid_request");
    }
  });

  it("requires a key (401) with the read scope (403)", async () => {
    for (const path of ["/v1/stats", "/v1/stats/resources/dataset/ds-1", "/v1/stats/users?actor_id=ada"]) {
      expect((await callJson("GET", path, { key: null })).status, path).toBe(401);
      expect((await callJson("GET", path, { key: "not-a-key" })).status, path).toBe(401);
      expect((await callJson("GET", path, { key: ingestKey })).status, path).toBe(403);
    }
  });
});
