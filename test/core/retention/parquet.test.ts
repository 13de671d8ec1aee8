import { env } from "cloudflare:workers";
import { parquetMetadata, parquetReadObjects } from "hyparquet";
import { beforeEach, describe, expect, it } from "vitest";
import { archiveKey, restoreArchive, verifyArchive, writeDayArchive } from "../../../src/core/retention/archive";
import { dayOfParquetKey, ParquetEncoder, parquetKey, storeDayParquet } from "../../../src/core/retention/parquet";
import { retireDay, runRetention } from "../../../src/core/retention/retention";
import { dayOf, dayStart } from "../../../src/core/analytics/periods";
import { runRollup } from "../../../src/core/analytics/rollup";
import type { EventRow } from "../../../src/core/ledger/ingest";
import { getConfig } from "../../../src/lib/config";
import { callJson, call } from "../../helpers";
import { allRows, clearLedger, DAY, random, randomInput, seedRows, type SeedRow } from "../../stats-fixtures";

const config = getConfig(env);
const NOW = Date.now();
const FIRST_DAY = dayOf(NOW) - config.retentionDays - 3;

async function clearArchives() {
  const listing = await env.BUCKET.list({ prefix: "archive/" });
  if (listing.objects.length > 0) await env.BUCKET.delete(listing.objects.map((object) => object.key));
}

/** Three old days of events, with a duplicate and a denial, rolled up. */
async function seedThreeOldDays(): Promise<EventRow[]> {
  const next = random(7);
  const rows: SeedRow[] = [];
  for (let index = 0; index < 300; index++) {
    const occurredAt = dayStart(FIRST_DAY) + Math.floor(next() * 3 * DAY);
    rows.push({ input: randomInput(next, occurredAt, index), receivedAt: occurredAt + 1000 });
  }
  const stored = await seedRows(rows);
  await seedRows([
    { input: { ...rows[0]!.input, id: "parquet-duplicate" }, receivedAt: stored[0]!.received_at, duplicateOf: stored[0]!.id },
    { input: { ...rows[1]!.input, id: "parquet-denied" }, receivedAt: stored[1]!.received_at, denied: true },
  ]);
  await runRollup(env.DB, { now: NOW, settleMs: 60_000 });
  return allRows();
}

/** Every row of a Parquet object, read with hyparquet's own reader (not the service's code), INT64 as numbers. */
async function readParquet(key: string): Promise<Record<string, unknown>[]> {
  const bytes = await (await env.BUCKET.get(key))!.arrayBuffer();
  const objects = await parquetReadObjects({ file: bytes });
  return objects.map((object) => Object.fromEntries(Object.entries(object).map(([name, value]) => [name, typeof value === "bigint" ? Number(value) : value])));
}

const byId = (a: { id?: unknown }, b: { id?: unknown }) => (String(a.id) < String(b.id) ? -1 : 1);

describe("Parquet copies of retired days", { timeout: 60_000 }, () => {
  beforeEach(async () => {
    await clearLedger();
    await clearArchives();
  });

  it("writes one Hive-partitioned Parquet object per retired day holding exactly the archived rows", async () => {
    const before = await seedThreeOldDays();
    const result = await runRetention(env, config, { now: NOW });
    expect(result.archived).toEqual([0, 1, 2].map((offset) => archiveKey(FIRST_DAY + offset)));
    for (const offset of [0, 1, 2]) {
      const day = FIRST_DAY + offset;
      const key = parquetKey(day);
      expect(key).toBe(`archive/events/date=${new Date(dayStart(day)).toISOString().slice(0, 10)}/events.parquet`);
      const expected = before.filter((row) => row.occurred_at >= dayStart(day) && row.occurred_at < dayStart(day) + DAY);
      expect((await readParquet(key)).sort(byId)).toEqual([...expected].sort(byId));
      const object = await env.BUCKET.head(key);
      expect(object!.customMetadata).toMatchObject({ rows: String(expected.length), source: archiveKey(day) });
    }
    const all = (await Promise.all([0, 1, 2].map((offset) => readParquet(parquetKey(FIRST_DAY + offset))))).flat();
    expect(all).toHaveLength(302);
    expect(all.some((row) => row.duplicate_of === before.find((entry) => entry.id === "parquet-duplicate")!.duplicate_of)).toBe(true);
    expect(all.some((row) => row.status === "denied")).toBe(true);
  });

  it("types columns for analytics engines: times and bytes as INT64, text as UTF-8, required where the ledger requires", async () => {
    await seedThreeOldDays();
    await runRetention(env, config, { now: NOW });
    const metadata = parquetMetadata(await (await env.BUCKET.get(parquetKey(FIRST_DAY)))!.arrayBuffer());
    const element = (name: string) => metadata.schema.find((entry) => entry.name === name)!;
    expect(element("occurred_at")).toMatchObject({ type: "INT64", repetition_type: "REQUIRED" });
    expect(element("bytes")).toMatchObject({ type: "INT64", repetition_type: "OPTIONAL" });
    expect(element("id")).toMatchObject({ type: "BYTE_ARRAY", converted_type: "UTF8", repetition_type: "REQUIRED" });
    expect(element("doi")).toMatchObject({ type: "BYTE_ARRAY", converted_type: "UTF8", repetition_type: "OPTIONAL" });
  });

  it("restores from the Parquet copy, idempotently by event id", async () => {
    const before = await seedThreeOldDays();
    await runRetention(env, config, { now: NOW });
    const key = parquetKey(FIRST_DAY + 1);
    const rows = before.filter((row) => dayOf(row.occurred_at) === FIRST_DAY + 1);
    expect(await restoreArchive(env.BUCKET, env.DB, key)).toEqual({ key, rows: rows.length, restored: rows.length, already_present: 0 });
    expect(await restoreArchive(env.BUCKET, env.DB, key)).toEqual({ key, rows: rows.length, restored: 0, already_present: rows.length });
    expect((await allRows()).sort(byId)).toEqual([...rows].sort(byId));
  });

  it("refuses a copy that does not hold the archived rows, and the day keeps every ledger row", async () => {
    const before = await seedThreeOldDays();
    const manifest = (await writeDayArchive(env.BUCKET, env.DB, FIRST_DAY))!;
    const [encoder, altered] = [new ParquetEncoder(), new ParquetEncoder()];
    expect(
      await verifyArchive(env.BUCKET, manifest, async (lines) => {
        const rows = lines.map((line) => JSON.parse(line) as EventRow);
        await encoder.add(rows);
        // The same rows with one value changed: a copy that decodes to other values than the encoder was given.
        await altered.add(rows.map((row, index) => (index === 0 ? { ...row, title: `${row.title ?? ""}!` } : row)));
      }),
    ).toBe(true);
    const encoded = await encoder.finish();
    await expect(storeDayParquet(env.BUCKET, { ...manifest, rows: manifest.rows + 1 }, encoded)).rejects.toThrow(/does not hold the archived rows/);
    await expect(storeDayParquet(env.BUCKET, manifest, { ...encoded, bytes: (await altered.finish()).bytes })).rejects.toThrow(/does not hold the archived rows/);
    await expect(storeDayParquet(env.BUCKET, manifest, { ...encoded, sha256: "0".repeat(64) })).rejects.toThrow(/does not hold the archived rows/);
    expect(await env.BUCKET.head(parquetKey(FIRST_DAY))).toBeNull();

    const failingParquet = new Proxy(env.BUCKET, {
      get(bucket, property) {
        if (property === "put")
          return (key: string, value: ArrayBuffer, options: R2PutOptions) =>
            key.endsWith(".parquet") ? Promise.reject(new Error("R2 unavailable")) : bucket.put(key, value, options);
        const member = Reflect.get(bucket, property);
        return typeof member === "function" ? member.bind(bucket) : member;
      },
    });
    await expect(retireDay({ ...env, BUCKET: failingParquet }, FIRST_DAY + 2, { snapshot: NOW - 60_000, now: NOW })).rejects.toThrow(/R2 unavailable/);
    expect((await allRows()).length).toBe(before.length);
  });

  it("parses only its own keys", () => {
    expect(dayOfParquetKey(parquetKey(FIRST_DAY))).toBe(FIRST_DAY);
    for (const key of ["archive/events/date=2026-02-30/events.parquet", "archive/events/date=2026-01-01/other.parquet", archiveKey(FIRST_DAY)])
      expect(dayOfParquetKey(key), key).toBeUndefined();
  });
});

describe("GET /v1/archives/object", { timeout: 60_000 }, () => {
  beforeEach(async () => {
    await clearLedger();
    await clearArchives();
  });

  it("serves an archive object's bytes to admins, with its row count and checksum", async () => {
    await seedThreeOldDays();
    await runRetention(env, config, { now: NOW });
    const key = parquetKey(FIRST_DAY);
    const stored = await env.BUCKET.get(key);
    const response = await call("GET", `/v1/archives/object?key=${encodeURIComponent(key)}`);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("application/vnd.apache.parquet");
    expect(response.headers.get("x-archive-rows")).toBe(stored!.customMetadata!.rows);
    expect(new Uint8Array(await response.arrayBuffer())).toEqual(new Uint8Array(await stored!.arrayBuffer()));
  });

  it("refuses other keys of the bucket, missing archives and non-admin keys", async () => {
    expect((await callJson("GET", `/v1/archives/object?key=${encodeURIComponent("files/secret.bin")}`)).status).toBe(400);
    expect((await callJson("GET", `/v1/archives/object?key=${encodeURIComponent(parquetKey(FIRST_DAY - 400))}`)).status).toBe(404);
    expect((await callJson("GET", `/v1/archives/object?key=${encodeURIComponent(parquetKey(FIRST_DAY))}`, { key: null })).status).toBe(401);
  });
});
