// Query plans of the /v1/stats rankings: a long range groups the monthly tier in primary-key order (no sort) and adds or
// takes away the days of partly covered months by one seek per key into the keyed covering index; a short one groups the
// range's day rows through the day-first rank index.
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

  it("ranks a long range from the monthly tier in key order, with one keyed seek per key and partly covered month", async () => {
    // 4 May – 12 June: May from the tier less 1–3 May (3 days outside against 28 inside), June from the tier alone (no day
    // after 12 June has rollup rows): one keyed seek of the day rows per key, no sort of any rows.
    for (const [key, monthSeek, index, daySeek] of [
      ["resource_type, resource_id", "grain=?", "event_rollups_resource", "grain=? AND resource_type=? AND resource_id=? AND day>? AND day<?"],
      ["organisation", "grain=? AND resource_type=? AND resource_id=?", "event_rollups_organisation", "grain=? AND organisation=? AND day>? AND day<?"],
    ] as const) {
      const [plan] = await rankingPlans(DAYS, key);
      const months = plan!.indexOf("CO-ROUTINE months");
      expect(plan![months + 1], key).toBe(`SEARCH event_rollup_months USING PRIMARY KEY (${monthSeek})`);
      expect(plan!.filter((line) => line === `SEARCH event_rollups USING COVERING INDEX ${index} (${daySeek})`), key).toHaveLength(1);
      // The only sorts are the final grouping and ordering of the ranked keys (with the raw rows after the rollups).
      expect(plan!.filter((line) => line.startsWith("USE TEMP B-TREE")), key).toEqual(["USE TEMP B-TREE FOR GROUP BY", "USE TEMP B-TREE FOR ORDER BY"]);
      expect(plan!.some((line) => line.includes("SCAN event_rollup"))).toBe(false);
    }
  });

  it("ranks a short range by grouping its rows through the day-first rank index", async () => {
    const [plan] = await rankingPlans(7, "resource_type, resource_id");
    expect(plan!.some((line) => line.startsWith("SEARCH event_rollups USING COVERING INDEX event_rollups_rank_resource (grain=? AND day>? AND day<?)"))).toBe(true);
    expect(plan!.some((line) => line.includes("event_rollups_resource"))).toBe(false);
  });
});
