import { evictDurableObject, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { clientEventId, prepareEvent, type IngestOutcome } from "../../src/core/ledger/ingest";
import type { LedgerShard, StageItem, StageOptions, StageOutcome } from "../../src/objects/ledger-shard";
import { getConfig } from "../../src/lib/config";
import { countRows } from "../helpers";

const config = getConfig(env);
const baseOptions: Omit<StageOptions, "shard"> = {
  dedupWindowMs: 3_600_000,
  denialWindowMs: 300_000,
  flushDelayMs: 60_000,
  maxStagedRows: 1_000_000,
  maxStagedBytes: 1024 ** 3,
};

interface ItemOptions {
  id?: string;
  keyId?: string;
  occurredAt?: string;
  status?: "success" | "failure";
  dedup?: boolean;
  user?: string;
  bytes?: number;
  /** The shard holding the user's dedup window; the staging shard itself unless set. */
  windowShard?: string;
  denialKey?: string;
}

/** A shard under test: its stub, its stage options and items whose dedup windows it holds. */
function shardNamed(name: string) {
  const options: StageOptions = { ...baseOptions, shard: name };
  return {
    stub: env.LEDGER_SHARD.getByName(name),
    options,
    item: (overrides: ItemOptions = {}) => item(name, overrides),
  };
}

async function item(shard: string, overrides: ItemOptions = {}): Promise<StageItem> {
  const prepared = await prepareEvent(
    {
      id: overrides.id,
      action: "download",
      status: overrides.status ?? "success",
      occurred_at: overrides.occurredAt,
      resource: { type: "dataset", id: "ds-9" },
      actor: { id: overrides.user ?? "user-9" },
      bytes: overrides.bytes,
    },
    config,
    { keyId: overrides.keyId ?? "key-test", receivedAt: Date.now(), ip: "198.51.100.7" },
  );
  const dedupKey = overrides.dedup === false || prepared.row.status !== "success" ? null : `download|${prepared.row.user_key}|dataset:ds-9`;
  return {
    row: prepared.row,
    actor: prepared.actor,
    dedup: dedupKey ? { key: dedupKey, shard: overrides.windowShard ?? shard } : null,
    denialKey: overrides.denialKey ?? null,
  };
}

/** The outcome of an event the shard holds (fails the test for `unavailable`). */
function held(outcome: StageOutcome | undefined): IngestOutcome {
  if (!outcome || outcome.status === "unavailable") throw new Error(`expected a stored or replayed event, got ${JSON.stringify(outcome)}`);
  return outcome;
}

describe("LedgerShard", () => {
  it("counts the first download, marks a repeat in the window as its duplicate, and counts again after the window", async () => {
    const { stub, options, item } = shardNamed("test-dedup");
    const t0 = new Date(Date.now() - 3 * 3_600_000);
    const at = (ms: number) => new Date(t0.getTime() + ms).toISOString();
    const [first, repeat, later] = await stub.stage(
      [await item({ occurredAt: at(0) }), await item({ occurredAt: at(10 * 60_000) }), await item({ occurredAt: at(61 * 60_000) })],
      options,
    );
    expect(held(first).duplicate_of).toBeNull();
    expect(held(repeat).duplicate_of).toBe(first!.id);
    expect(held(later).duplicate_of).toBeNull();
  });

  it("never opens a window for a failure: the retry that succeeds is counted", async () => {
    const { stub, options, item } = shardNamed("test-failure");
    const [failed, retried] = await stub.stage([await item({ status: "failure" }), await item({})], options);
    expect(held(failed).duplicate_of).toBeNull();
    expect(held(retried).duplicate_of).toBeNull();
  });

  it("works with a 30-second window (COUNTER double-click) by configuration alone", async () => {
    const { stub, options, item } = shardNamed("test-30s");
    const base = Date.now() - 120_000;
    const at = (ms: number) => new Date(base + ms).toISOString();
    const results = await stub.stage(
      [await item({ occurredAt: at(0) }), await item({ occurredAt: at(20_000) }), await item({ occurredAt: at(45_000) })],
      { ...options, dedupWindowMs: 30_000 },
    );
    expect(results.map((result) => held(result).duplicate_of)).toEqual([null, results[0]!.id, null]);
  });

  it("answers a replayed client id with the stored event, whether staged or already in D1", async () => {
    const { stub, options, item } = shardNamed("test-replay");
    const [original] = await stub.stage([await item({ id: "client-replay-1" })], options);
    const [stagedReplay] = await stub.stage([await item({ id: "client-replay-1" })], options);
    const storedId = clientEventId("key-test", "client-replay-1");
    expect(stagedReplay).toMatchObject({ status: "replayed", id: storedId, client_id: "client-replay-1", received_at: held(original).received_at });
    expect(await stub.flush()).toBe(1);
    const [storedReplay] = await stub.stage([await item({ id: "client-replay-1" })], options);
    expect(storedReplay).toMatchObject({ status: "replayed", id: storedId, received_at: held(original).received_at });
    expect(await countRows("events", `id = '${storedId}'`)).toBe(1);
  });

  it("counts staged rows exactly when two flushes overlap (the staging bound relies on the count)", async () => {
    const { stub, options, item } = shardNamed("test-overlapping-flushes");
    await stub.stage([await item({ id: "overlap-1" }), await item({ id: "overlap-2" }), await item({ id: "overlap-3" })], options);
    expect(await stub.stateSize()).toMatchObject({ staged: 3 });
    // Both select the same three rows while the first waits on D1; only one of them deletes each row from staging.
    await Promise.all([stub.flush(), stub.flush()]);
    expect(await stub.stateSize()).toMatchObject({ staged: 0, stagedBytes: 0 });
    expect(await countRows("events", "client_id LIKE 'overlap-%' AND key_id = 'key-test'")).toBe(3);
  });

  it("finding 1: 10.1a (LedgerShard): a second use of one key's id with other content is a conflict and stores nothing", async () => {
    const { stub, options, item } = shardNamed("test-conflict");
    const [first] = await stub.stage([await item({ id: "two-users", user: "user-a" })], options);
    const [staged] = await stub.stage([await item({ id: "two-users", user: "user-b" })], options);
    expect(first!.status).toBe("stored");
    expect(staged).toMatchObject({ status: "conflict", id: first!.id, client_id: "two-users" });
    await stub.flush();
    const [flushed] = await stub.stage([await item({ id: "two-users", user: "user-b" })], options);
    expect(flushed).toMatchObject({ status: "conflict", id: first!.id });
    expect(await stub.stateSize()).toMatchObject({ staged: 0 });
    expect(await countRows("events", "client_id = 'two-users' AND key_id = 'key-test'")).toBe(1);
  });

  it("finding 1: 10.1b (LedgerShard): the same id from two keys is two events, neither a replay of the other", async () => {
    const { stub, options, item } = shardNamed("test-two-keys");
    const [mallory] = await stub.stage([await item({ id: "portal-7", keyId: "key-mallory", user: "mallory" })], options);
    const [victim] = await stub.stage([await item({ id: "portal-7", keyId: "key-victim", user: "alice" })], options);
    expect([mallory!.status, victim!.status]).toEqual(["stored", "stored"]);
    expect(victim!.id).toBe(clientEventId("key-victim", "portal-7"));
    expect(victim!.id).not.toBe(mallory!.id);
    await stub.flush();
    expect(await countRows("events", "client_id = 'portal-7'")).toBe(2);
  });

  it("recognises an id that a flush moved to D1 while the call was waiting on D1 (no double staging, conflict still caught)", async () => {
    const { stub, options, item } = shardNamed("test-flush-race");
    await stub.stage([await item({ id: "race-a", bytes: 1 })], options);
    const conflicting = await item({ id: "race-a", bytes: 2 });
    const fresh = await item({ id: "race-b", dedup: false });
    const outcomes = await runInShard(stub, async (shard) => {
      // The D1 lookup of race-b is answered only after a flush has moved race-a from staging to D1.
      const realDb = env.DB;
      const patched = shard as unknown as { env: Env };
      const originalEnv = patched.env;
      patched.env = {
        ...originalEnv,
        DB: new Proxy(realDb, {
          get(target, property) {
            if (property === "prepare")
              return (query: string) => {
                const statement = target.prepare(query);
                if (!query.startsWith("SELECT id, received_at")) return statement;
                return new Proxy(statement, {
                  get(inner, name) {
                    if (name === "bind")
                      return (...values: unknown[]) => {
                        const bound = inner.bind(...values);
                        return { all: async () => { await shard.flush(realDb); return bound.all(); } };
                      };
                    const value = Reflect.get(inner, name);
                    return typeof value === "function" ? value.bind(inner) : value;
                  },
                });
              };
            const value = Reflect.get(target, property);
            return typeof value === "function" ? value.bind(target) : value;
          },
        }),
      };
      try {
        return await shard.stage([conflicting, fresh], options);
      } finally {
        patched.env = originalEnv;
      }
    });
    expect(outcomes.map((outcome) => outcome.status)).toEqual(["conflict", "stored"]);
    expect(await stub.stateSize()).toMatchObject({ staged: 1 });
    await stub.flush();
    const { results } = await env.DB.prepare("SELECT client_id, bytes FROM events WHERE key_id = 'key-test' AND client_id IN ('race-a', 'race-b') ORDER BY client_id").all();
    expect(results).toEqual([{ client_id: "race-a", bytes: 1 }, { client_id: "race-b", bytes: null }]);
  });

  it("asks the shard holding the user's window when the event's id routes it elsewhere", async () => {
    const windows = shardNamed("test-window-home");
    const staging = shardNamed("test-window-guest");
    const [counted] = await staging.stub.stage([await staging.item({ id: "remote-1", user: "wanderer", windowShard: "test-window-home" })], staging.options);
    const [repeat] = await windows.stub.stage([await windows.item({ user: "wanderer" })], windows.options);
    expect(held(counted).duplicate_of).toBeNull();
    expect(held(repeat).duplicate_of).toBe(counted!.id);
    // Retrying the counted event (same id) neither repeats itself nor moves the window.
    const [retry] = await staging.stub.stage([await staging.item({ id: "remote-1", user: "wanderer", windowShard: "test-window-home" })], staging.options);
    expect(retry).toMatchObject({ status: "replayed", id: counted!.id, duplicate_of: null });
    expect(await windows.stub.stateSize()).toMatchObject({ windows: 1 });
    expect(await staging.stub.stateSize()).toMatchObject({ windows: 0 });
  });

  it("serialises racing calls: two identical downloads give one counted event and one duplicate", async () => {
    const { stub, options, item } = shardNamed("test-race");
    const [a, b] = await Promise.all([stub.stage([await item({ user: "racer" })], options), stub.stage([await item({ user: "racer" })], options)]);
    const duplicates = [a![0]!, b![0]!].map((outcome) => held(outcome).duplicate_of);
    expect(duplicates.filter((value) => value === null)).toHaveLength(1);
    expect(duplicates.filter((value) => value !== null)).toHaveLength(1);
  });

  it("loses nothing when a flush dies after D1 committed: the retry stores each event exactly once", async () => {
    const { stub, options, item } = shardNamed("test-kill-flush");
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
    expect(await countRows("events", "client_id LIKE 'kill-flush-%'")).toBe(5);
  });

  it("holds at most its staging bound: a new event past it is answered unavailable, replays are still answered, nothing is dropped", async () => {
    const { stub, options: base, item } = shardNamed("test-bound");
    const options = { ...base, maxStagedRows: 3 };
    const first = await stub.stage([await item({ id: "bound-1", dedup: false }), await item({ id: "bound-2", dedup: false }), await item({ id: "bound-3", dedup: false })], options);
    expect(first.map((outcome) => outcome.status)).toEqual(["stored", "stored", "stored"]);
    const [over, replay] = await stub.stage([await item({ id: "bound-4", dedup: false }), await item({ id: "bound-1", dedup: false })], options);
    expect(over).toMatchObject({ status: "unavailable", client_id: "bound-4", retryAfterSeconds: 30 });
    expect(replay).toMatchObject({ status: "replayed", client_id: "bound-1" });
    expect(await stub.stateSize()).toMatchObject({ staged: 3 });
    expect(await stub.flush()).toBe(3);
    const [retried] = await stub.stage([await item({ id: "bound-4", dedup: false })], options);
    expect(retried!.status).toBe("stored");
    await stub.flush();
    expect(await countRows("events", "key_id = 'key-test' AND client_id LIKE 'bound-%'")).toBe(4);
  });

  it("bounds staging by bytes as well as rows", async () => {
    const { stub, options: base, item } = shardNamed("test-bound-bytes");
    const one = JSON.stringify((await item({ dedup: false })).row).length;
    const options = { ...base, maxStagedBytes: 2 * one + one / 2 };
    const outcomes = await stub.stage([await item({ dedup: false }), await item({ dedup: false }), await item({ dedup: false })], options);
    expect(outcomes.map((outcome) => outcome.status)).toEqual(["stored", "stored", "unavailable"]);
    expect(await stub.stateSize()).toMatchObject({ staged: 2 });
  });

  it("D1 failing before its batch commits: rows stay staged, the alarm retries, and each event is stored once", async () => {
    const { stub, options, item } = shardNamed("test-d1-down");
    await stub.stage(await Promise.all(Array.from({ length: 4 }, (_, i) => item({ id: `d1-down-${i}`, dedup: false }))), options);
    const down = new Proxy(env.DB, { get: (target, property) => (property === "batch" ? () => Promise.reject(new Error("D1 unavailable")) : Reflect.get(target, property)) });
    await runInShard(stub, async (shard) => {
      (shard as unknown as { env: Env }).env = { ...env, DB: down };
    });
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect(await stub.stateSize()).toMatchObject({ staged: 4 });
    // The failed alarm re-armed itself (5 s); D1 is back by then.
    await runInDurableObject(stub, async (shard: LedgerShard, state) => {
      (shard as unknown as { env: Env }).env = env;
      expect(await state.storage.getAlarm()).not.toBeNull();
    });
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect(await stub.stateSize()).toMatchObject({ staged: 0 });
    expect(await countRows("events", "key_id = 'key-test' AND client_id LIKE 'd1-down-%'")).toBe(4);
  });

  it("counts refusals of one client in a window on one row, flushed with its final count when the window ends", async () => {
    const { stub, options, item } = shardNamed("test-denials");
    const refusal = () => item({ status: "failure", denialKey: "anonymous|download|failure|ip-hash-1|null:null" });
    const outcomes = (await stub.stage(await Promise.all(Array.from({ length: 5 }, refusal)), options)).map(held);
    const [firstId, countedId] = [outcomes[0]!.id, outcomes[1]!.id];
    expect(outcomes.map((outcome) => outcome.id)).toEqual([firstId, countedId, countedId, countedId, countedId]);
    // Before the window ends only the first refusal is due; the counted row waits for its final count.
    expect(await stub.flush()).toBe(1);
    expect(await stub.stateSize()).toMatchObject({ staged: 1, denials: 1 });
    expect(await stub.flush(env.DB, Date.now() + options.denialWindowMs)).toBe(1);
    const { results } = await env.DB.prepare("SELECT id, denied_count FROM events WHERE id IN (?, ?) ORDER BY denied_count").bind(firstId, countedId).all();
    expect(results).toEqual([
      { id: firstId, denied_count: null },
      { id: countedId, denied_count: 4 },
    ]);
  });

  it("keeps counting on the same row across eviction, and starts a new window after the old one ends", async () => {
    const { stub, options, item } = shardNamed("test-denials-evict");
    const refusal = () => item({ status: "failure", denialKey: "anonymous|download|failure|ip-hash-2|null:null" });
    const before = (await stub.stage(await Promise.all(Array.from({ length: 3 }, refusal)), options)).map(held);
    await evictDurableObject(stub);
    const after = (await stub.stage(await Promise.all(Array.from({ length: 2 }, refusal)), options)).map(held);
    const countedId = before[1]!.id;
    expect(after.map((outcome) => outcome.id)).toEqual([countedId, countedId]);
    expect(await stub.flush(env.DB, Date.now() + options.denialWindowMs)).toBe(2);
    expect(await env.DB.prepare("SELECT denied_count FROM events WHERE id = ?").bind(countedId).first()).toEqual({ denied_count: 4 });
    // Once the window has ended, the next refusal is a row of its own again, flushed without waiting.
    await runInDurableObject(stub, async (_shard: LedgerShard, state) => {
      state.storage.sql.exec("UPDATE denials SET window_end = 0");
    });
    const [fresh] = await stub.stage([await refusal()], options);
    expect(held(fresh).id).not.toBe(countedId);
    expect(await stub.flush()).toBe(1);
    expect(await env.DB.prepare("SELECT denied_count FROM events WHERE id = ?").bind(held(fresh).id).first()).toEqual({ denied_count: null });
  });

  it("flushes rows staged before issue 10 (no ownership columns) as legacy rows", async () => {
    const { stub } = shardNamed("test-old-rows");
    const old = (await item("test-old-rows", { id: "pre-0005" })).row;
    const { key_id: _k, client_id: _c, content_hash: _h, denied_count: _d, ...before } = { ...old, id: `old-${crypto.randomUUID()}` };
    await runInShard(stub, async (shard) => {
      (shard as unknown as { sql: SqlStorage }).sql.exec("INSERT INTO staged (id, received_at, row) VALUES (?, ?, ?)", before.id, before.received_at, JSON.stringify(before));
    });
    expect(await stub.flush()).toBe(1);
    const stored = await env.DB.prepare("SELECT key_id, client_id, content_hash, denied_count FROM events WHERE id = ?").bind(before.id).first();
    expect(stored).toEqual({ key_id: "legacy", client_id: null, content_hash: null, denied_count: null });
  });

  it("keeps staged events and windows across eviction, and its alarm flushes them", async () => {
    const { stub, options, item } = shardNamed("test-evict");
    const [counted] = await stub.stage([await item({ id: "evict-1", user: "evictee" })], options);
    await evictDurableObject(stub);
    expect(await stub.stateSize()).toMatchObject({ staged: 1, windows: 1 });
    const [repeat, replay, conflict] = await stub.stage(
      [await item({ user: "evictee" }), await item({ id: "evict-1", user: "evictee" }), await item({ id: "evict-1", user: "evictee", bytes: 5 })],
      options,
    );
    expect(held(repeat).duplicate_of).toBe(counted!.id);
    expect(replay).toMatchObject({ status: "replayed", id: counted!.id });
    expect(conflict).toMatchObject({ status: "conflict", id: counted!.id });
    // Evicted again between staging and the flush: the alarm still finds both rows.
    await evictDurableObject(stub);
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect(await stub.stateSize()).toMatchObject({ staged: 0 });
    expect(await countRows("events", "client_id = 'evict-1'")).toBe(1);
    expect(await countRows("events", `id IN ('${counted!.id}', '${repeat!.id}')`)).toBe(2);
  });
});

describe("LedgerShard download limits in the staging call (regional shards)", () => {
  const guarded = async (shard: string, denialKey: string, limit: number, user = "guarded-user") => {
    const base = await item(shard, { user });
    const { row } = base;
    return { ...base, guard: { request: { subject: "ip-hash-guarded", at: row.received_at }, limit, windowMs: 3_600_000, userBudget: null, denialKey } };
  };

  it("stages an allowed download with the limit's verdict, and a refused one as denied: no dedup window, its repeats a count", async () => {
    const { stub, options } = shardNamed("test-guarded");
    const denialKey = "key-test|download|denied|ip-hash-guarded|dataset:ds-9";
    const [allowed, refused, again] = await stub.stage(
      [await guarded("test-guarded", denialKey, 1), await guarded("test-guarded", denialKey, 1, "other-user"), await guarded("test-guarded", denialKey, 1, "third-user")],
      options,
    );
    expect(allowed).toMatchObject({ status: "stored", duplicate_of: null, verdict: { deniedBy: null, rate: { allowed: true, limit: 1, remaining: 0 } } });
    // Over the limit of 1: refused by the count, with the Retry-After of the allowed attempt leaving the hour.
    expect(refused).toMatchObject({ status: "stored", verdict: { deniedBy: "count", rate: { allowed: false, remaining: 0, resetSeconds: 3600 } } });
    // The second refusal of the same client in the window is the held row that counts the rest.
    expect(again).toMatchObject({ status: "stored", verdict: { deniedBy: "count" } });
    // Two refusals: the first row, then the held one (the count waits for the window's end); one window, the allowed one's.
    expect(await stub.stateSize()).toMatchObject({ staged: 3, windows: 1, denials: 1, hits: 1 });
    await stub.flush(env.DB, Date.now() + options.denialWindowMs);
    // Read each row by its id: the three rows can share one received_at millisecond, so no ORDER BY can tell them apart.
    const stored = async (id: string) => env.DB.prepare("SELECT status, denied_count FROM events WHERE id = ?").bind(id).first();
    expect(await stored(held(allowed).id)).toEqual({ status: "success", denied_count: null });
    expect(await stored(held(refused).id)).toEqual({ status: "denied", denied_count: null });
    expect(await stored(held(again).id)).toEqual({ status: "denied", denied_count: 1 });
  });

  it("refuses by the user's byte budget decided before the call, without charging the IP's count", async () => {
    const { stub, options } = shardNamed("test-guarded-bytes");
    const base = await guarded("test-guarded-bytes", "k|download|denied|ip-hash-guarded|dataset:ds-9", 5);
    const userBudget = { allowed: false, limit: 1000, remaining: 0, resetSeconds: 60 };
    const [outcome] = await stub.stage([{ ...base, guard: { ...base.guard, userBudget } }], options);
    expect(outcome).toMatchObject({ status: "stored", verdict: { deniedBy: "bytes", budget: userBudget } });
    // The IP's count was charged (as a parallel check would have), and nothing opened a dedup window.
    expect(await stub.stateSize()).toMatchObject({ windows: 0, hits: 1 });
    await stub.flush();
    const stored = await env.DB.prepare("SELECT status, message FROM events WHERE id = ?").bind(held(outcome).id).first();
    expect(stored).toEqual({ status: "denied", message: "byte budget exceeded (DOWNLOAD_BYTES_LIMIT)" });
  });
});

function runInShard<R>(stub: DurableObjectStub<LedgerShard>, callback: (shard: LedgerShard) => Promise<R>): Promise<R> {
  return runInDurableObject(stub, (instance: LedgerShard) => callback(instance));
}
