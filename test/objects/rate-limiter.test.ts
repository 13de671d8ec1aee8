import { evictDurableObject, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { RateLimiter } from "../../src/objects/rate-limiter";

const HOUR = 3_600_000;
const limiter = (name: string) => env.RATE_LIMITER.getByName(name);

describe("RateLimiter sliding-window log", () => {
  it("allows `limit` attempts in the window, refuses the next with an exact Retry-After, and frees up after the window", async () => {
    const stub = limiter("test-log-1");
    const start = 1_700_000_000_000;
    const attempts = Array.from({ length: 101 }, (_, i) => ({ subject: "ip-a", at: start + i * 1000 }));
    const decisions = await stub.takeLog(attempts, 100, HOUR);
    expect(decisions.slice(0, 100).every((decision) => decision.allowed)).toBe(true);
    expect(decisions[0]).toMatchObject({ limit: 100, remaining: 99 });
    expect(decisions[99]).toMatchObject({ remaining: 0 });
    // The 101st comes 100 s after the first; the first leaves the window 3,600 s after it was made.
    expect(decisions[100]).toEqual({ allowed: false, limit: 100, remaining: 0, resetSeconds: 3500 });

    const [otherIp] = await stub.takeLog([{ subject: "ip-b", at: start + 100_000 }], 100, HOUR);
    expect(otherIp).toMatchObject({ allowed: true, remaining: 99 });

    const [afterFirstExpired] = await stub.takeLog([{ subject: "ip-a", at: start + HOUR + 1 }], 100, HOUR);
    expect(afterFirstExpired!.allowed).toBe(true);
    const [stillFull] = await stub.takeLog([{ subject: "ip-a", at: start + HOUR + 2 }], 100, HOUR);
    expect(stillFull!.allowed).toBe(false);
    const [afterWholeWindow] = await stub.takeLog([{ subject: "ip-a", at: start + 2 * HOUR + 200_000 }], 100, HOUR);
    expect(afterWholeWindow).toMatchObject({ allowed: true, remaining: 99 });
  });

  it("keeps its state across eviction (SQLite storage, not memory)", async () => {
    const stub = limiter("test-log-evict");
    const at = Date.now();
    await stub.takeLog([{ subject: "ip", at }, { subject: "ip", at: at + 1 }], 2, HOUR);
    await evictDurableObject(stub);
    const [decision] = await stub.takeLog([{ subject: "ip", at: at + 2 }], 2, HOUR);
    expect(decision!.allowed).toBe(false);
  });

  it("purges expired state with its alarm and keeps live state", async () => {
    const stub = limiter("test-log-purge");
    const now = Date.now();
    await stub.takeLog([{ subject: "quiet-ip", at: now - 2 * HOUR }], 100, HOUR);
    await stub.takeLog([{ subject: "busy-ip", at: now }], 100, HOUR);
    expect(await stub.stateSize()).toEqual({ hits: 2 });
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect(await stub.stateSize()).toEqual({ hits: 1 });
    const alarm = await runInDurableObject(stub, (_: RateLimiter, state) => state.storage.getAlarm());
    expect(alarm).not.toBeNull();
  });
});
