import { evictDurableObject, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { LedgerShard } from "../../src/objects/ledger-shard";

const HOUR = 3_600_000;
/** Byte budgets of user keys live in RateLimiter objects. */
const limiter = (name: string) => env.RATE_LIMITER.getByName(name);
/** Download counts (and byte budgets) of client IPs live in the IP's ledger shard (`guard`, and `stage` for guarded items). */
const ipShard = (name: string) => env.LEDGER_SHARD.getByName(name);

describe("download limit of client IPs (sliding-window log in the ledger shard)", () => {
  it("allows `limit` attempts in the window, refuses the next with an exact Retry-After, and frees up after the window", async () => {
    const stub = ipShard("test-log-1");
    const start = 1_700_000_000_000;
    const attempts = Array.from({ length: 101 }, (_, i) => ({ subject: "ip-a", at: start + i * 1000 }));
    const decisions = await stub.guard(attempts, 100, HOUR);
    expect(decisions.slice(0, 100).every((decision) => decision.allowed)).toBe(true);
    expect(decisions[0]).toMatchObject({ limit: 100, remaining: 99 });
    expect(decisions[99]).toMatchObject({ remaining: 0 });
    // The 101st comes 100 s after the first; the first leaves the window 3,600 s after it was made.
    expect(decisions[100]).toEqual({ allowed: false, limit: 100, remaining: 0, resetSeconds: 3500 });

    const [otherIp] = await stub.guard([{ subject: "ip-b", at: start + 100_000 }], 100, HOUR);
    expect(otherIp).toMatchObject({ allowed: true, remaining: 99 });

    const [afterFirstExpired] = await stub.guard([{ subject: "ip-a", at: start + HOUR + 1 }], 100, HOUR);
    expect(afterFirstExpired!.allowed).toBe(true);
    const [stillFull] = await stub.guard([{ subject: "ip-a", at: start + HOUR + 2 }], 100, HOUR);
    expect(stillFull!.allowed).toBe(false);
    const [afterWholeWindow] = await stub.guard([{ subject: "ip-a", at: start + 2 * HOUR + 200_000 }], 100, HOUR);
    expect(afterWholeWindow).toMatchObject({ allowed: true, remaining: 99 });
  });

  it("keeps its state across eviction (SQLite storage, not memory)", async () => {
    const stub = ipShard("test-log-evict");
    const at = Date.now();
    await stub.guard([{ subject: "ip", at }, { subject: "ip", at: at + 1 }], 2, HOUR);
    await evictDurableObject(stub);
    const [decision] = await stub.guard([{ subject: "ip", at: at + 2 }], 2, HOUR);
    expect(decision!.allowed).toBe(false);
  });

  it("purges expired state with its alarm and keeps live state", async () => {
    const stub = ipShard("test-log-purge");
    const now = Date.now();
    await stub.guard([{ subject: "quiet-ip", at: now - 2 * HOUR }], 100, HOUR);
    await stub.guard([{ subject: "busy-ip", at: now }], 100, HOUR);
    expect(await stub.stateSize()).toMatchObject({ hits: 2, byteCharges: 0 });
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect(await stub.stateSize()).toMatchObject({ hits: 1, byteCharges: 0 });
    const alarm = await runInDurableObject(stub, (_: LedgerShard, state) => state.storage.getAlarm());
    expect(alarm).not.toBeNull();
  });
});

describe("byte budgets (of client IPs in ledger shards, of user keys in RateLimiter objects)", () => {
  const budget = (amount: number) => ({ amount, limit: 1000, windowMs: HOUR });

  it("charges bytes with the count in one call, refuses what would pass the budget with the Retry-After of enough room", async () => {
    const stub = ipShard("test-bytes-log");
    const start = 1_700_000_000_000;
    const decisions = await stub.guard(
      [
        { subject: "ip-a", at: start, bytes: budget(400) },
        { subject: "ip-a", at: start + 10_000, bytes: budget(500) },
        // 900 used + 200 > 1,000: room for it comes when the 400-byte charge leaves the window, 3,600 s after `start`.
        { subject: "ip-a", at: start + 20_000, bytes: budget(200) },
        // Exactly fills the budget.
        { subject: "ip-a", at: start + 30_000, bytes: budget(100) },
        // Larger than the whole budget: never fits, told to wait a full window.
        { subject: "ip-b", at: start + 40_000, bytes: budget(2000) },
      ],
      100,
      HOUR,
    );
    expect(decisions[0]).toEqual({ allowed: true, limit: 100, remaining: 99, resetSeconds: 3600, bytes: { allowed: true, limit: 1000, remaining: 600, resetSeconds: 3600 } });
    expect(decisions[1]!.bytes).toEqual({ allowed: true, limit: 1000, remaining: 100, resetSeconds: 3590 });
    // Refused by bytes: the count is not consumed (98 attempts left, not 97).
    expect(decisions[2]).toEqual({ allowed: false, limit: 100, remaining: 98, resetSeconds: 3580, bytes: { allowed: false, limit: 1000, remaining: 100, resetSeconds: 3580 } });
    expect(decisions[3]).toMatchObject({ allowed: true, remaining: 97, bytes: { allowed: true, remaining: 0 } });
    expect(decisions[4]).toMatchObject({ allowed: false, remaining: 100, bytes: { allowed: false, remaining: 1000, resetSeconds: 3600 } });
    expect(await stub.stateSize()).toMatchObject({ hits: 3, byteCharges: 3 });

    const [afterFirstLeft] = await stub.guard([{ subject: "ip-a", at: start + HOUR + 1, bytes: budget(400) }], 100, HOUR);
    expect(afterFirstLeft).toMatchObject({ allowed: true, bytes: { allowed: true, remaining: 0 } });
  });

  it("keeps byte charges across eviction (SQLite storage, not memory)", async () => {
    const stub = limiter("test-bytes-evict");
    const at = Date.now();
    await stub.takeBytes([{ subject: "user", at, bytes: budget(1000) }]);
    await evictDurableObject(stub);
    const [decision] = await stub.takeBytes([{ subject: "user", at: at + 1, bytes: budget(1) }]);
    expect(decision).toMatchObject({ allowed: false, remaining: 0 });
  });

  it("charges no bytes to an attempt the count limit refuses", async () => {
    const stub = ipShard("test-bytes-count-first");
    const at = 1_700_000_000_000;
    const decisions = await stub.guard([{ subject: "ip", at, bytes: budget(10) }, { subject: "ip", at: at + 1, bytes: budget(10) }], 1, HOUR);
    expect(decisions.map((decision) => decision.allowed)).toEqual([true, false]);
    // The budget's own verdict would have let it through (980 left after it), but nothing was charged: one charge stored.
    expect(decisions[1]).toMatchObject({ remaining: 0, bytes: { allowed: true, remaining: 980 } });
    expect(await stub.stateSize()).toMatchObject({ hits: 1, byteCharges: 1 });
  });

  it("keeps byte budgets of user keys apart (takeBytes) and purges them with the alarm", async () => {
    const stub = limiter("test-bytes-users");
    const now = Date.now();
    const results = await stub.takeBytes([
      { subject: "user-a", at: now - 2 * HOUR, bytes: budget(900) },
      { subject: "user-a", at: now, bytes: budget(900) },
      { subject: "user-a", at: now + 1, bytes: budget(200) },
      { subject: "user-b", at: now + 2, bytes: budget(1000) },
    ]);
    expect(results.map((decision) => decision.allowed)).toEqual([true, true, false, true]);
    expect(results[2]).toEqual({ allowed: false, limit: 1000, remaining: 100, resetSeconds: 3600 });
    expect(await stub.stateSize()).toMatchObject({ byteCharges: 3 });
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect(await stub.stateSize()).toMatchObject({ byteCharges: 2 });
  });
});
