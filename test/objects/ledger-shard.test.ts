import { evictDurableObject, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { prepareEvent } from "../../src/core/ledger/ingest";
import type { LedgerShard, StageItem } from "../../src/objects/ledger-shard";
import { getConfig } from "../../src/lib/config";
import { countRows } from "../helpers";

const config = getConfig(env);
const options = { dedupWindowMs: 3_600_000, flushDelayMs: 60_000 };

async function item(overrides: { id?: string; occurredAt?: string; status?: "success" | "failure"; dedup?: boolean; user?: string } = {}): Promise<StageItem> {
  const prepared = await prepareEvent(
    {
      id: overrides.id,
      action: "download",
      status: overrides.status ?? "success",
      occurred_at: overrides.occurredAt,
      resource: { type: "dataset", id: "ds-9" },
      actor: { id: overrides.user ?? "user-9" },
    },
    config,
    { receivedAt: Date.now(), ip: "198.51.100.7" },
  );
  const dedupKey = overrides.dedup === false || prepared.row.status !== "success" ? null : `download|${prepared.row.user_key}|dataset:ds-9`;
  return { row: prepared.row, actor: prepared.actor, clientChosenId: overrides.id !== undefined, dedupKey };
}

describe("LedgerShard", () => {
  it("counts the first download, marks a repeat in the window as its duplicate, and counts again after the window", async () => {
    const stub = env.LEDGER_SHARD.getByName("test-dedup");
    const t0 = new Date(Date.now() - 3 * 3_600_000);
    const at = (ms: number) => new Date(t0.getTime() + ms).toISOString();
    const [first, repeat, later] = await stub.stage(
      [await item({ occurredAt: at(0) }), await item({ occurredAt: at(10 * 60_000) }), await item({ occurredAt: at(61 * 60_000) })],
      options,
    );
    expect(first!.duplicate_of).toBeNull();
    expect(repeat!.duplicate_of).toBe(first!.id);
    expect(later!.duplicate_of).toBeNull();
  });

  it("never opens a window for a failure: the retry that succeeds is counted", async () => {
    const stub = env.LEDGER_SHARD.getByName("test-failure");
    const [failed, retried] = await stub.stage([await item({ status: "failure" }), await item({})], options);
    expect(failed!.duplicate_of).toBeNull();
    expect(retried!.duplicate_of).toBeNull();
  });

  it("works with a 30-second window (COUNTER double-click) by configuration alone", async () => {
    const stub = env.LEDGER_SHARD.getByName("test-30s");
    const base = Date.now() - 120_000;
    const at = (ms: number) => new Date(base + ms).toISOString();
    const results = await stub.stage(
      [await item({ occurredAt: at(0) }), await item({ occurredAt: at(20_000) }), await item({ occurredAt: at(45_000) })],
      { ...options, dedupWindowMs: 30_000 },
    );
    expect(results.map((result) => result.duplicate_of)).toEqual([null, results[0]!.id, null]);
  });

  it("answers a replayed client id with the stored event, whether staged or already in D1", async () => {
    const stub = env.LEDGER_SHARD.getByName("test-replay");
    const [original] = await stub.stage([await item({ id: "client-replay-1" })], options);
    const [stagedReplay] = await stub.stage([await item({ id: "client-replay-1" })], options);
    expect(stagedReplay).toMatchObject({ id: "client-replay-1", replayed: true, received_at: original!.received_at });
    expect(await stub.flush()).toBe(1);
    const [storedReplay] = await stub.stage([await item({ id: "client-replay-1" })], options);
    expect(storedReplay).toMatchObject({ replayed: true, received_at: original!.received_at });
    expect(await countRows("events", "id = 'client-replay-1'")).toBe(1);
  });

  it("serialises racing calls: two identical downloads give one counted event and one duplicate", async () => {
    const stub = env.LEDGER_SHARD.getByName("test-race");
    const [a, b] = await Promise.all([stub.stage([await item({ user: "racer" })], options), stub.stage([await item({ user: "racer" })], options)]);
    const duplicates = [a![0]!, b![0]!].map((outcome) => outcome.duplicate_of);
    expect(duplicates.filter((value) => value === null)).toHaveLength(1);
    expect(duplicates.filter((value) => value !== null)).toHaveLength(1);
  });

  it("loses nothing when a flush dies after D1 committed: the retry stores each event exactly once", async () => {
    const stub = env.LEDGER_SHARD.getByName("test-kill-flush");
    const items = await Promise.all(Array.from({ length: 5 }, (_, i) => item({ id: `kill-flush-${i}`, dedup: false })));
    await stub.stage(items, options);
    // A D1 whose batch commits and then the flusher dies before it can clear its staging table.
    const dying = new Proxy(env.DB, {
      get(target, property) {
        if (property === "batch")
          return async (statements: D1PreparedStatement[]) => {
            await target.batch(statements);
            throw new Error("flusher killed mid-batch");
          };
        const value = Reflect.get(target, property);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    await expect(runInShard(stub, (shard) => shard.flush(dying))).rejects.toThrow("flusher killed");
    expect(await stub.stateSize()).toMatchObject({ staged: 5 });
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect(await stub.stateSize()).toMatchObject({ staged: 0 });
    expect(await countRows("events", "id LIKE 'kill-flush-%'")).toBe(5);
  });

  it("keeps staged events and windows across eviction, and its alarm flushes them", async () => {
    const stub = env.LEDGER_SHARD.getByName("test-evict");
    const [counted] = await stub.stage([await item({ id: "evict-1", user: "evictee" })], options);
    await evictDurableObject(stub);
    expect(await stub.stateSize()).toEqual({ staged: 1, windows: 1 });
    const [repeat] = await stub.stage([await item({ user: "evictee" })], options);
    expect(repeat!.duplicate_of).toBe(counted!.id);
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect(await countRows("events", "id = 'evict-1'")).toBe(1);
  });
});

function runInShard<R>(stub: DurableObjectStub<LedgerShard>, callback: (shard: LedgerShard) => Promise<R>): Promise<R> {
  return runInDurableObject(stub, (instance: LedgerShard) => callback(instance));
}
