import { createExecutionContext, createScheduledController, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { beforeEach, describe, expect, it } from "vitest";
import worker from "../../../src/index";
import { latestSeal } from "../../../src/core/integrity/seals";
import { latestVerification } from "../../../src/core/integrity/verify";
import { CRONS } from "../../../src/scheduled";
import { clearAll, config, rowsAt } from "./fixtures";

async function runCron(cron: string) {
  const controller = createScheduledController({ scheduledTime: Date.now(), cron });
  const ctx = createExecutionContext();
  await worker.scheduled(controller, env, ctx);
  await waitOnExecutionContext(ctx);
}

describe("integrity crons", () => {
  beforeEach(clearAll);

  it("seal up to now − margin every quarter hour", async () => {
    const old = Date.now() - config().sealMarginMs - 60_000;
    await rowsAt("a", [old, old + 1, Date.now()]);
    await runCron(CRONS.everyQuarterHour);
    const seal = await latestSeal(env.DB);
    expect(seal).toMatchObject({ from: 0, tree_size: 2 });
    expect(seal!.to).toBeGreaterThan(old + 1);
    expect(seal!.to).toBeLessThanOrEqual(Date.now() - config().sealMarginMs);
  });

  it("verify the last 7 days daily and record the outcome", async () => {
    await rowsAt("a", [Date.now() - 2 * 86_400_000]);
    await runCron(CRONS.everyQuarterHour);
    await runCron(CRONS.daily);
    expect(await latestVerification(env.DB)).toMatchObject({ requested_by: "cron", status: "done", ok: true, windows: 1, rows: 1 });
    await env.DB.prepare("DELETE FROM events").run();
    await runCron(CRONS.daily);
    expect(await latestVerification(env.DB)).toMatchObject({ requested_by: "cron", ok: false, problems: [expect.objectContaining({ kind: "count_differs" })] });
  });
});
