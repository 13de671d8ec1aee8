import { env } from "cloudflare:workers";
import { beforeEach, describe, expect, it } from "vitest";
import { acquireLease, releaseLease } from "../../src/core/retention/maintenance";
import { ROLLUP_WATERMARK } from "../../src/core/analytics/rollup";
import { readState } from "../../src/core/retention/maintenance";
import { call, callJson, keyWith } from "../helpers";
import { clearLedger, DAY, random, randomInput, seedRows } from "../stats-fixtures";

const TODAY = Math.floor(Date.now() / DAY) * DAY;

async function seedDays(firstDaysAgo: number, days: number, perDay: number) {
  const next = random(firstDaysAgo);
  const rows = [];
  for (let index = 0; index < days * perDay; index++) {
    const occurredAt = TODAY - firstDaysAgo * DAY + Math.floor(next() * days * DAY);
    rows.push({ input: randomInput(next, occurredAt, index), receivedAt: occurredAt + 1000 });
  }
  return seedRows(rows);
}

describe("POST /v1/maintenance/rollup and /retention", () => {
  beforeEach(async () => {
    await clearLedger();
    const listing = await env.BUCKET.list({ prefix: "archive/" });
    if (listing.objects.length > 0) await env.BUCKET.delete(listing.objects.map((object) => object.key));
  });

  it("runs the incremental rollup, then rebuilds a range idempotently", async () => {
    await seedDays(10, 10, 30);
    const incremental = await callJson("POST", "/v1/maintenance/rollup", { body: {} });
    expect(incremental.status).toBe(200);
    expect(incremental.body).toMatchObject({ mode: "incremental", rebuilt: 10, folded: 0 });
    expect(await readState(env.DB, ROLLUP_WATERMARK)).toBe(Date.parse(incremental.body.snapshot));
    const stats = (await callJson("GET", "/v1/stats?action=download,bundle.download,metadata.download,auth.login")).body;

    const from = new Date(TODAY - 10 * DAY).toISOString().slice(0, 10);
    const to = new Date(TODAY).toISOString().slice(0, 10);
    const rebuild = await callJson("POST", "/v1/maintenance/rollup", { body: { from, to } });
    expect(rebuild.body).toMatchObject({ mode: "rebuild", days: 10, rebuilt: 10 });
    expect((await callJson("GET", "/v1/stats?action=download,bundle.download,metadata.download,auth.login")).body).toEqual(stats);
  });

  it("rejects bad rollup requests", async () => {
    for (const body of [{ from: "2026-01-01" }, { from: "2026-02-01", to: "2026-01-01" }, { from: "2026-01-01T00:00:00Z", to: "2026-02-01" }, { days: 3 }]) {
      const response = await callJson("POST", "/v1/maintenance/rollup", { body });
      expect(response.status, JSON.stringify(body)).toBe(400);
      expect(response.body.error.code).toBe("invalid_request");
    }
    expect((await call("POST", "/v1/maintenance/rollup", { rawBody: "{}", contentType: "text/plain" })).status).toBe(415);
  });

  it("answers 409 while another run holds the lease", async () => {
    const lease = await acquireLease(env.DB, "rollup", 60_000);
    const busy = await callJson("POST", "/v1/maintenance/rollup", { body: {} });
    expect(busy.status).toBe(409);
    expect(busy.body.error.code).toBe("conflict");
    await releaseLease(env.DB, lease!);
    const retentionLease = await acquireLease(env.DB, "retention", 60_000);
    expect((await callJson("POST", "/v1/maintenance/retention", { body: {} })).status).toBe(409);
    await releaseLease(env.DB, retentionLease!);
  });

  it("dry-runs, then runs retention for events older than RETENTION_DAYS", async () => {
    const rows = await seedDays(183, 6, 20);
    const old = rows.filter((row) => row.occurred_at < TODAY - 180 * DAY);
    const dry = await callJson("POST", "/v1/maintenance/retention", { body: { dry_run: true } });
    expect(dry.status).toBe(200);
    expect(dry.body).toMatchObject({ dry_run: true, cutoff: new Date(TODAY - 180 * DAY).toISOString(), events: old.length, deleted: 0 });
    expect(dry.body.archived).toHaveLength(3);
    expect((await env.BUCKET.list({ prefix: "archive/" })).objects).toHaveLength(0);

    const real = await callJson("POST", "/v1/maintenance/retention", { body: {} });
    expect(real.body).toMatchObject({ dry_run: false, events: old.length, deleted: old.length, archived: dry.body.archived });
    const narrower = await callJson("POST", "/v1/maintenance/retention", { body: { older_than_days: 182, dry_run: true } });
    expect(narrower.body).toMatchObject({ events: 0, archived: [] });
    const all = await callJson("POST", "/v1/maintenance/retention", { body: { older_than_days: 1, dry_run: true } });
    expect(all.body.events).toBe(rows.length - old.length);
  });

  it("rejects bad retention requests", async () => {
    for (const body of [{ older_than_days: 0 }, { older_than_days: 1.5 }, { dry_run: "yes" }, { olderThan: 3 }]) {
      const response = await callJson("POST", "/v1/maintenance/retention", { body });
      expect(response.status, JSON.stringify(body)).toBe(400);
    }
  });

  it("requires a key (401) with the admin scope (403)", async () => {
    const readKey = await keyWith("read", "ingest", "catalog");
    for (const path of ["/v1/maintenance/rollup", "/v1/maintenance/retention"]) {
      expect((await callJson("POST", path, { key: null, body: {} })).status).toBe(401);
      expect((await callJson("POST", path, { key: readKey, body: {} })).status).toBe(403);
    }
  });
});
