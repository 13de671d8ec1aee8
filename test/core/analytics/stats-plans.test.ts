// Query plans of the /v1/stats rankings: a long range sums each key's days through the keyed covering index (one seek per
// key, no sort of the range's rows), a short one groups the range's rows through the day-first rank index.
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { runRollup } from "../../../src/core/analytics/rollup";
import { computeStats } from "../../../src/core/analytics/stats";
import { recordingD1 } from "../../d1-spy";
import { clearLedger, DAY, randomRows, seedRows } from "../../stats-fixtures";

const START = Date.UTC(2026, 4, 4);
const DAYS = 40;
const NOW = START + DAYS * DAY + 3_600_000;
const downloads = ["download", "bundle.download", "metadata.download"];

let calls = 0;

/** The plan of each statement computeStats sends whose SQL ranks by `key`, as SQLite's plan lines. */
async function rankingPlans(days: number, key: string): Promise<string[][]> {
  const spy = recordingD1(env.DB);
  // A new list length each time, so that no answer is reused from the isolate's cache.
  const top = ++calls;
  await computeStats(spy.db, { from: START, to: START + days * DAY, actions: downloads, interval: "day", topOrganisations: top, topResources: top, userCounting: "estimated" });
  const ranking = spy.statements.filter((statement) => statement.sql.startsWith(`SELECT ${key}, sum(events) AS events`));
  expect(ranking).toHaveLength(1);
  return Promise.all(
    ranking.map(async ({ sql, params }) =>
      (await env.DB.prepare(`EXPLAIN QUERY PLAN ${sql}`).bind(...params).all<{ detail: string }>()).results.map((row) => row.detail),
    ),
  );
}

describe("query plans of the stats rankings", () => {
  beforeAll(async () => {
    await clearLedger();
    await seedRows(randomRows(20260504, 800, START, DAYS));
    await runRollup(env.DB, { now: NOW, settleMs: 60_000 });
  }, 60_000);

  it("ranks a long range key by key through the keyed covering indexes, each key's sum computed once", async () => {
    for (const [key, index, seek] of [
      ["resource_type, resource_id", "event_rollups_resource", "grain=? AND resource_type=? AND resource_id=? AND day>? AND day<?"],
      ["organisation", "event_rollups_organisation", "grain=? AND organisation=? AND day>? AND day<?"],
    ] as const) {
      const [plan] = await rankingPlans(DAYS, key);
      // Once: a filter on the per-key sum outside its subquery would make SQLite compute every sum twice.
      expect(plan!.filter((line) => line === `SEARCH event_rollups USING COVERING INDEX ${index} (${seek})`), key).toHaveLength(1);
      expect(plan, key).toContain(`SEARCH event_rollups USING COVERING INDEX ${index} (grain=?)`);
    }
  });

  it("ranks a short range by grouping its rows through the day-first rank index", async () => {
    const [plan] = await rankingPlans(7, "resource_type, resource_id");
    expect(plan!.some((line) => line.startsWith("SEARCH event_rollups USING COVERING INDEX event_rollups_rank_resource (grain=? AND day>? AND day<?)"))).toBe(true);
    expect(plan!.some((line) => line.includes("event_rollups_resource"))).toBe(false);
  });
});
