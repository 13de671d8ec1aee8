// The monthly tier of the resource and organisation rollups (event_rollup_months): how a range is split between it and the
// day rows, its rows against hand-worked sums and against a recomputation from raw rows, and its consistency when late
// events are rolled up or folded into a retired day, when a day is rebuilt and when day rows are deleted.
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { dayOf, dayStart } from "../../../src/core/analytics/periods";
import { rebuildDays, runRollup } from "../../../src/core/analytics/rollup";
import { computeStats, monthPlan } from "../../../src/core/analytics/stats";
import { retireDay } from "../../../src/core/retention/retention";
import { allRows, clearLedger, DAY, random, randomInput, randomRows, referenceStats, seedRows, type SeedRow } from "../../stats-fixtures";

const day = (date: string) => Date.UTC(Number(date.slice(0, 4)), Number(date.slice(5, 7)) - 1, Number(date.slice(8, 10))) / DAY;
const downloads = ["download", "bundle.download", "metadata.download"];

describe("monthPlan", () => {
  it("reads whole months from the tier and a partly covered month from whichever side has fewer days", () => {
    // 1 Sep – 29 Nov (open day rolled): September and October whole, November from the tier (no rows after the 29th).
    expect(monthPlan(day("2026-09-01"), day("2026-11-30"), day("2026-11-30"))).toEqual({
      firstMonth: day("2026-09-01"),
      endMonth: day("2026-12-01"),
      plus: [],
      minus: [],
    });
    // From 16 Sep: 15 days inside against 15 outside, so September's days are read (a tie reads the days).
    expect(monthPlan(day("2026-09-16"), day("2026-11-30"), day("2026-11-30"))).toEqual({
      firstMonth: day("2026-10-01"),
      endMonth: day("2026-12-01"),
      plus: [[day("2026-09-16"), day("2026-10-01")]],
      minus: [],
    });
    // 10 Sep – 19 Oct with rows through 29 Nov: September less 1–9 Sep (9 < 21), October less 20–31 Oct (12 < 19).
    expect(monthPlan(day("2026-09-10"), day("2026-10-20"), day("2026-11-30"))).toEqual({
      firstMonth: day("2026-09-01"),
      endMonth: day("2026-11-01"),
      plus: [],
      minus: [
        [day("2026-09-01"), day("2026-09-10")],
        [day("2026-10-20"), day("2026-11-01")],
      ],
    });
    // 5–24 Oct: October less 1–4 and 25–31 Oct (4 + 7 < 20); 5–11 Oct: its 7 days (4 + 20 outside).
    expect(monthPlan(day("2026-10-05"), day("2026-10-25"), day("2026-11-30"))).toEqual({
      firstMonth: day("2026-10-01"),
      endMonth: day("2026-11-01"),
      plus: [],
      minus: [
        [day("2026-10-01"), day("2026-10-05")],
        [day("2026-10-25"), day("2026-11-01")],
      ],
    });
    const week = monthPlan(day("2026-10-05"), day("2026-10-12"), day("2026-11-30"));
    expect(week.plus).toEqual([[day("2026-10-05"), day("2026-10-12")]]);
    expect(week.minus).toEqual([]);
    expect(week.endMonth).toBe(week.firstMonth);
    // Rows only through 9 Oct: no day after the range holds any, so 5–11 Oct is October less 1–4 Oct (4 < 7).
    expect(monthPlan(day("2026-10-05"), day("2026-10-12"), day("2026-10-10"))).toEqual({
      firstMonth: day("2026-10-01"),
      endMonth: day("2026-11-01"),
      plus: [],
      minus: [[day("2026-10-01"), day("2026-10-05")]],
    });
  });
});

interface MonthRow {
  grain: string;
  resource_type: string;
  resource_id: string;
  organisation: string;
  month: number;
  action: string;
  access_method: string;
  events: number;
}

const monthRows = async () =>
  (
    await env.DB.prepare(
      "SELECT grain, resource_type, resource_id, organisation, month, action, access_method, events FROM event_rollup_months ORDER BY grain, resource_type, resource_id, organisation, month, action, access_method",
    ).all<MonthRow>()
  ).results;

/** The monthly tier recomputed from counted raw rows in JavaScript. */
async function monthRowsFromRaw(): Promise<MonthRow[]> {
  const sums = new Map<string, MonthRow>();
  for (const row of await allRows()) {
    if ((row.status !== "success" && row.status !== "failure") || row.duplicate_of !== null) continue;
    const date = new Date(row.occurred_at);
    const month = Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), 1) / DAY;
    const method = row.access_method ?? "regular";
    for (const [grain, resourceType, resourceId, organisation] of [
      ["resource", row.resource_type ?? "", row.resource_id ?? "", ""],
      ["organisation", "", "", row.organisation ?? ""],
    ] as const) {
      const key = JSON.stringify([grain, resourceType, resourceId, organisation, month, row.action, method]);
      const sum = sums.get(key) ?? { grain, resource_type: resourceType, resource_id: resourceId, organisation, month, action: row.action, access_method: method, events: 0 };
      sum.events++;
      sums.set(key, sum);
    }
  }
  const order = (row: MonthRow) => [row.grain, row.resource_type, row.resource_id, row.organisation, String(row.month).padStart(8, "0"), row.action, row.access_method];
  const compare = (a: MonthRow, b: MonthRow) => {
    const [x, y] = [order(a), order(b)];
    for (let index = 0; index < x.length; index++) if (x[index] !== y[index]) return x[index]! < y[index]! ? -1 : 1;
    return 0;
  };
  return [...sums.values()].sort(compare);
}

// Hand-made ledger: event, day, resource, organisation (none: ''), action, status. Every event has its own user and no
// user agent (COUNTER: a machine).
const SEP = day("2026-09-01");
const OCT = day("2026-10-01");
const NOV = day("2026-11-01");
const NOW = dayStart(day("2026-11-25")) + 12 * 3_600_000;
const handEvents: [number, string, string, string, string, string][] = [
  [1, "2026-09-03", "dataset/A", "Oslo", "download", "success"],
  [2, "2026-09-12", "dataset/A", "Oslo", "download", "success"],
  [3, "2026-09-12", "dataset/A", "Turku", "download", "failure"],
  [4, "2026-09-30", "dataset/B", "Turku", "metadata.download", "success"],
  [5, "2026-10-01", "dataset/B", "Oslo", "download", "success"],
  [6, "2026-10-15", "software/C", "Oslo", "bundle.download", "success"],
  [7, "2026-10-31", "dataset/B", "", "download", "success"],
  [8, "2026-11-04", "dataset/A", "Turku", "download", "success"],
  [9, "2026-11-20", "software/C", "Turku", "download", "success"],
  [10, "2026-10-10", "dataset/A", "Oslo", "auth.login", "success"],
  [11, "2026-10-20", "dataset/B", "Oslo", "download", "success"],
];

function handRow(event: number, date: string, resource: string, organisation: string, action: string, status: string, receivedAt?: number): SeedRow {
  const [type, id] = resource.split("/");
  const occurredAt = dayStart(day(date)) + 10 * 3_600_000 + event * 1000;
  return {
    input: {
      id: `hand-${event}`,
      occurred_at: new Date(occurredAt).toISOString(),
      action,
      status,
      resource: { type, id },
      actor: { id: `person-${event}`, ...(organisation ? { organisation } : {}) },
      bytes: 100,
    },
    receivedAt: receivedAt ?? occurredAt + 1000,
  };
}

const machine = (grain: string, resource: string, organisation: string, month: number, action: string, events: number): MonthRow => {
  const [type, id] = resource ? resource.split("/") : ["", ""];
  return { grain, resource_type: type!, resource_id: id!, organisation, month, action, access_method: "machine", events };
};

// 10 Sep – 4 Nov: September from the tier less 1–9 Sep, October whole, 1–4 Nov from its days.
const range = { from: dayStart(day("2026-09-10")), to: dayStart(day("2026-11-05")), actions: downloads, interval: "month" as const, topOrganisations: 5, topResources: 5 };

describe("the monthly tier of the rollups", () => {
  beforeAll(async () => {
    await clearLedger();
    await seedRows(handEvents.map((event) => handRow(...event)));
    await runRollup(env.DB, { now: NOW, settleMs: 60_000 });
  }, 60_000);

  it("holds each month's events per key, action and access method, as worked out by hand", async () => {
    expect(await monthRows()).toEqual([
      machine("organisation", "", "", OCT, "download", 1), // 7
      machine("organisation", "", "Oslo", SEP, "download", 2), // 1, 2
      machine("organisation", "", "Oslo", OCT, "auth.login", 1), // 10
      machine("organisation", "", "Oslo", OCT, "bundle.download", 1), // 6
      machine("organisation", "", "Oslo", OCT, "download", 2), // 5, 11
      machine("organisation", "", "Turku", SEP, "download", 1), // 3 (a failure counts as an event)
      machine("organisation", "", "Turku", SEP, "metadata.download", 1), // 4
      machine("organisation", "", "Turku", NOV, "download", 2), // 8, 9
      machine("resource", "dataset/A", "", SEP, "download", 3), // 1, 2, 3
      machine("resource", "dataset/A", "", OCT, "auth.login", 1), // 10
      machine("resource", "dataset/A", "", NOV, "download", 1), // 8
      machine("resource", "dataset/B", "", SEP, "metadata.download", 1), // 4
      machine("resource", "dataset/B", "", OCT, "download", 3), // 5, 7, 11
      machine("resource", "software/C", "", OCT, "bundle.download", 1), // 6
      machine("resource", "software/C", "", NOV, "download", 1), // 9
    ]);
  });

  it("ranks a long range from whole months, a month less its days outside the range and the edge days", async () => {
    const stats = await computeStats(env.DB, range);
    // B: 4, 5, 7, 11; A: 2, 3 (failed), 8 (1 is before the range, 10 not a download); C: 6 (9 after the range).
    expect(stats.top_resources.map((row) => [`${row.resource_type}/${row.resource_id}`, row.events, row.unique_users])).toEqual([
      ["dataset/B", 4, 4],
      ["dataset/A", 3, 2],
      ["software/C", 1, 1],
    ]);
    // Oslo: 2, 5, 6, 11; Turku: 3, 4, 8 (events without an organisation are never ranked).
    expect(stats.top_organisations.map((row) => [row.organisation, row.events, row.unique_users])).toEqual([
      ["Oslo", 4, 4],
      ["Turku", 3, 2],
    ]);
    expect(stats.totals.events).toBe(8);
  });

  it("counts a late event from raw rows until the next run adds it to the day and the month", async () => {
    await seedRows([handRow(12, "2026-09-20", "dataset/A", "Oslo", "download", "success", NOW + 1000)]);
    const before = await computeStats(env.DB, range);
    // A: 2, 3, 8, 12 ties with B and comes first by id.
    expect(before.top_resources.map((row) => [row.resource_id, row.events])).toEqual([["A", 4], ["B", 4], ["C", 1]]);
    expect((await monthRows()).find((row) => row.grain === "resource" && row.resource_id === "A" && row.month === SEP)!.events).toBe(3);
    await runRollup(env.DB, { now: NOW + 120_000, settleMs: 60_000 });
    expect((await monthRows()).find((row) => row.grain === "resource" && row.resource_id === "A" && row.month === SEP)!.events).toBe(4);
    const after = await computeStats(env.DB, range);
    expect(after).not.toBe(before);
    expect(after).toEqual(before);
    expect(await monthRows()).toEqual(await monthRowsFromRaw());
  });

  it("answers the open day from the tier once the run has rolled it up", async () => {
    // 10:00 on the open day (25 Nov), received before the run's snapshot: the run rebuilds the open day.
    await seedRows([handRow(14, "2026-11-25", "software/C", "Oslo", "download", "success", NOW + 130_000)]);
    await runRollup(env.DB, { now: NOW + 200_000, settleMs: 60_000 });
    expect((await monthRows()).find((row) => row.grain === "resource" && row.resource_id === "C" && row.month === NOV)!.events).toBe(2);
    // To the start of tomorrow: September less 1–9 Sep, October whole, November from the tier alone (no rows after the 25th).
    const stats = await computeStats(env.DB, { ...range, to: dayStart(day("2026-11-26")) });
    // A: 2, 3, 8, 12; B: 4, 5, 7, 11; C: 6, 9, 14.
    expect(stats.top_resources.map((row) => [row.resource_id, row.events])).toEqual([["A", 4], ["B", 4], ["C", 3]]);
    expect(stats.totals.events).toBe(11);
  });

  it("folds a late event into a retired day's rows and month, and follows day rows deleted by hand", async () => {
    const retired = await retireDay(env, day("2026-09-12"), { snapshot: NOW + 120_000 - 60_000, now: NOW + 120_000 });
    expect(retired?.deleted).toBe(2);
    // Retiring drops the day's raw rows and user sets, never its counts.
    const sepA = async () => (await monthRows()).find((row) => row.grain === "resource" && row.resource_id === "A" && row.month === SEP)!.events;
    expect(await sepA()).toBe(4);
    // Same keys as event 2: the fold updates the existing day row (1 → 2 events) and the month (1, 2, 3, 12, 13).
    await seedRows([handRow(13, "2026-09-12", "dataset/A", "Oslo", "download", "success", NOW + 230_000)]);
    const run = await runRollup(env.DB, { now: NOW + 300_000, settleMs: 60_000 });
    expect(run.folded).toBe(1);
    const dayRow = await env.DB.prepare(
      "SELECT events FROM event_rollups WHERE grain = 'resource' AND day = ?1 AND resource_id = 'A' AND action = 'download' AND status = 'success'",
    )
      .bind(day("2026-09-12"))
      .first<{ events: number }>();
    expect(dayRow!.events).toBe(2);
    expect(await sepA()).toBe(5);
    const stats = await computeStats(env.DB, range);
    // A: 2, 3, 8, 12, 13.
    expect(stats.top_resources.map((row) => [row.resource_id, row.events])).toEqual([["A", 5], ["B", 4], ["C", 1]]);

    // Deleting the day rows of 3 Sep (event 1) takes them out of September; the last row of a key's month goes with them.
    await env.DB.prepare("DELETE FROM event_rollups WHERE day = ?1").bind(day("2026-09-03")).run();
    expect(await sepA()).toBe(4);
    await env.DB.prepare("DELETE FROM event_rollups WHERE day = ?1").bind(day("2026-09-30")).run();
    expect((await monthRows()).some((row) => row.resource_id === "B" && row.month === SEP)).toBe(false);
    expect((await monthRows()).some((row) => row.organisation === "Turku" && row.action === "metadata.download")).toBe(false);
  });
});

describe("the monthly tier against raw rows", () => {
  const START = Date.UTC(2026, 0, 20);
  const DAYS = 70;

  beforeAll(async () => {
    await clearLedger();
    const next = random(20260120);
    const rows: SeedRow[] = Array.from({ length: 2500 }, (_, index) => {
      const occurredAt = START + Math.floor(next() * DAYS * DAY);
      return { input: randomInput(next, occurredAt, index), receivedAt: occurredAt + 1000 };
    });
    const stored = await seedRows(rows);
    // Duplicates and denials never count.
    await seedRows(stored.slice(0, 100).map((row, index) => ({ input: { ...rows[index]!.input, id: `again-${index}` }, receivedAt: row.received_at, ...(index % 2 ? { denied: true } : { duplicateOf: row.id }) })));
    await runRollup(env.DB, { now: START + DAYS * DAY + 3_600_000, settleMs: 60_000 });
  }, 60_000);

  it("equals the monthly counts of the raw rows after the rollup, late events and a rebuild, and so do the rankings", async () => {
    expect(await monthRows()).toEqual(await monthRowsFromRaw());
    await seedRows(randomRows(77, 300, START, DAYS).map((row, index) => ({ ...row, input: { ...row.input, id: `late-${index}` }, receivedAt: START + DAYS * DAY + 3_700_000 + index })));
    await runRollup(env.DB, { now: START + DAYS * DAY + 4_000_000, settleMs: 60_000 });
    expect(await monthRows()).toEqual(await monthRowsFromRaw());
    await rebuildDays(env.DB, dayOf(START), dayOf(START) + DAYS, { now: START + DAYS * DAY + 4_000_000, settleMs: 60_000 });
    expect(await monthRows()).toEqual(await monthRowsFromRaw());

    const ledger = await allRows();
    for (const [from, to] of [
      [START, START + DAYS * DAY], // 20 Jan – 30 Mar: 20–31 Jan from its days, February whole, March from the tier
      [START + 13 * DAY, START + 50 * DAY], // 2 Feb – 10 Mar: February less 1 Feb, 1–10 Mar from its days
      [START + 12 * DAY + 7_200_000, START + 60 * DAY - 7_200_000], // partial days at both edges
    ] as const)
      for (const filter of [{ actions: downloads }, { actions: null }, { actions: ["download"], resourceType: "software" }]) {
        const request = { from, to, ...filter, interval: "week" as const, topOrganisations: 6, topResources: 8 };
        const actual = await computeStats(env.DB, request);
        const expected = await referenceStats(request, ledger);
        expect({ top_resources: actual.top_resources, top_organisations: actual.top_organisations }).toEqual({
          top_resources: expected.top_resources,
          top_organisations: expected.top_organisations,
        });
      }
  }, 120_000);
});
