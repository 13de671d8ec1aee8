// A day whose ledger rows have not changed since its last rebuild is not rebuilt again: its receipt time moves, its rows
// stay. Any row the rebuild would read that is new — received after the rollup, flushed late with an earlier receipt
// time, or in the 30 s after the day (COUNTER double-clicks) — makes the next roll a full rebuild.
import { env } from "cloudflare:workers";
import { beforeEach, describe, expect, it } from "vitest";
import { dayState, rollDay, ROLLUP_VERSION } from "../../../src/core/analytics/rollup";
import { dayStart } from "../../../src/core/analytics/periods";
import { clearLedger, seedRows } from "../../stats-fixtures";

const DAY = Math.floor(Date.UTC(2026, 4, 12) / 86_400_000);
const START = dayStart(DAY);
const NOW = START + 20 * 86_400_000;
const FIRST_SNAPSHOT = NOW - 3_600_000;
const SNAPSHOT = NOW - 60_000;

/** A download of one record by `user`, occurring `offsetMs` after the day's start. */
const download = (id: string, offsetMs: number, receivedAt: number, user = "user-1") => ({
  input: {
    id,
    occurred_at: new Date(START + offsetMs).toISOString(),
    action: "download",
    resource: { type: "dataset", id: "rec-1" },
    actor: { id: user },
    bytes: 100,
  },
  receivedAt,
});

const rowids = async () =>
  (await env.DB.prepare("SELECT rowid AS row FROM event_rollups WHERE day = ?1 ORDER BY rowid").bind(DAY).all<{ row: number }>()).results.map((row) => row.row);

/** Downloads counted in the day's `all` rollup row. */
const rolledDownloads = async () =>
  (await env.DB.prepare("SELECT sum(events) AS n FROM event_rollups WHERE grain = 'all' AND day = ?1 AND action = 'download' AND status = 'success'").bind(DAY).first<{ n: number }>())!.n;

const version = async () => (await env.DB.prepare("SELECT value FROM maintenance_state WHERE name = ?1").bind(ROLLUP_VERSION).first<{ value: number }>())!.value;

describe("rollup of a day whose rows did not change", () => {
  beforeEach(async () => {
    await clearLedger();
    // Three downloads of the day, one 10 s after it (read by the day's COUNTER double-click check), one 31 s after it (not).
    await seedRows([
      download("a", 3_600_000, START + 3_601_000),
      download("b", 7_200_000, START + 7_201_000, "user-2"),
      download("c", 80_000_000, START + 80_001_000),
      download("next-10s", 86_400_000 + 10_000, START + 86_410_000),
      download("next-31s", 86_400_000 + 31_000, START + 86_431_000),
    ]);
    expect(await rollDay(env.DB, DAY, FIRST_SNAPSHOT, NOW)).toBe("rebuilt");
  });

  it("records the rows a rebuild read: the day's three and the one in the 30 s after it", async () => {
    expect(await dayState(env.DB, DAY)).toEqual({ rolled_through: FIRST_SNAPSHOT, rolled_at: NOW, purged_at: null, raw_rows: 4 });
    expect(await rolledDownloads()).toBe(3);
  });

  it("moves the receipt time of an unchanged day without rewriting a rollup row", async () => {
    const [before, versionBefore] = [await rowids(), await version()];
    expect(await rollDay(env.DB, DAY, SNAPSHOT, NOW + 1)).toBe("current");
    expect(await dayState(env.DB, DAY)).toEqual({ rolled_through: SNAPSHOT, rolled_at: NOW + 1, purged_at: null, raw_rows: 4 });
    expect(await rowids()).toEqual(before);
    expect(await version()).toBe(versionBefore);
    // A row 31 s after the day is read by neither the day's rollup nor its COUNTER counts: still current.
    await seedRows([download("next-40s", 86_400_000 + 40_000, SNAPSHOT - 1_000)]);
    expect(await rollDay(env.DB, DAY, SNAPSHOT, NOW + 2)).toBe("current");
  });

  it("rebuilds an unchanged day when forced (an operator's range rebuild, e.g. after the COUNTER rules changed)", async () => {
    const versionBefore = await version();
    expect(await rollDay(env.DB, DAY, SNAPSHOT, NOW + 1, undefined, { force: true })).toBe("rebuilt");
    // A rebuild rewrites the rows (their rowids may come back the same), which every rollup write marks.
    expect(await version()).not.toBe(versionBefore);
    expect(await rolledDownloads()).toBe(3);
  });

  it("rebuilds when a row was flushed late with a receipt time the rollup already covers", async () => {
    await seedRows([download("late", 9_000_000, FIRST_SNAPSHOT - 60_000)]);
    expect(await rollDay(env.DB, DAY, SNAPSHOT, NOW + 1)).toBe("rebuilt");
    expect(await rolledDownloads()).toBe(4);
    expect((await dayState(env.DB, DAY))!.raw_rows).toBe(5);
  });

  it("rebuilds when a row of the day was received after the rollup", async () => {
    await seedRows([download("new", 9_000_000, FIRST_SNAPSHOT + 1)]);
    expect(await rollDay(env.DB, DAY, SNAPSHOT, NOW + 1)).toBe("rebuilt");
    expect(await rolledDownloads()).toBe(4);
  });

  it("rebuilds when a row arrives in the 30 s after the day (it can make the day's last click a double-click)", async () => {
    await seedRows([download("next-20s", 86_400_000 + 20_000, FIRST_SNAPSHOT + 1)]);
    expect(await rollDay(env.DB, DAY, SNAPSHOT, NOW + 1)).toBe("rebuilt");
    expect(await rolledDownloads()).toBe(3);
    expect((await dayState(env.DB, DAY))!.raw_rows).toBe(5);
  });

  it("leaves rows received after the new snapshot to a later roll, and rebuilds a day rolled before the count was kept", async () => {
    await seedRows([download("after-snapshot", 9_000_000, SNAPSHOT + 1)]);
    expect(await rollDay(env.DB, DAY, SNAPSHOT, NOW + 1)).toBe("current");
    expect(await rolledDownloads()).toBe(3);
    await env.DB.prepare("UPDATE rollup_days SET raw_rows = NULL WHERE day = ?1").bind(DAY).run();
    expect(await rollDay(env.DB, DAY, SNAPSHOT, NOW + 2)).toBe("rebuilt");
    expect((await dayState(env.DB, DAY))!.raw_rows).toBe(4);
  });
});
