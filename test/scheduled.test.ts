import { createExecutionContext, createScheduledController, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import worker from "../src/index";
import { readState } from "../src/core/retention/maintenance";
import { ROLLUP_WATERMARK } from "../src/core/analytics/rollup";
import { CRONS } from "../src/scheduled";
import wranglerConfig from "../wrangler.jsonc?raw";
import { callJson, countRows } from "./helpers";
import { clearLedger, DAY, random, randomInput, seedRows } from "./stats-fixtures";

const TODAY = Math.floor(Date.now() / DAY) * DAY;

async function runCron(cron: string, cronEnv: Env = env) {
  const controller = createScheduledController({ scheduledTime: Date.now(), cron });
  const ctx = createExecutionContext();
  await worker.scheduled(controller, cronEnv, ctx);
  await waitOnExecutionContext(ctx);
}

describe("cron triggers", () => {
  beforeEach(clearLedger);
  afterEach(() => vi.restoreAllMocks());

  it("are the ones wrangler.jsonc declares", () => {
    for (const cron of Object.values(CRONS)) expect(wranglerConfig).toContain(`"${cron}"`);
  });

  it("rolls up closed days every quarter hour", async () => {
    const next = random(3);
    await seedRows(
      Array.from({ length: 50 }, (_, index) => ({ input: randomInput(next, TODAY - 3 * DAY + index * 3_600_000, index), receivedAt: TODAY - 3 * DAY + index * 3_600_000 })),
    );
    await runCron(CRONS.everyQuarterHour);
    expect(await readState(env.DB, ROLLUP_WATERMARK)).toBeGreaterThan(Date.now() - 5 * 60_000);
    expect(await countRows("rollup_days")).toBe(3);
    expect(await countRows("event_rollups", "grain = 'all'")).toBeGreaterThan(0);
  });

  it("logs one line a person can read per job (what `wrangler dev` prints after /cdn-cgi/handler/scheduled)", async () => {
    const next = random(5);
    // 50 events an hour apart from three days ago: they fall on three closed days.
    await seedRows(
      Array.from({ length: 50 }, (_, index) => ({ input: randomInput(next, TODAY - 3 * DAY + index * 3_600_000, index), receivedAt: TODAY - 3 * DAY + index * 3_600_000 })),
    );
    const log = vi.spyOn(console, "log").mockImplementation(() => undefined);
    await runCron(CRONS.everyQuarterHour);
    const lines = log.mock.calls.map((call) => String(call[0]));
    expect(lines).toEqual([
      expect.stringMatching(/^\[cron \*\/15 \* \* \* \*\] rollup: 3 days rolled up \(3 rebuilt from raw rows, 0 folded from archived days\) \(\d+ ms\)$/),
      // The rollup has just written every row with its sketch: the backfill only steps over them.
      expect.stringMatching(/^\[cron \*\/15 \* \* \* \*\] sketch-backfill: no rollup row without a sketch \([\d,]+ rows looked at\) \(\d+ ms\)$/),
      expect.stringMatching(/^\[cron \*\/15 \* \* \* \*\] stale-jobs: no stalled bundle job \(\d+ ms\)$/),
      expect.stringMatching(/^\[cron \*\/15 \* \* \* \*\] seal: 1 window sealed, the ledger is sealed through \d{4}-\d\d-\d\dT[\d:.]+Z \(\d+ ms\)$/),
      expect.stringMatching(/^\[cron \*\/15 \* \* \* \*\] verifications: no verification job waiting \(\d+ ms\)$/),
    ]);
  });

  it("says how to run the jobs when triggered without a cron expression (the URL wrangler's banner prints)", async () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => undefined);
    await runCron("");
    expect(warn).toHaveBeenCalledWith(expect.stringContaining("nothing ran. Run them with /cdn-cgi/handler/scheduled?cron=*/15+*+*+*+* or /cdn-cgi/handler/scheduled?cron=10+3+*+*+*"));
    expect(await countRows("rollup_days")).toBe(0);
  });

  it("archives and deletes old events daily, and ignores unknown triggers", async () => {
    const next = random(4);
    await seedRows(
      Array.from({ length: 40 }, (_, index) => ({ input: randomInput(next, TODAY - 185 * DAY + index * 3_600_000, index), receivedAt: TODAY - 185 * DAY })),
    );
    await runCron(CRONS.daily);
    expect(await countRows("events")).toBe(0);
    const listing = await env.BUCKET.list({ prefix: "archive/events/", include: ["customMetadata"] });
    const ndjson = listing.objects.filter((object) => object.key.endsWith(".ndjson.gz"));
    expect(ndjson.reduce((sum, object) => sum + Number(object.customMetadata!.rows), 0)).toBe(40);
    await expect(runCron("0 0 1 1 *")).resolves.toBeUndefined();
  });

  it("a failing retention run raises a maintenance alert and queues a maintenance.failed webhook; a failing run again updates it", async () => {
    await env.DB.batch(["alerts", "webhooks"].map((table) => env.DB.prepare(`DELETE FROM ${table}`)));
    const hook = await callJson("POST", "/v1/webhooks", { body: { url: "https://ops.example.com/hook", event_types: ["maintenance.failed"] } });
    const next = random(5);
    await seedRows(Array.from({ length: 5 }, (_, index) => ({ input: randomInput(next, TODAY - 185 * DAY + index * 3_600_000, index), receivedAt: TODAY - 185 * DAY })));
    const failingBucket = new Proxy(env.BUCKET, {
      get: (target, name) => (name === "put" || name === "createMultipartUpload" ? () => Promise.reject(new Error("R2 is down")) : Reflect.get(target, name).bind(target)),
    });
    const broken = { ...env, BUCKET: failingBucket } as Env;
    await expect(runCron(CRONS.daily, broken)).rejects.toThrow(/retention/);
    await expect(runCron(CRONS.daily, broken)).rejects.toThrow(/retention/);
    const { results } = await env.DB.prepare("SELECT rule, subject, status, count, evidence FROM alerts").all<{ rule: string; subject: string; status: string; count: number; evidence: string }>();
    expect(results.map(({ rule, subject, status, count }) => ({ rule, subject, status, count }))).toEqual([{ rule: "maintenance", subject: "retention", status: "open", count: 2 }]);
    expect(JSON.parse(results[0]!.evidence)).toMatchObject({ job: "retention", cron: CRONS.daily, error: expect.stringContaining("R2 is down") });
    const deliveries = (await callJson("GET", `/v1/webhooks/${hook.body.id}/deliveries`)).body.data;
    expect(deliveries.map((delivery: any) => delivery.type)).toEqual(["maintenance.failed", "maintenance.failed"]);
  });

  it("builds last month's Dataset Report once a month and announces it with a report.dsr.ready webhook", async () => {
    await env.DB.batch(["counter_reports", "webhooks"].map((table) => env.DB.prepare(`DELETE FROM ${table}`)));
    const hook = await callJson("POST", "/v1/webhooks", { body: { url: "https://ops.example.com/hook", event_types: ["report.dsr.ready"] } });
    await runCron(CRONS.daily);
    await runCron(CRONS.daily);
    const now = new Date();
    const lastMonth = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - 1, 1)).toISOString().slice(0, 7);
    const deliveries = (await callJson("GET", `/v1/webhooks/${hook.body.id}/deliveries`)).body.data;
    // Built by the first run only: the second finds the report stored and announces nothing.
    expect(deliveries.map((delivery: any) => delivery.type)).toEqual(["report.dsr.ready"]);
    expect(await countRows("counter_reports", `month = '${lastMonth}'`)).toBe(1);
  });

  it("runs the alert rules every five minutes", async () => {
    await env.DB.prepare("DELETE FROM alerts").run();
    await seedRows([{ input: { action: "download", status: "success", resource: { type: "dataset", id: "r1" }, client: { ip: "192.0.2.80" } }, receivedAt: Date.now() - 5 * 60_000, denied: true }]);
    await runCron(CRONS.everyFiveMinutes);
    expect(await countRows("alerts", "rule = 'download_limit' AND subject = 'ip:192.0.2.0'")).toBe(1);
  });
});
