// Every success rollup row carries the HyperLogLog sketch of its users, computed inside SQLite when the row is written;
// rows written before that get theirs from the bounded backfill, and estimated statistics read a row's user set meanwhile.
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { HyperLogLog, parseUserHashes, sketchSql } from "../../../src/core/analytics/hll";
import { backfillSketches, runRollup } from "../../../src/core/analytics/rollup";
import { computeStats } from "../../../src/core/analytics/stats";
import { clearLedger, DAY, randomRows, seedRows } from "../../stats-fixtures";

const START = Date.UTC(2026, 2, 2);
const DAYS = 12;
const NOW = START + DAYS * DAY + 3_600_000;
const downloads = ["download", "bundle.download", "metadata.download"];

interface StoredRow {
  row: number;
  grain: string;
  status: string;
  users: string | null;
  sketch: string | null;
}

const storedRows = async () =>
  (await env.DB.prepare("SELECT rowid AS row, grain, status, users, sketch FROM event_rollups ORDER BY rowid").all<StoredRow>()).results;

describe("sketches stored with every rollup row", () => {
  beforeAll(async () => {
    await clearLedger();
    await seedRows(randomRows(20260302, 1500, START, DAYS));
    await runRollup(env.DB, { now: NOW, settleMs: 60_000 });
  }, 60_000);

  it("ranks and registers user keys in SQL as worked out by hand", async () => {
    // [key, register, rank]: the rank is 1 + the leading zero bits of the 40 bits after the register's 12.
    const cases: [string, string, number][] = [
      ["abc0001000000ffff", "abc", 16], // remainder 2^24: 15 leading zeros
      ["0010000000000", "001", 41], // remainder 0
      ["000fffffffff0", "000", 1],
      ["fff7000000000", "fff", 2], // 0111…: one leading zero
      ["fff0000000001", "fff", 40], // 2^0: 39 leading zeros
      ["1234c00000000", "123", 2], // 0100…: one leading zero
      ["123c000000000", "123", 1], // 1100…
      ["5552000000000", "555", 3], // 0010…
    ];
    for (const [key, register, rank] of cases) {
      const row = await env.DB.prepare(`SELECT ${sketchSql.register("k")} AS register, ${sketchSql.rank("k")} AS rank FROM (SELECT ?1 AS k)`)
        .bind(key)
        .first<{ register: string; rank: number }>();
      expect(row, key).toEqual({ register, rank });
    }
  });

  it("stores a sketch of exactly the row's user set with every success row, and none with failure rows", async () => {
    const rows = await storedRows();
    const success = rows.filter((row) => row.status === "success");
    expect(success.length).toBeGreaterThan(500);
    expect(new Set(success.map((row) => row.grain))).toEqual(new Set(["all", "organisation", "resource", "cube", "country"]));
    for (const row of rows.filter((row) => row.status === "failure")) expect(row.sketch, `row ${row.row}`).toBeNull();
    for (const row of success) {
      expect(row.sketch, `row ${row.row}`).toMatch(/^s/);
      expect(HyperLogLog.deserialise(row.sketch!).registers, `row ${row.row}`).toEqual(HyperLogLog.of(parseUserHashes(row.users)).registers);
    }
  });

  it("backfills rows without a sketch a bounded number at a time, and estimated answers do not change meanwhile", async () => {
    const request = { from: START, to: START + DAYS * DAY, actions: downloads, interval: "day" as const, topOrganisations: 3, topResources: 3, userCounting: "estimated" as const };
    const before = await computeStats(env.DB, request);
    expect(before.unique_users_estimated).toBe(true);
    const original = await storedRows();
    // Rows as written before sketches were stored with every row: the user set only.
    await env.DB.prepare("UPDATE event_rollups SET sketch = NULL").run();
    const withoutSketches = await computeStats(env.DB, { ...request, topResources: 4 });
    expect({ ...withoutSketches, top_resources: withoutSketches.top_resources.slice(0, 3) }).toEqual(before);

    const limit = 400;
    const runs: { scanned: number; filled: number }[] = [];
    for (;;) {
      const run = await backfillSketches(env.DB, limit);
      if (run.scanned === 0) break;
      runs.push(run);
    }
    expect(runs.length).toBe(Math.ceil(original.length / limit));
    expect(runs.every((run) => run.scanned <= limit)).toBe(true);
    expect(runs.reduce((sum, run) => sum + run.filled, 0)).toBe(original.filter((row) => row.status === "success").length);
    const after = await storedRows();
    after.forEach((row, index) => {
      const sketch = original[index]!.sketch;
      expect(row.sketch === null ? null : HyperLogLog.deserialise(row.sketch).registers, `row ${row.row}`).toEqual(
        sketch === null ? null : HyperLogLog.deserialise(sketch).registers,
      );
    });
    const backfilled = await computeStats(env.DB, { ...request, topResources: 5 });
    expect({ ...backfilled, top_resources: backfilled.top_resources.slice(0, 3) }).toEqual(before);
  });
});
