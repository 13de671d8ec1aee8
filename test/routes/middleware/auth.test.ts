import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { KeyCache } from "../../../src/core/ledger/key-cache";
import { recordingD1 } from "../../d1-spy";
import { ADMIN_KEY, call, callJson, callWithEnv, expectError, keyWith } from "../../helpers";

/** A well-formed secret that no key has (`da_` and 32 base64url characters). */
const unknownKey = () => `da_${crypto.randomUUID().replace(/-/g, "")}`;

/** Calls GET /v1/actions with `key` from `ip` through a D1 binding that records statements, and other env overrides. */
async function actionsWith(key: string, ip: string, overrides: Record<string, unknown> = {}) {
  const { db, statements } = recordingD1(env.DB);
  const response = await callWithEnv({ DB: db, ...overrides }, "GET", "/v1/actions", { key, headers: { "cf-connecting-ip": ip } });
  return { response, keyReads: statements.filter((statement) => /from "api_keys"/i.test(statement.sql)).length };
}

describe("requireScope", () => {
  it("reads the key from Authorization: Bearer (any case) or X-API-Key", async () => {
    for (const headers of [{ authorization: `Bearer ${ADMIN_KEY}` }, { authorization: `bearer   ${ADMIN_KEY}` }, { "x-api-key": ADMIN_KEY }, { "x-api-key": ` ${ADMIN_KEY} ` }] as Record<string, string>[]) {
      expect((await call("GET", "/v1/actions", { key: null, headers })).status, JSON.stringify(headers)).toBe(200);
    }
  });

  it("says the key is missing for no header, an empty one or another scheme", async () => {
    for (const headers of [{}, { authorization: "Bearer " }, { authorization: `Basic ${btoa("user:pass")}` }, { "x-api-key": "  " }] as Record<string, string>[]) {
      const error = await expectError(await call("GET", "/v1/actions", { key: null, headers }), 401, "unauthorized");
      expect(error.message, JSON.stringify(headers)).toBe("API key is missing");
    }
  });

  it("says the key is invalid for a wrong one, including a near miss of the admin key", async () => {
    for (const key of [`${ADMIN_KEY}x`, ADMIN_KEY.slice(0, -1), ADMIN_KEY.toUpperCase(), "da_unknown", unknownKey()]) {
      const error = await expectError(await call("GET", "/v1/actions", { key }), 401, "unauthorized");
      expect(error.message, key).toBe("Invalid API key");
    }
  });

  it("answers 403 forbidden naming the missing scope", async () => {
    const error = await expectError(await call("GET", "/v1/actions", { key: await keyWith("ingest", "catalog") }), 403, "forbidden");
    expect(error.message).toBe("This API key lacks the 'read' scope");
  });
});

describe("key lookups without round trips", () => {
  it("serves a verified key from the isolate's cache: no D1 read after the first request", async () => {
    const key = await keyWith("read");
    const first = await actionsWith(key, "198.51.100.10");
    const second = await actionsWith(key, "198.51.100.10");
    expect(first.response.status).toBe(200);
    expect(second.response.status).toBe(200);
    expect(second.keyReads).toBe(0);
  });

  it("finding 8: a secret that cannot be a key costs no D1 read", async () => {
    for (const key of ["da_unknown", "x".repeat(5_000), `da_${"a".repeat(31)}!`]) {
      const { response, keyReads } = await actionsWith(key, "198.51.100.11");
      await expectError(response, 401, "unauthorized");
      expect(keyReads, key).toBe(0);
    }
  });

  it("finding 8: an unknown key is looked up once, then refused from the cache", async () => {
    const key = unknownKey();
    const first = await actionsWith(key, "198.51.100.12");
    const again = await actionsWith(key, "198.51.100.12");
    await expectError(first.response, 401, "unauthorized");
    await expectError(again.response, 401, "unauthorized");
    expect([first.keyReads, again.keyReads]).toEqual([1, 0]);
  });

  it("finding 8: a client presenting random keys gets two lookups a minute here, then 429s without D1", async () => {
    const limited = { AUTH_FAILURE_LIMITER: env.TIGHT_LIMITER };
    const ip = `192.0.2.${Math.floor(Math.random() * 250) + 1}`;
    const attempts = [];
    for (let i = 0; i < 5; i++) attempts.push(await actionsWith(unknownKey(), ip, limited));
    const statuses = attempts.map((attempt) => attempt.response.status);
    // A fixed one-minute window may turn between two attempts, which allows two more lookups at most.
    expect(statuses.slice(0, 2)).toEqual([401, 401]);
    expect(statuses).toContain(429);
    const refused = attempts.find((attempt) => attempt.response.status === 429)!;
    expect(refused.keyReads).toBe(0);
    expect(refused.response.headers.get("retry-after")).toBe("60");
    // Another client is unaffected.
    expect((await actionsWith(unknownKey(), "192.0.2.254", limited)).response.status).toBe(401);
  });

  it("revokes at once in this isolate, and elsewhere within KEY_CACHE_SECONDS", async () => {
    const created = await callJson("POST", "/v1/keys", { body: { name: "revocation bound", scopes: ["read"] } });
    const key = created.body.key as string;
    expect((await actionsWith(key, "198.51.100.13")).response.status).toBe(200);
    // A revocation written by another isolate (straight into D1) is not seen while this isolate's entry lives...
    await env.DB.prepare("UPDATE api_keys SET revoked_at = ? WHERE id = ?").bind(Date.now(), created.body.id).run();
    expect((await actionsWith(key, "198.51.100.13")).response.status).toBe(200);
    // ...and is seen at once with a cache time of 0, as it is everywhere after KEY_CACHE_SECONDS.
    await expectError((await actionsWith(key, "198.51.100.13", { KEY_CACHE_SECONDS: "0" })).response, 401, "unauthorized");

    const other = await callJson("POST", "/v1/keys", { body: { name: "revoked here", scopes: ["read"] } });
    expect((await actionsWith(other.body.key, "198.51.100.13")).response.status).toBe(200);
    expect((await callJson("DELETE", `/v1/keys/${other.body.id}`)).status).toBe(200);
    await expectError((await actionsWith(other.body.key, "198.51.100.13")).response, 401, "unauthorized");
  });

  it("limits requests per key with the API_KEY_LIMITER binding: 429 with Retry-After", async () => {
    const key = await keyWith("read");
    const limited = { API_KEY_LIMITER: env.TIGHT_LIMITER };
    const responses = [];
    for (let i = 0; i < 5; i++) responses.push((await actionsWith(key, "198.51.100.14", limited)).response);
    expect(responses.slice(0, 2).map((response) => response.status)).toEqual([200, 200]);
    const refused = responses.find((response) => response.status === 429);
    expect(refused).toBeDefined();
    const error = await expectError(refused!, 429, "rate_limited");
    expect(error.message).toMatch(/per-minute request limit/);
    expect(refused!.headers.get("retry-after")).toBe("60");
  });
});

describe("KeyCache", () => {
  const principal = { id: "k1", scopes: ["read" as const], lastUsedAt: null };

  it("answers until the time to live has passed, then forgets", () => {
    const cache = new KeyCache();
    cache.set("h1", principal, 1_000);
    cache.set("h2", null, 1_000);
    expect(cache.get("h1", 30_999, 30_000)).toBe(principal);
    expect(cache.get("h2", 30_999, 30_000)).toBeNull();
    expect(cache.get("h1", 31_000, 30_000)).toBeUndefined();
    expect(cache.get("h3", 1_000, 30_000)).toBeUndefined();
  });

  it("stays within its bound by dropping the oldest entry", () => {
    const cache = new KeyCache(3);
    for (const hash of ["a", "b", "c", "d"]) cache.set(hash, null, 0);
    expect(cache.size).toBe(3);
    expect(cache.get("a", 1, 60_000)).toBeUndefined();
    expect(cache.get("d", 1, 60_000)).toBeNull();
  });

  it("forgets every entry of a revoked key", () => {
    const cache = new KeyCache();
    cache.set("h1", principal, 0);
    cache.set("h2", { ...principal, id: "k2" }, 0);
    cache.forgetKey("k1");
    expect(cache.get("h1", 1, 60_000)).toBeUndefined();
    expect(cache.get("h2", 1, 60_000)?.id).toBe("k2");
  });

  it("trusts nothing with a time to live of 0", () => {
    const cache = new KeyCache();
    cache.set("h1", principal, 0);
    expect(cache.get("h1", 0, 0)).toBeUndefined();
  });
});
