import { createExecutionContext, createScheduledController, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import worker from "../src/index";
import { readState } from "../src/core/retention/maintenance";
import { ROLLUP_WATERMARK } from "../src/core/analytics/rollup";
import { CRONS } from "../src/scheduled";
import wranglerConfig from "../wrangler.jsonc?raw";
import { countRows } from "./helpers";
import { clearLedger, DAY, random, randomInput, seedRows } from "./stats-fixtures";

const TODAY = Math.floor(Date.now() / DAY) * DAY;

async function runCron(cron: string) {
  const controller = createScheduledController({ scheduledTime: Date.now(), cron });
  const ctx = createExecutionContext();
  await worker.scheduled(controller, env, ctx);
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
      expect.stringMatching(/^\[cron \*\/15 \* \* \* \*\] stale-jobs: no stalled bundle job \(\d+ ms\)$/),
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
    expect(listing.objects.reduce((sum, object) => sum + Number(object.customMetadata!.rows), 0)).toBe(40);
    await expect(runCron("0 0 1 1 *")).resolves.toBeUndefined();
  });
});
