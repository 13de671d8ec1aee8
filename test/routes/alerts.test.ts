import { env } from "cloudflare:workers";
import { beforeEach, describe, expect, it } from "vitest";
import { raiseAlert } from "../../src/core/alerts/alerts";
import { getConfig } from "../../src/lib/config";
import { call, callJson, expectError, keyWith } from "../helpers";
import { clearLedger, seedRows } from "../stats-fixtures";

const HOUR = 3_600_000;

async function alertAt(subject: string, at: number) {
  const { alert } = await raiseAlert(
    env,
    getConfig(env),
    { rule: "mirroring", subject, severity: "critical", title: `t ${subject}`, evidence: { distinct_records: 60 }, eventsQuery: "/v1/events?user_key=x" },
    at,
  );
  return alert;
}

describe("/v1/alerts", () => {
  beforeEach(async () => {
    await env.DB.prepare("DELETE FROM alerts").run();
  });

  it("lists alerts most recently seen first, by status and last-seen range, with pagination", async () => {
    const now = Date.now();
    const old = await alertAt("user:a", now - 3 * HOUR);
    const middle = await alertAt("user:b", now - 2 * HOUR);
    const recent = await alertAt("user:c", now - HOUR);
    await callJson("POST", `/v1/alerts/${middle.id}/acknowledge`);

    const all = await callJson("GET", "/v1/alerts");
    expect(all.status).toBe(200);
    expect(all.body.data.map((alert: any) => alert.id)).toEqual([recent.id, middle.id, old.id]);
    expect(all.body.data[0]).toMatchObject({ rule: "mirroring", status: "open", evidence: { distinct_records: 60 }, events_query: "/v1/events?user_key=x", count: 1 });
    expect((await callJson("GET", "/v1/alerts?status=open")).body.data.map((alert: any) => alert.id)).toEqual([recent.id, old.id]);
    expect((await callJson("GET", "/v1/alerts?status=acknowledged")).body.data.map((alert: any) => alert.id)).toEqual([middle.id]);
    const ranged = await callJson("GET", `/v1/alerts?from=${new Date(now - 2.5 * HOUR).toISOString()}&to=${new Date(now - 1.5 * HOUR).toISOString()}`);
    expect(ranged.body.data.map((alert: any) => alert.id)).toEqual([middle.id]);

    const page1 = await callJson("GET", "/v1/alerts?limit=2");
    expect(page1.body.data).toHaveLength(2);
    const page2 = await callJson("GET", `/v1/alerts?limit=2&cursor=${encodeURIComponent(page1.body.next_cursor)}`);
    expect(page2.body.data.map((alert: any) => alert.id)).toEqual([old.id]);
    expect(page2.body.next_cursor).toBeNull();
  });

  it("rejects bad filters with 400", async () => {
    await expectError(await call("GET", "/v1/alerts?status=closed"), 400, "invalid_request");
    await expectError(await call("GET", "/v1/alerts?from=yesterday"), 400, "invalid_request");
    await expectError(await call("GET", "/v1/alerts?cursor=bm9wZQ"), 400, "invalid_request");
  });

  it("acknowledges with an admin key, records who, and is idempotent; 404 for unknown alerts", async () => {
    const alert = await alertAt("user:d", Date.now());
    const adminKey = await keyWith("admin");
    const first = await callJson("POST", `/v1/alerts/${alert.id}/acknowledge`, { key: adminKey });
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ id: alert.id, status: "acknowledged" });
    expect(first.body.acknowledged_by).toMatch(/^[0-9a-f-]{36}$/);
    const again = await callJson("POST", `/v1/alerts/${alert.id}/acknowledge`);
    expect(again.body.acknowledged_at).toBe(first.body.acknowledged_at);
    expect(again.body.acknowledged_by).toBe(first.body.acknowledged_by);
    await expectError(await call("POST", "/v1/alerts/no-such-alert/acknowledge"), 404, "not_found");
  });

  it("reading needs the read scope, acknowledging and evaluating need admin", async () => {
    const alert = await alertAt("user:e", Date.now());
    const readKey = await keyWith("read");
    const ingestKey = await keyWith("ingest");
    expect((await callJson("GET", "/v1/alerts", { key: readKey })).status).toBe(200);
    await expectError(await call("GET", "/v1/alerts", { key: null }), 401, "unauthorized");
    await expectError(await call("GET", "/v1/alerts", { key: ingestKey }), 403, "forbidden");
    await expectError(await call("POST", `/v1/alerts/${alert.id}/acknowledge`, { key: readKey }), 403, "forbidden");
    await expectError(await call("POST", "/v1/alerts/evaluate", { key: readKey }), 403, "forbidden");
    expect((await callJson("GET", "/v1/alerts")).body.data[0].status).toBe("open");
  });

  it("evaluates the rules on demand (admin): a fresh denial opens a download-limit alert", async () => {
    await clearLedger();
    await seedRows([
      {
        input: { action: "download", status: "success", resource: { type: "dataset", id: "r1" }, client: { ip: "192.0.2.44", user_agent: "x" } },
        receivedAt: Date.now() - 5 * 60_000,
        denied: true,
      },
    ]);
    const { status, body } = await callJson("POST", "/v1/alerts/evaluate");
    expect(status).toBe(200);
    expect(body).toEqual({ skipped: false, fired: 1, opened: 1 });
    expect((await callJson("GET", "/v1/alerts")).body.data[0]).toMatchObject({ rule: "download_limit", subject: "ip:192.0.2.0", evidence: { denied: 1 } });
  });
});
