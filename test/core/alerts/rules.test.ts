import { env } from "cloudflare:workers";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { acknowledgeAlert, listAlerts } from "../../../src/core/alerts/alerts";
import { evaluateAlerts } from "../../../src/core/alerts/rules";
import { BYTE_BUDGET_DENIAL } from "../../../src/core/ledger/pipeline";
import { dayOf } from "../../../src/core/analytics/periods";
import { getConfig, type Config } from "../../../src/lib/config";
import { runWebhookAlarms } from "../../webhook-helpers";
import { TestReceiver } from "../../webhook-receiver";
import { clearLedger, seedRows } from "../../stats-fixtures";
import { callJson } from "../../helpers";

const MINUTE = 60_000;
const NOW = Date.now();
// Rule windows end ALERT_SETTLE_SECONDS (60 s) before `now`: events 30 minutes ago are inside the last hour.
const RECENT = NOW - 30 * MINUTE;

function configWith(alerts: Partial<Config["alerts"]>): Config {
  const base = getConfig(env);
  return { ...base, alerts: { ...base.alerts, spikeFloor: 1000, mirrorRecords: 1000, failureMinEvents: 1000, ...alerts } };
}

let seq = 0;
function download(resourceId: string, options: { user?: string; ip?: string; agent?: string; status?: "success" | "failure"; at?: number; message?: string } = {}) {
  seq++;
  return {
    input: {
      id: `alert-ev-${seq}`,
      occurred_at: new Date(options.at ?? RECENT).toISOString(),
      action: "download",
      status: options.status ?? "success",
      resource: { type: "dataset", id: resourceId },
      actor: options.user ? { id: options.user } : undefined,
      client: { ip: options.ip ?? "198.51.100.7", user_agent: options.agent ?? "test-agent" },
      message: options.message,
      bytes: 100,
    },
    receivedAt: options.at ?? RECENT,
  };
}

const times = <T>(n: number, make: (index: number) => T) => Array.from({ length: n }, (_, index) => make(index));

async function clearAlerts() {
  await clearLedger();
  await env.DB.batch(["alerts", "webhooks"].map((table) => env.DB.prepare(`DELETE FROM ${table}`)));
}

async function baseline(resourceId: string, events: number) {
  await env.DB.prepare(
    `INSERT INTO event_rollups (grain, day, action, status, access_method, country, resource_type, resource_id, organisation, events, bytes, first_at, last_at)
     VALUES ('resource', ?1, 'download', 'success', 'regular', '', 'dataset', ?2, '', ?3, 0, 0, 0)`,
  )
    .bind(dayOf(NOW) - 5, resourceId, events)
    .run();
}

describe("alert rules", () => {
  beforeEach(clearAlerts);

  it("record spike: downloads in the last hour above factor × 28-day hourly mean + floor; duplicates, failures and robots do not count", async () => {
    // 672 downloads over 28 days = 1 per hour; threshold 10 × 1 + 5 = 15.
    await baseline("rec-a", 672);
    // 1,344 over 28 days = 2 per hour; threshold 25.
    await baseline("rec-d", 1344);
    const rows = [
      ...times(10, () => download("rec-a", { ip: "198.51.100.7" })),
      ...times(6, () => download("rec-a", { ip: "203.0.113.9" })),
      ...times(3, () => download("rec-a", { status: "failure" })),
      ...times(5, () => download("rec-b")),
      ...times(6, () => download("rec-c")),
      ...times(20, () => download("rec-d")),
      // Outside the hour.
      ...times(30, () => download("rec-b", { at: NOW - 2 * 60 * MINUTE })),
      // A crawler (COUNTER robots list): 10 more would lift rec-b to 15 > 5 if robots counted.
      ...times(10, () => download("rec-b", { agent: "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)" })),
    ];
    const stored = await seedRows(rows);
    // Five duplicates of rec-b inside the hour would lift it to 10 > 5 if they counted.
    await seedRows(times(5, () => ({ ...download("rec-b"), duplicateOf: stored[0]!.id })));

    const result = await evaluateAlerts(env, configWith({ spikeFactor: 10, spikeFloor: 5 }), NOW);
    expect(result).toEqual({ skipped: false, fired: 2, opened: 2 });
    const { data } = await listAlerts(env.DB, { limit: 50 });
    const bySubject = Object.fromEntries(data.map((alert) => [alert.subject, alert]));
    expect(Object.keys(bySubject).sort()).toEqual(["record:dataset:rec-a", "record:dataset:rec-c"]);
    expect(bySubject["record:dataset:rec-a"]).toMatchObject({
      rule: "record_spike",
      status: "open",
      count: 1,
      evidence: {
        downloads: 16,
        baseline_hourly_mean: 1,
        threshold: 15,
        top_ip_prefixes: [
          { ip_prefix: "198.51.100.0", downloads: 10 },
          { ip_prefix: "203.0.113.0", downloads: 6 },
        ],
      },
    });
    expect(bySubject["record:dataset:rec-c"]!.evidence).toMatchObject({ downloads: 6, baseline_hourly_mean: 0, threshold: 5 });
    const link = bySubject["record:dataset:rec-a"]!.events_query!;
    expect(link).toMatch(/^\/v1\/events\?/);
    const listed = await callJson("GET", link);
    expect(listed.status).toBe(200);
    expect(listed.body.data).toHaveLength(16);
  });

  it("raises at most 20 alerts per rule and run, the largest first (a new deployment has no baseline yet)", async () => {
    // Records spike-0 … spike-24 with 2 … 26 downloads, no baseline, floor 1: all 25 exceed it; the 20 largest alert.
    await seedRows(times(25, (index) => times(index + 2, () => download(`spike-${index}`))).flat());
    expect(await evaluateAlerts(env, configWith({ spikeFactor: 10, spikeFloor: 1 }), NOW)).toMatchObject({ fired: 20, opened: 20 });
    const { data } = await listAlerts(env.DB, { limit: 50 });
    expect(data.map((alert) => alert.subject).sort()).toEqual(times(20, (index) => `record:dataset:spike-${index + 5}`).sort());
  });

  it("mirroring: a user key fetching more than N distinct records in an hour; the evidence is pseudonymous", async () => {
    await seedRows([
      ...["r1", "r2", "r3", "r4"].map((id) => download(id, { user: "scraper", ip: "192.0.2.10" })),
      ...["r1", "r2", "r3", "r1", "r2", "r3"].map((id) => download(id, { user: "reader" })),
    ]);
    await evaluateAlerts(env, configWith({ mirrorRecords: 3 }), NOW);
    const { data } = await listAlerts(env.DB, { limit: 50 });
    expect(data).toHaveLength(1);
    const [alert] = data;
    expect(alert).toMatchObject({ rule: "mirroring", severity: "critical", evidence: { distinct_records: 4, downloads: 4, limit: 3, top_ip_prefixes: [{ ip_prefix: "192.0.2.0", downloads: 4 }] } });
    expect(alert!.subject).toMatch(/^user:[0-9a-f]{64}$/);
    expect(JSON.stringify(alert)).not.toContain("scraper");
    expect(JSON.stringify(alert)).not.toContain("192.0.2.10");
    const listed = await callJson("GET", alert!.events_query!);
    expect(listed.body.data).toHaveLength(4);
  });

  it("download limit: each IP prefix refused since the last run, with its user keys; byte-budget refusals also alert per user key; nothing new, nothing fires", async () => {
    const first = await seedRows([
      ...times(3, () => ({ ...download("r1", { user: "u1", ip: "198.51.100.7", at: NOW - 10 * MINUTE }), denied: true })),
      { ...download("r2", { user: "u2", ip: "198.51.100.8", at: NOW - 10 * MINUTE, message: BYTE_BUDGET_DENIAL }), denied: true },
    ]);
    const result = await evaluateAlerts(env, configWith({}), NOW);
    expect(result).toMatchObject({ fired: 2, opened: 2 });
    const { data } = await listAlerts(env.DB, { limit: 50 });
    const ipAlert = data.find((alert) => alert.subject === "ip:198.51.100.0")!;
    expect(ipAlert.evidence).toMatchObject({
      denied: 4,
      denied_by_bytes: 1,
      top_user_keys: [
        { user_key: first[0]!.user_key, denied: 3 },
        { user_key: first[3]!.user_key, denied: 1 },
      ],
    });
    const userAlert = data.find((alert) => alert.subject === `user:${first[3]!.user_key}`)!;
    expect(userAlert.evidence).toMatchObject({ denied_by_bytes: 1, top_ip_prefixes: [{ ip_prefix: "198.51.100.0", denied: 1 }] });
    expect((await callJson("GET", ipAlert.events_query!)).body.data).toHaveLength(4);

    // Five minutes later, no new denials: the download-limit rule stays quiet (it reads only newly received denials).
    expect(await evaluateAlerts(env, configWith({}), NOW + 5 * MINUTE)).toMatchObject({ fired: 0 });
    expect((await listAlerts(env.DB, { limit: 50 })).data.map((alert) => alert.count)).toEqual([1, 1]);
  });

  it("failure share: fires at the configured share of enough attempts in 15 minutes, not below", async () => {
    await seedRows([
      ...times(9, () => download("r1", { status: "failure", message: "The file is missing from storage", at: NOW - 5 * MINUTE })),
      ...times(10, () => download("r1", { at: NOW - 5 * MINUTE })),
      // 20 minutes ago: outside the 15-minute window.
      ...times(10, () => download("r1", { status: "failure", at: NOW - 20 * MINUTE })),
    ]);
    // 9 of 19 attempts: below the minimum of 20 attempts.
    expect(await evaluateAlerts(env, configWith({ failureMinEvents: 20, failureShare: 0.5 }), NOW)).toMatchObject({ fired: 0 });
    await seedRows([download("r1", { status: "failure", message: "The file is missing from storage", at: NOW - 5 * MINUTE })]);
    // 10 of 20 = 0.5.
    expect(await evaluateAlerts(env, configWith({ failureMinEvents: 20, failureShare: 0.5 }), NOW + 1)).toMatchObject({ fired: 1, opened: 1 });
    const [alert] = (await listAlerts(env.DB, { limit: 5 })).data;
    expect(alert).toMatchObject({
      rule: "failure_share",
      subject: "downloads",
      evidence: { attempts: 20, failures: 10, share: 0.5, top_messages: [{ message: "The file is missing from storage", events: 10 }] },
    });
  });
});

describe("alert episodes and webhooks", () => {
  let receiver: TestReceiver;
  beforeEach(async () => {
    await clearAlerts();
    receiver = new TestReceiver("alerts-receiver.example.com");
  });
  afterEach(() => receiver.restore());

  it("an alert that keeps firing is updated, not duplicated; acknowledged stays acknowledged; after the quiet period a new one opens", async () => {
    const created = await callJson("POST", "/v1/webhooks", {
      body: { url: "https://alerts-receiver.example.com/hook", event_types: ["alert.opened", "alert.updated", "alert.acknowledged"] },
    });
    receiver.secret = created.body.secret;
    await seedRows(["r1", "r2", "r3", "r4"].map((id) => download(id, { user: "scraper" })));
    const config = configWith({ mirrorRecords: 3, quietHours: 24 });

    await evaluateAlerts(env, config, NOW);
    await evaluateAlerts(env, config, NOW + 5 * MINUTE);
    let { data } = await listAlerts(env.DB, { limit: 50 });
    expect(data).toHaveLength(1);
    expect(data[0]).toMatchObject({ status: "open", count: 2, first_seen: new Date(NOW).toISOString(), last_seen: new Date(NOW + 5 * MINUTE).toISOString() });

    await acknowledgeAlert(env, data[0]!.id, "key-1", NOW + 6 * MINUTE);
    await evaluateAlerts(env, config, NOW + 10 * MINUTE);
    ({ data } = await listAlerts(env.DB, { limit: 50 }));
    expect(data).toHaveLength(1);
    expect(data[0]).toMatchObject({ status: "acknowledged", count: 3, acknowledged_by: "key-1" });

    await runWebhookAlarms();
    expect(receiver.ofType("alert.opened")).toHaveLength(1);
    // Updates while open only: the third firing happened after the acknowledgement.
    expect(receiver.ofType("alert.updated")).toHaveLength(1);
    expect(receiver.ofType("alert.acknowledged")).toHaveLength(1);
    expect(receiver.ofType("alert.opened")[0]!.data).toMatchObject({ id: data[0]!.id, rule: "mirroring", count: 1 });

    // Once the alert has been quiet for longer than the quiet period (24 h), the same behaviour opens a new alert.
    await env.DB.prepare("UPDATE alerts SET last_seen = last_seen - 25 * 3600000").run();
    await evaluateAlerts(env, config, NOW + 15 * MINUTE);
    ({ data } = await listAlerts(env.DB, { limit: 50 }));
    expect(data.map((alert) => [alert.status, alert.count])).toEqual([["open", 1], ["acknowledged", 3]]);
  });
});
