import { env } from "cloudflare:workers";
import { beforeEach, describe, expect, it } from "vitest";
import { dayOf, dayStart } from "../../../src/core/analytics/periods";
import { archiveKey, restoreArchive } from "../../../src/core/retention/archive";
import { retireDay, runRetention } from "../../../src/core/retention/retention";
import { getConfig } from "../../../src/lib/config";
import { allRows, clearLedger, DAY, random, randomInput, seedRows } from "../../stats-fixtures";

const config = getConfig(env);
const NOW = Date.now();
const DAY_RETIRED = dayOf(NOW) - config.retentionDays - 5;
const options = { snapshot: NOW - 60_000, now: NOW };

async function clearArchives() {
  const listing = await env.BUCKET.list({ prefix: "archive/" });
  if (listing.objects.length > 0) await env.BUCKET.delete(listing.objects.map((object) => object.key));
}

async function archivedIds(day: number): Promise<string[]> {
  const object = await env.BUCKET.get(archiveKey(day));
  if (!object) return [];
  const text = await new Response(object.body.pipeThrough(new DecompressionStream("gzip"))).text();
  return text
    .split("\n")
    .filter(Boolean)
    .map((line) => (JSON.parse(line) as { id: string }).id)
    .sort();
}

async function ledgerIds(day: number): Promise<string[]> {
  return (await allRows())
    .filter((row) => dayOf(row.occurred_at) === day)
    .map((row) => row.id)
    .sort();
}

/** 300 events on one day older than the cutoff (by default DAY_RETIRED); returns their ids, sorted. */
async function seedDay(day = DAY_RETIRED): Promise<string[]> {
  const next = random(11 + day);
  const rows = await seedRows(
    Array.from({ length: 300 }, (_, index) => {
      const occurredAt = dayStart(day) + Math.floor(next() * DAY);
      return { input: randomInput(next, occurredAt, index), receivedAt: occurredAt + 1000 };
    }),
  );
  return rows.map((row) => row.id).sort();
}

/** A binding whose `method` throws on the calls `failOn` picks (by 1-based call number); other calls pass through. */
function failing<T extends object>(target: T, method: string, failOn: (call: number) => boolean, message: string): T {
  let calls = 0;
  return new Proxy(target, {
    get(object, property) {
      const member = Reflect.get(object, property);
      if (property === method)
        return (...args: unknown[]) => {
          calls++;
          if (failOn(calls)) return Promise.reject(new Error(message));
          return (member as (...values: unknown[]) => unknown).apply(object, args);
        };
      return typeof member === "function" ? member.bind(object) : member;
    },
  });
}

/** The end state every fault must leave: each row of the day in the ledger or in the archive, none twice in the ledger. */
async function expectNothingLost(original: string[], day = DAY_RETIRED): Promise<void> {
  const [ledger, archive] = [await ledgerIds(day), await archivedIds(day)];
  expect(new Set(ledger).size).toBe(ledger.length);
  expect([...new Set([...ledger, ...archive])].sort()).toEqual(original);
}

/** After a clean run: every row archived exactly once, none left in the ledger. */
async function expectRetired(original: string[]): Promise<void> {
  await runRetention(env, config, { now: NOW });
  expect(await archivedIds(DAY_RETIRED)).toEqual(original);
  expect(await ledgerIds(DAY_RETIRED)).toEqual([]);
}

describe("retention under R2 and D1 faults (issue 10)", { timeout: 60_000 }, () => {
  beforeEach(async () => {
    await clearLedger();
    await clearArchives();
  });

  it("R2 failing while the archive is written: nothing is deleted, and the next run retires the day", async () => {
    const original = await seedDay();
    const bucket = failing(env.BUCKET, "put", () => true, "R2 put failed");
    await expect(retireDay({ ...env, BUCKET: bucket }, DAY_RETIRED, options)).rejects.toThrow("R2 put failed");
    expect(await ledgerIds(DAY_RETIRED)).toEqual(original);
    expect(await env.BUCKET.head(archiveKey(DAY_RETIRED))).toBeNull();
    await expectRetired(original);
  });

  it("R2 failing while the archive is verified: nothing is deleted, and the next run retires the day", async () => {
    const original = await seedDay();
    // The first get is the read-before-merge (no object yet); the second is the verification.
    const bucket = failing(env.BUCKET, "get", (call) => call === 2, "R2 get failed");
    await expect(retireDay({ ...env, BUCKET: bucket }, DAY_RETIRED, options)).rejects.toThrow("R2 get failed");
    expect(await ledgerIds(DAY_RETIRED)).toEqual(original);
    await expectNothingLost(original);
    await expectRetired(original);
  });

  it("R2 failing after the verified read-back, while the Parquet copy is stored: nothing is deleted, and the next run finishes", async () => {
    const original = await seedDay();
    // Puts: the NDJSON archive, then the Parquet copy built during the read-back that also listed the ids to delete.
    const bucket = failing(env.BUCKET, "put", (call) => call === 2, "R2 put failed for the Parquet copy");
    await expect(retireDay({ ...env, BUCKET: bucket }, DAY_RETIRED, options)).rejects.toThrow("R2 put failed for the Parquet copy");
    expect(await ledgerIds(DAY_RETIRED)).toEqual(original);
    await expectNothingLost(original);
    await expectRetired(original);
  });

  it("D1 failing between delete batches (a run killed mid-delete): every row is in the ledger or the archive, and the next run finishes", async () => {
    const original = await seedDay();
    // The archive is written and verified, then the run dies at its delete batch.
    let deleting = false;
    const db = new Proxy(env.DB, {
      get(target, property) {
        if (property === "batch")
          return async (statements: D1PreparedStatement[]) => {
            if (deleting) throw new Error("D1 failed mid-delete");
            return target.batch(statements);
          };
        if (property === "prepare")
          return (query: string) => {
            if (query.startsWith("DELETE FROM event_rows")) deleting = true;
            return target.prepare(query);
          };
        const member = Reflect.get(target, property);
        return typeof member === "function" ? member.bind(target) : member;
      },
    });
    await expect(retireDay({ ...env, DB: db }, DAY_RETIRED, options)).rejects.toThrow("D1 failed mid-delete");
    expect(await archivedIds(DAY_RETIRED)).toEqual(original);
    await expectNothingLost(original);
    await expectRetired(original);
  });

  it("R2 failing while the next day is archived as the previous day's rows are deleted: that day finishes, the next keeps its rows", async () => {
    const NEXT_DAY = DAY_RETIRED + 1;
    const [original, next] = [await seedDay(), await seedDay(NEXT_DAY)];
    // Puts: the first day's NDJSON archive and Parquet copy, then the next day's NDJSON archive, which fails while the
    // first day's rows are being deleted.
    const bucket = failing(env.BUCKET, "put", (call) => call === 3, "R2 put failed for the next day");
    await expect(runRetention({ ...env, BUCKET: bucket }, config, { now: NOW })).rejects.toThrow("R2 put failed for the next day");
    expect(await archivedIds(DAY_RETIRED)).toEqual(original);
    expect(await ledgerIds(DAY_RETIRED)).toEqual([]);
    expect(await ledgerIds(NEXT_DAY)).toEqual(next);
    expect(await env.BUCKET.head(archiveKey(NEXT_DAY))).toBeNull();
    await expectRetired(original);
    expect(await archivedIds(NEXT_DAY)).toEqual(next);
    expect(await ledgerIds(NEXT_DAY)).toEqual([]);
  });

  it("D1 failing while a day's rows are deleted as the next day is archived: no row of either day is lost, and the next run finishes", async () => {
    const NEXT_DAY = DAY_RETIRED + 1;
    const [original, next] = [await seedDay(), await seedDay(NEXT_DAY)];
    let deletes = 0;
    const db = new Proxy(env.DB, {
      get(target, property) {
        if (property === "batch")
          return async (statements: D1PreparedStatement[]) => {
            if (deletes > 0) throw new Error("D1 failed mid-delete");
            return target.batch(statements);
          };
        if (property === "prepare")
          return (query: string) => {
            if (query.startsWith("DELETE FROM event_rows")) deletes++;
            return target.prepare(query);
          };
        const member = Reflect.get(target, property);
        return typeof member === "function" ? member.bind(target) : member;
      },
    });
    await expect(runRetention({ ...env, DB: db }, config, { now: NOW })).rejects.toThrow("D1 failed mid-delete");
    expect(await archivedIds(DAY_RETIRED)).toEqual(original);
    await expectNothingLost(original);
    await expectNothingLost(next, NEXT_DAY);
    await expectRetired(original);
    expect(await archivedIds(NEXT_DAY)).toEqual(next);
    expect(await ledgerIds(NEXT_DAY)).toEqual([]);
  });

  it("a restore racing retention of the same day: no row is lost or doubled, and the next run retires the day again", async () => {
    const original = await seedDay();
    await runRetention(env, config, { now: NOW });
    expect(await ledgerIds(DAY_RETIRED)).toEqual([]);
    // Restore the archive while another retention run retires the (partly restored) day.
    const [restore, retire] = await Promise.allSettled([
      restoreArchive(env.BUCKET, env.DB, archiveKey(DAY_RETIRED)),
      retireDay(env, DAY_RETIRED, { snapshot: Date.now() - 60_000, now: Date.now() }),
    ]);
    expect(restore.status).toBe("fulfilled");
    if (retire.status === "rejected") expect(String(retire.reason)).toMatch(/changed|conflict/i);
    expect(await archivedIds(DAY_RETIRED)).toEqual(original);
    await expectNothingLost(original);
    await expectRetired(original);
  });
});
