import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { computeResourceStats, computeStats, computeUserStats } from "../../../src/core/analytics/stats";
import { rebuildDays, runRollup } from "../../../src/core/analytics/rollup";
import type { Interval } from "../../../src/core/analytics/periods";
import { getConfig } from "../../../src/lib/config";
import { allRows, clearLedger, DAY, random, randomInput, referenceStats, seedRows, type ReferenceScope, type SeedRow } from "../../stats-fixtures";

const START = Date.UTC(2026, 0, 5); // a Monday, so ISO weeks and months both cut through the range
const DAYS = 45;
const NOW = START + DAYS * DAY + 13 * 3_600_000; // 13:00 on the open day
const SETTLE = 60_000;

const intervals: Interval[] = ["day", "week", "month"];
const downloads = ["download", "bundle.download", "metadata.download"];

const ranges: Record<string, { from: number; to: number }> = {
  "everything, open day included": { from: START, to: START + (DAYS + 1) * DAY },
  "closed days only": { from: START + 3 * DAY, to: START + 30 * DAY },
  "partial days at both edges": { from: START + 2 * DAY + 5 * 3_600_000, to: START + 40 * DAY + 17 * 3_600_000 },
  "one day": { from: START + 10 * DAY, to: START + 11 * DAY },
};

const filters: Record<string, Omit<ReferenceScope, "from" | "to">> = {
  "download actions": { actions: downloads },
  "every action": { actions: null },
  "one action": { actions: ["bundle.download"] },
  "one resource": { actions: downloads, resourceType: "dataset", resourceId: "rec-1" },
  "resource type": { actions: downloads, resourceType: "software" },
  "one organisation": { actions: downloads, organisation: "CERN" },
  "organisation and resource": { actions: downloads, organisation: "Bergen Lab", resourceType: "dataset", resourceId: "rec-2" },
};

async function expectStatsEqualRaw(label: string) {
  const ledger = await allRows();
  for (const [rangeName, range] of Object.entries(ranges))
    for (const [filterName, filter] of Object.entries(filters))
      for (const interval of intervals) {
        const request = { ...range, ...filter, interval, topOrganisations: 4, topResources: 5 };
        const actual = await computeStats(env.DB, request);
        const expected = await referenceStats(request, ledger);
        const context = `${label}: ${rangeName}, ${filterName}, ${interval}`;
        expect(actual.unique_users_estimated, context).toBe(false);
        expect({ totals: actual.totals, top_organisations: actual.top_organisations, top_resources: actual.top_resources, series: actual.series }, context).toEqual(
          expected,
        );
      }
}

describe("stats from rollups equal stats from raw rows", () => {
  const next = random(20260105);
  let seeded: SeedRow[] = [];

  beforeAll(async () => {
    await clearLedger();
    seeded = [];
    for (let index = 0; index < 3000; index++) {
      const occurredAt = START + Math.floor(next() * (DAYS * DAY + 13 * 3_600_000));
      // Most events arrive within seconds; some arrive days late, some only after the rollup ran.
      const delay = next() < 0.9 ? Math.floor(next() * 5000) : Math.floor(next() * 3 * DAY);
      seeded.push({ input: randomInput(next, occurredAt, index), receivedAt: Math.min(occurredAt + delay, NOW - 2 * SETTLE) });
    }
    const stored = await seedRows(seeded);
    // Duplicates (of a counted event) and denials (rate-limited attempts) are stored but must never count.
    const extras: SeedRow[] = stored.slice(0, 300).map((row, index) => ({
      input: { ...seeded[index]!.input, id: `dup-${index}` },
      receivedAt: row.received_at,
      ...(index % 2 === 0 ? { duplicateOf: row.id } : { denied: true }),
    }));
    await seedRows(extras);
  }, 60_000);

  it("holds before any rollup (raw rows only)", async () => {
    await expectStatsEqualRaw("no rollup");
  }, 120_000);

  it("holds after the cron rollup, and with late events folded in only by the next run", async () => {
    const run = await runRollup(env.DB, { now: NOW, settleMs: SETTLE });
    // The 45 closed days, and the open day (events up to 13:00) rolled up to the run's snapshot.
    expect(run.rebuilt).toBe(DAYS + 1);
    await expectStatsEqualRaw("after rollup");

    // Late events for closed days and events on the open day, received after the watermark.
    const late: SeedRow[] = [];
    for (let index = 0; index < 200; index++) {
      const occurredAt = START + Math.floor(next() * DAYS * DAY);
      late.push({ input: randomInput(next, occurredAt, 10_000 + index), receivedAt: NOW - SETTLE + 1 + index });
    }
    await seedRows(late);
    await expectStatsEqualRaw("late events before the next rollup");

    const second = await runRollup(env.DB, { now: NOW + 2 * SETTLE + 200, settleMs: SETTLE });
    expect(second.days).toBeGreaterThan(0);
    expect(second.days).toBeLessThan(DAYS);
    await expectStatsEqualRaw("after the next rollup");
  }, 300_000);

  it("estimates unique users from sketches within three standard errors; every other figure stays exact", async () => {
    // HyperLogLog with 4,096 registers: standard error 1.04 / 64 = 1.625 %; three of them: 4.875 %.
    const bound = (exact: number) => Math.ceil(exact * 0.04875);
    let compared = 0;
    for (const [rangeName, range] of Object.entries(ranges))
      for (const [filterName, filter] of Object.entries(filters)) {
        const request = { ...range, ...filter, interval: "week" as const, topOrganisations: 4, topResources: 5 };
        const exact = await computeStats(env.DB, { ...request, userCounting: "exact" });
        const estimated = await computeStats(env.DB, { ...request, userCounting: "estimated" });
        const context = `${rangeName}, ${filterName}`;
        expect(exact.unique_users_estimated, context).toBe(false);
        expect(estimated.unique_users_estimated, context).toBe(true);
        const users: [number, number][] = [
          [estimated.totals.unique_users, exact.totals.unique_users],
          ...estimated.series.map((entry, index): [number, number] => [entry.unique_users, exact.series[index]!.unique_users]),
          ...estimated.top_organisations.map((entry, index): [number, number] => [entry.unique_users, exact.top_organisations[index]!.unique_users]),
          ...estimated.top_resources.map((entry, index): [number, number] => [entry.unique_users, exact.top_resources[index]!.unique_users]),
          ...(["regular", "machine", "robot"] as const).map((method): [number, number] => [estimated.access_split[method].unique_users, exact.access_split[method].unique_users]),
        ];
        for (const [estimate, count] of users) expect(Math.abs(estimate - count), `${context}: ${estimate} for ${count}`).toBeLessThanOrEqual(bound(count));
        compared += users.length;
        const withoutUsers = (stats: typeof exact) =>
          JSON.parse(JSON.stringify({ ...stats, unique_users_estimated: null }, (key, value) => (key === "unique_users" ? null : value)));
        expect(withoutUsers(estimated), context).toEqual(withoutUsers(exact));
      }
    expect(compared).toBeGreaterThan(100);
  });

  it("is idempotent: rebuilding a range gives the same rows", async () => {
    const dump = async () => (await env.DB.prepare("SELECT * FROM event_rollups ORDER BY grain, day, action, status, resource_type, resource_id, organisation").all()).results;
    const before = await dump();
    expect(before.length).toBeGreaterThan(100);
    await rebuildDays(env.DB, Math.floor(START / DAY), Math.floor(START / DAY) + DAYS, { now: NOW + 2 * SETTLE + 200, settleMs: SETTLE });
    expect(await dump()).toEqual(before);
  }, 60_000);

  it("never counts duplicates or denials and never uses NULL in rollup keys", async () => {
    const nullKeys = await env.DB.prepare(
      "SELECT count(*) AS n FROM event_rollups WHERE resource_type IS NULL OR resource_id IS NULL OR organisation IS NULL",
    ).first<{ n: number }>();
    expect(nullKeys!.n).toBe(0);
    const rolled = await env.DB.prepare("SELECT sum(events) AS n FROM event_rollups WHERE grain = 'all'").first<{ n: number }>();
    // Every event was received before the last run's snapshot, the open day's included: the rollups hold them all.
    const countedRaw = await env.DB.prepare("SELECT count(*) AS n FROM events WHERE duplicate_of IS NULL AND status <> 'denied'").first<{ n: number }>();
    const everything = await env.DB.prepare("SELECT count(*) AS n FROM events").first<{ n: number }>();
    expect(rolled!.n).toBe(countedRaw!.n);
    expect(everything!.n).toBeGreaterThan(countedRaw!.n);
  });

  it("zero-fills series with ISO weeks across a year boundary", async () => {
    const stats = await computeStats(env.DB, {
      from: Date.UTC(2025, 11, 20),
      to: Date.UTC(2026, 0, 20),
      actions: downloads,
      interval: "week",
      topOrganisations: 1,
      topResources: 1,
    });
    expect(stats.series.map((entry) => entry.period)).toEqual(["2025-W51", "2025-W52", "2026-W01", "2026-W02", "2026-W03", "2026-W04"]);
    expect(stats.series.slice(0, 3).every((entry) => entry.successful === 0 && entry.unique_users === 0)).toBe(true);
    expect(stats.series[3]!.successful).toBeGreaterThan(0);
  });

  it("reuses an answer only while the rollups and raw rows it came from are unchanged", async () => {
    const request = { from: START, to: START + 20 * DAY, actions: downloads, interval: "week" as const, topOrganisations: 3, topResources: 3 };
    const first = await computeStats(env.DB, request);
    expect(await computeStats(env.DB, request)).toBe(first);
    await seedRows([{ input: { ...randomInput(random(1), START + 5 * DAY, 77_777), action: "download" }, receivedAt: Date.now() }]);
    const withLateEvent = await computeStats(env.DB, request);
    expect(withLateEvent.totals.events).toBe(first.totals.events + 1);
    await runRollup(env.DB, { now: Date.now() + 2 * SETTLE, settleMs: SETTLE });
    const afterRollup = await computeStats(env.DB, request);
    expect(afterRollup).not.toBe(withLateEvent);
    expect(afterRollup).toEqual(withLateEvent);
  });

  it("answers per-resource and per-person stats like the reference", async () => {
    const resource = await computeResourceStats(env.DB, { from: 0, to: Number.MAX_SAFE_INTEGER, actions: downloads, resourceType: "dataset", resourceId: "rec-1" });
    const expected = await referenceStats({ from: 0, to: NOW + DAY, actions: downloads, resourceType: "dataset", resourceId: "rec-1", interval: "month", topOrganisations: 0, topResources: 1 });
    expect(resource).toMatchObject({ events: expected.totals.events, unique_users: expected.totals.unique_users, bytes: expected.totals.bytes, unique_users_estimated: false });
    const firstLast = await env.DB.prepare(
      "SELECT min(occurred_at) AS first, max(occurred_at) AS last FROM events WHERE resource_id = 'rec-1' AND resource_type = 'dataset' AND duplicate_of IS NULL AND status <> 'denied' AND action IN ('download', 'bundle.download', 'metadata.download')",
    ).first<{ first: number; last: number }>();
    expect(resource.first_at).toBe(new Date(firstLast!.first).toISOString());
    expect(resource.last_at).toBe(new Date(firstLast!.last).toISOString());

    const person = await computeUserStats(env.DB, getConfig(env).piiKey, { actorId: "user-3" }, downloads);
    const mine = await env.DB.prepare(
      `SELECT count(*) AS events, count(DISTINCT resource_type || '/' || resource_id) AS resources,
         sum(CASE WHEN status = 'success' THEN bytes ELSE 0 END) AS bytes, max(occurred_at) AS last
       FROM events WHERE actor_key IN (SELECT actor_key FROM actors WHERE actor_id = 'user-3') AND duplicate_of IS NULL
         AND status <> 'denied' AND action IN ('download', 'bundle.download', 'metadata.download')`,
    ).first<{ events: number; resources: number; bytes: number; last: number }>();
    expect(person).toEqual({ events: mine!.events, resources: mine!.resources, bytes: mine!.bytes, last_at: new Date(mine!.last).toISOString() });
    expect(await computeUserStats(env.DB, getConfig(env).piiKey, { email: "nobody@example.org" }, downloads)).toEqual({ events: 0, resources: 0, bytes: 0, last_at: null });
  });
});
