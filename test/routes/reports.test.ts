import { beforeAll, describe, expect, it } from "vitest";
import { call, callJson, keyWith } from "../helpers";
import { clearLedger, seedRows } from "../stats-fixtures";

const at = (iso: string) => Date.parse(iso);
const event = (id: string, occurredAt: string, overrides: Record<string, unknown> = {}) => ({
  id,
  occurred_at: occurredAt,
  action: "download",
  resource: { type: "dataset", id: "ds-1", doi: "10.1234/ds.1", title: "Ocean | temperatures" },
  actor: { id: `user-${id}`, organisation: "CERN" },
  client: { ip: "203.0.113.7" },
  bytes: 2048,
  ...overrides,
});

describe("GET /v1/reports/daily and /weekly", () => {
  let readKey: string;
  let ingestKey: string;

  beforeAll(async () => {
    await clearLedger();
    readKey = await keyWith("read");
    ingestKey = await keyWith("ingest");
    // 2026-03-10 is the Tuesday of ISO week 2026-W11.
    await seedRows([
      { input: event("a", "2026-03-10T08:00:00Z"), receivedAt: at("2026-03-10T08:00:00Z") },
      { input: event("b", "2026-03-10T09:00:00Z", { status: "failure", message: "Storage timeout\nretrying" }), receivedAt: at("2026-03-10T09:00:00Z") },
      { input: event("c", "2026-03-10T10:00:00Z", { action: "auth.login", resource: undefined }), receivedAt: at("2026-03-10T10:00:00Z") },
      { input: event("d", "2026-03-12T10:00:00Z", { actor: { id: "user-d", organisation: "ETH" } }), receivedAt: at("2026-03-12T10:00:00Z") },
      { input: event("e", "2026-03-10T11:00:00Z"), receivedAt: at("2026-03-10T11:00:00Z"), denied: true },
    ]);
  });

  it("renders a daily report as Markdown: summary, actions, top lists, failures and denials in order", async () => {
    const response = await call("GET", "/v1/reports/daily?date=2026-03-10", { key: readKey });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("text/markdown; charset=utf-8");
    const markdown = await response.text();
    expect(markdown).toContain("# Daily downloads report: 2026-03-10");
    expect(markdown).toContain("| Events | 2 |");
    expect(markdown).toContain("| Successful | 1 (50.0 %) |");
    expect(markdown).toContain("| Failed | 1 (50.0 %) |");
    expect(markdown).toContain("| Unique users | 1 |");
    expect(markdown).toContain("| Bytes | 2,048 (2.0 KiB) |");
    expect(markdown).toContain("| Refused by rate limit | 1 |");
    expect(markdown).toContain("Actions seen: download (1 successful, 1 failed), auth.login (1 successful, 0 failed).");
    expect(markdown).toContain("| 1 | dataset/ds-1 | 10.1234/ds.1 | Ocean \\| temperatures | 2 | 1 |");
    expect(markdown).toContain("| 1 | CERN | 2 | 1 |");
    const failure = markdown.indexOf("| 2026-03-10T09:00:00.000Z | download | failed | dataset/ds-1 | CERN | Storage timeout retrying |");
    const denial = markdown.indexOf("| 2026-03-10T11:00:00.000Z | download | refused (rate limit) |");
    expect(failure).toBeGreaterThan(0);
    expect(denial).toBeGreaterThan(failure);
    expect(markdown).not.toContain("## Days");
  });

  it("returns the same content as JSON, and a weekly report with one line per day", async () => {
    const daily = await callJson("GET", "/v1/reports/daily?date=2026-03-10&format=json", { key: readKey });
    expect(daily.status).toBe(200);
    expect(daily.body).toMatchObject({
      report: "daily",
      period: { label: "2026-03-10", from: "2026-03-10T00:00:00.000Z", to: "2026-03-11T00:00:00.000Z" },
      summary: { events: 2, successful: 1, failed: 1, success_rate: 0.5, unique_users: 1, unique_users_estimated: false, bytes: 2048, denied: 1 },
      notable_events: { total: 2 },
    });
    expect(daily.body.notable_events.shown.map((row: any) => row.id)).toEqual(["b", "e"]);

    const weekly = await callJson("GET", "/v1/reports/weekly?week=2026-W11&format=json", { key: readKey });
    expect(weekly.body.period).toEqual({ label: "2026-W11", from: "2026-03-09T00:00:00.000Z", to: "2026-03-16T00:00:00.000Z" });
    expect(weekly.body.days.map((row: any) => row.successful)).toEqual([0, 1, 0, 1, 0, 0, 0]);
    expect(weekly.body.top_organisations.map((row: any) => row.organisation)).toEqual(["CERN", "ETH"]);
    const markdown = await (await call("GET", "/v1/reports/weekly?week=2026-W11", { key: readKey })).text();
    expect(markdown).toContain("# Weekly downloads report: 2026-W11");
    expect(markdown).toContain("| 2026-03-12 | 1 | 0 | 2.0 KiB | 1 |");
  });

  it("rejects impossible dates and weeks, and needs the read scope", async () => {
    for (const path of ["/v1/reports/daily?date=2026-02-30", "/v1/reports/daily?date=20260301", "/v1/reports/weekly?week=2026-W54", "/v1/reports/weekly?week=2026-12", "/v1/reports/daily?format=xls"]) {
      const { status, body } = await callJson("GET", path, { key: readKey });
      expect(status, path).toBe(400);
      expect(body.error.code, path).toBe("invalid_request");
    }
    for (const path of ["/v1/reports/daily", "/v1/reports/weekly"]) {
      expect((await call("GET", path, { key: null })).status).toBe(401);
      expect((await call("GET", path, { key: ingestKey })).status).toBe(403);
    }
  });
});
