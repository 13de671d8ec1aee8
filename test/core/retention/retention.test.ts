import { env } from "cloudflare:workers";
import { beforeEach, describe, expect, it } from "vitest";
import { archiveKey, restoreArchive, verifyArchive, writeDayArchive } from "../../../src/core/retention/archive";
import { prepareEvent, storeEvents, type EventRow } from "../../../src/core/ledger/ingest";
import { EventInputSchema } from "../../../src/core/ledger/event-schema";
import { dayOf, dayStart } from "../../../src/core/analytics/periods";
import { retireDay, runRetention } from "../../../src/core/retention/retention";
import { runRollup } from "../../../src/core/analytics/rollup";
import { computeStats } from "../../../src/core/analytics/stats";
import { getConfig } from "../../../src/lib/config";
import { allRows, clearLedger, DAY, random, randomInput, seedRows, type SeedRow } from "../../stats-fixtures";

const config = getConfig(env);
const NOW = Date.now();
const TODAY = dayOf(NOW);
const FIRST_DAY = TODAY - 190;
const CUTOFF_DAY = TODAY - config.retentionDays;
const downloads = ["download", "bundle.download", "metadata.download"];

async function clearArchives() {
  const listing = await env.BUCKET.list({ prefix: "archive/" });
  if (listing.objects.length > 0) await env.BUCKET.delete(listing.objects.map((object) => object.key));
}

/** Every line of an archive object, parsed. */
async function readArchive(key: string): Promise<EventRow[]> {
  const object = await env.BUCKET.get(key);
  const text = await new Response(object!.body.pipeThrough(new DecompressionStream("gzip"))).text();
  return text
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line) as EventRow);
}

/** 16 days of events (10 of them older than the cutoff), with duplicates and denials, rolled up. */
async function seedOldDays(): Promise<EventRow[]> {
  const next = random(42);
  const rows: SeedRow[] = [];
  for (let index = 0; index < 1600; index++) {
    const occurredAt = dayStart(FIRST_DAY) + Math.floor(next() * 16 * DAY);
    rows.push({ input: randomInput(next, occurredAt, index), receivedAt: occurredAt + 1000 });
  }
  const stored = await seedRows(rows);
  await seedRows(
    stored.slice(0, 160).map((row, index) => ({
      input: { ...rows[index]!.input, id: `extra-${index}` },
      receivedAt: row.received_at,
      ...(index % 2 ? { denied: true } : { duplicateOf: row.id }),
    })),
  );
  await runRollup(env.DB, { now: NOW, settleMs: 60_000 });
  return allRows();
}

const oldRange = { from: dayStart(FIRST_DAY), to: dayStart(CUTOFF_DAY), actions: downloads, interval: "day" as const, topOrganisations: 3, topResources: 3 };

describe("retention and archive", { timeout: 60_000 }, () => {
  beforeEach(async () => {
    await clearLedger();
    await clearArchives();
  });

  it("finding 9a: retires events that occurred before 1970 (stored before ingest refused them)", async () => {
    const [moonLanding, longAgo] = [Date.UTC(1969, 6, 20, 20, 17), Date.UTC(1900, 0, 1, 12)];
    const prepared = await Promise.all(
      [moonLanding, longAgo].map(async (occurredAt, index) => {
        const event = await prepareEvent(EventInputSchema.parse({ id: `pre-epoch-${index}`, action: "download" }), config, { keyId: "test", receivedAt: NOW - 3_600_000 });
        event.row.occurred_at = occurredAt;
        return event;
      }),
    );
    await storeEvents(env.DB, prepared);
    const result = await runRetention(env, config, { now: NOW });
    expect(result.events).toBe(2);
    expect(result.archived).toEqual(["archive/events/1900/01/01.ndjson.gz", "archive/events/1969/07/20.ndjson.gz"]);
    expect(result.deleted).toBe(2);
    expect((await allRows()).filter((row) => row.client_id?.startsWith("pre-epoch-"))).toEqual([]);
    expect((await readArchive("archive/events/1969/07/20.ndjson.gz")).map((row) => [row.client_id, row.occurred_at])).toEqual([["pre-epoch-0", moonLanding]]);
  });

  it("dry run reports what would happen and changes nothing", async () => {
    const before = await seedOldDays();
    const expectedOld = before.filter((row) => row.occurred_at < dayStart(CUTOFF_DAY));
    const result = await runRetention(env, config, { dryRun: true, now: NOW });
    expect(result).toMatchObject({ dry_run: true, cutoff: new Date(dayStart(CUTOFF_DAY)).toISOString(), events: expectedOld.length, deleted: 0 });
    expect(result.archived).toEqual(Array.from({ length: CUTOFF_DAY - FIRST_DAY }, (_, index) => archiveKey(FIRST_DAY + index)));
    expect((await allRows()).length).toBe(before.length);
    expect((await env.BUCKET.list({ prefix: "archive/" })).objects).toHaveLength(0);
  });

  it("archives complete rows per day, verifies, deletes them, and keeps stats (users then estimated)", async () => {
    const before = await seedOldDays();
    const statsBefore = await computeStats(env.DB, oldRange);
    const result = await runRetention(env, config, { now: NOW });
    const old = before.filter((row) => row.occurred_at < dayStart(CUTOFF_DAY));
    expect(result.events).toBe(old.length);
    expect(result.deleted).toBe(old.length);
    expect(result.archived).toHaveLength(CUTOFF_DAY - FIRST_DAY);

    const remaining = await allRows();
    expect(remaining.every((row) => row.occurred_at >= dayStart(CUTOFF_DAY))).toBe(true);
    expect(remaining.length).toBe(before.length - old.length);

    const archived = (await Promise.all(result.archived.map(readArchive))).flat();
    const byId = (a: EventRow, b: EventRow) => (a.id < b.id ? -1 : 1);
    expect([...archived].sort(byId)).toEqual([...old].sort(byId));
    expect(archived.some((row) => row.status === "denied")).toBe(true);
    expect(archived.some((row) => row.duplicate_of !== null)).toBe(true);
    const listing = await env.BUCKET.list({ prefix: "archive/", include: ["customMetadata"] });
    const ndjson = listing.objects.filter((object) => object.key.endsWith(".ndjson.gz"));
    expect(ndjson.reduce((sum, object) => sum + Number(object.customMetadata!.rows), 0)).toBe(old.length);

    const userSetsLeft = await env.DB.prepare(
      "SELECT count(*) AS n FROM event_rollups WHERE day IN (SELECT day FROM rollup_days WHERE purged_at IS NOT NULL) AND users IS NOT NULL",
    ).first<{ n: number }>();
    expect(userSetsLeft!.n).toBe(0);
    const statsAfter = await computeStats(env.DB, oldRange);
    expect(statsAfter.unique_users_estimated).toBe(true);
    expect(statsAfter.totals).toEqual({ ...statsBefore.totals, unique_users: statsAfter.totals.unique_users });
    expect(Math.abs(statsAfter.totals.unique_users - statsBefore.totals.unique_users)).toBeLessThanOrEqual(Math.ceil(statsBefore.totals.unique_users * 0.05));
    expect(statsAfter.series.map((entry) => [entry.successful, entry.failed, entry.bytes])).toEqual(
      statsBefore.series.map((entry) => [entry.successful, entry.failed, entry.bytes]),
    );

    // Restoring is idempotent by event id and never double counts.
    const key = result.archived[0]!;
    const rows = (await readArchive(key)).length;
    expect(await restoreArchive(env.BUCKET, env.DB, key)).toEqual({ key, rows, restored: rows, already_present: 0 });
    expect(await restoreArchive(env.BUCKET, env.DB, key)).toEqual({ key, rows, restored: 0, already_present: rows });
    expect((await computeStats(env.DB, oldRange)).totals).toEqual(statsAfter.totals);

    // The next run retires the restored rows again without losing any line of the archive.
    const again = await runRetention(env, config, { now: NOW });
    expect(again.deleted).toBe(rows);
    expect((await readArchive(key)).length).toBe(rows);
  });

  it("archives a day of more rows than one read page (2,000) once each, in (occurred_at, id) order across page boundaries", async () => {
    const next = random(2300);
    const day = CUTOFF_DAY - 3;
    // 2,300 rows on 400 distinct milliseconds: rows sharing a time straddle the page boundaries.
    const seeded = await seedRows(
      Array.from({ length: 2300 }, (_, index) => {
        const occurredAt = dayStart(day) + Math.floor(next() * 400) * 1000;
        return { input: randomInput(next, occurredAt, index), receivedAt: occurredAt + 1000 };
      }),
    );
    const result = await runRetention(env, config, { now: NOW });
    expect(result).toMatchObject({ archived: [archiveKey(day)], events: 2300, deleted: 2300 });
    const archived = await readArchive(archiveKey(day));
    const inOrder = [...seeded].sort((a, b) => a.occurred_at - b.occurred_at || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    expect(archived.map((row) => row.id)).toEqual(inOrder.map((row) => row.id));
    expect(await allRows()).toEqual([]);
  });

  it("deletes rollups older than ROLLUP_RETENTION_DAYS (never younger than RETENTION_DAYS) when it is set", async () => {
    await seedOldDays();
    const keepDays = 185;
    const result = await runRetention(env, { ...config, rollupRetentionDays: keepDays }, { now: NOW });
    expect(result.rollups_deleted).toBeGreaterThan(0);
    const oldest = await env.DB.prepare("SELECT min(day) AS day FROM event_rollups").first<{ day: number }>();
    expect(oldest!.day).toBe(TODAY - keepDays);
    expect(await env.DB.prepare("SELECT count(*) AS n FROM rollup_days WHERE day < ?1").bind(TODAY - keepDays).first<{ n: number }>()).toEqual({ n: 0 });
    await runRetention(env, { ...config, rollupRetentionDays: 30 }, { now: NOW });
    const clamped = await env.DB.prepare("SELECT min(day) AS day FROM event_rollups").first<{ day: number }>();
    expect(clamped!.day).toBe(TODAY - config.retentionDays);
  });

  it("a run that dies between archiving and deleting leaves every row either in the ledger or archived, and the next run finishes", async () => {
    const before = await seedOldDays();
    const day = FIRST_DAY + 1;
    const manifest = (await writeDayArchive(env.BUCKET, env.DB, day))!;
    expect(await verifyArchive(env.BUCKET, manifest)).toBe(true);
    // ...the run dies here. Nothing was deleted, and the day can still be rebuilt from raw rows.
    expect((await allRows()).length).toBe(before.length);

    // A late event arrives for that day; the next run merges it into the same object and deletes both.
    const late = await seedRows([{ input: randomInput(random(7), dayStart(day) + 3_600_000, 99_999), receivedAt: NOW - 120_000 }]);
    await runRetention(env, config, { now: NOW });
    const archived = await readArchive(archiveKey(day));
    const expected = [...before, ...late].filter((row) => dayOf(row.occurred_at) === day);
    expect(new Set(archived.map((row) => row.id))).toEqual(new Set(expected.map((row) => row.id)));
    expect(archived).toHaveLength(expected.length);
    expect((await allRows()).some((row) => dayOf(row.occurred_at) === day)).toBe(false);
  });

  it("deletes nothing when the archive cannot be verified", async () => {
    const before = await seedOldDays();
    const truncating = new Proxy(env.BUCKET, {
      get(bucket, property) {
        if (property === "put")
          return (key: string, value: Uint8Array, options: R2PutOptions) => bucket.put(key, value.slice(0, Math.floor(value.length / 2)), options);
        const member = Reflect.get(bucket, property);
        return typeof member === "function" ? member.bind(bucket) : member;
      },
    });
    await expect(retireDay({ ...env, BUCKET: truncating }, FIRST_DAY, { snapshot: NOW - 60_000, now: NOW })).rejects.toThrow(/verification/);
    expect((await allRows()).length).toBe(before.length);
    const state = await env.DB.prepare("SELECT purged_at FROM rollup_days WHERE day = ?1").bind(FIRST_DAY).first<{ purged_at: number | null }>();
    expect(state!.purged_at).toBeNull();
  });

  it("refuses to overwrite an archive another run wrote after this one read it", async () => {
    await seedOldDays();
    const day = FIRST_DAY + 3;
    const key = archiveKey(day);
    const racing = (createFirst: boolean) =>
      new Proxy(env.BUCKET, {
        get(bucket, property) {
          if (property === "get")
            return async (name: string, options?: R2GetOptions) => {
              const seen = createFirst ? null : await bucket.get(name, options);
              await bucket.put(name, "written by another run");
              return seen;
            };
          const member = Reflect.get(bucket, property);
          return typeof member === "function" ? member.bind(bucket) : member;
        },
      });
    await expect(writeDayArchive(racing(true), env.DB, day)).rejects.toThrow(/changed by another run/);
    expect(await (await env.BUCKET.get(key))!.text()).toBe("written by another run");
    await env.BUCKET.delete(key);
    expect(await writeDayArchive(env.BUCKET, env.DB, day)).not.toBeNull();
    await expect(writeDayArchive(racing(false), env.DB, day)).rejects.toThrow(/changed by another run/);
  });

  it("keeps overlapping runs safe: one holds the lease, and racing day retirements never delete unarchived rows", async () => {
    const before = await seedOldDays();
    const [first, second] = await Promise.allSettled([runRetention(env, config, { now: NOW }), runRetention(env, config, { now: NOW })]);
    expect([first.status, second.status].sort()).toEqual(["fulfilled", "rejected"]);

    await clearLedger();
    await clearArchives();
    const reseeded = await seedOldDays();
    const day = FIRST_DAY + 2;
    const races = await Promise.allSettled(
      Array.from({ length: 3 }, () => retireDay(env, day, { snapshot: NOW - 60_000, now: NOW })),
    );
    expect(races.some((race) => race.status === "fulfilled")).toBe(true);
    await runRetention(env, config, { now: NOW });
    const archived = new Set((await readArchive(archiveKey(day))).map((row) => row.id));
    const ofDay = reseeded.filter((row) => dayOf(row.occurred_at) === day);
    expect(ofDay.every((row) => archived.has(row.id))).toBe(true);
    expect(archived.size).toBe(ofDay.length);
    expect(before.length).toBe(reseeded.length);
  });
});
