import { createExecutionContext, runDurableObjectAlarm, runInDurableObject, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { app } from "../../../src/app";
import { actorKeyFor } from "../../../src/core/ledger/ingest";
import { ledgerStub, regionalShard, shardOf } from "../../../src/core/ledger/pipeline";
import { getConfig } from "../../../src/lib/config";
import { hmacHex } from "../../../src/lib/crypto";
import type { LedgerShard } from "../../../src/objects/ledger-shard";
import { ADMIN_KEY, callJson, countRows, event, flushLedger } from "../../helpers";

const download = (ip: string, overrides: Record<string, unknown> = {}) =>
  event({ client: { ip, user_agent: "guard-test" }, actor: { id: `u-${crypto.randomUUID()}` }, ...overrides });

async function withEnv(overrides: Record<string, string>, method: string, path: string, body?: unknown) {
  const ctx = createExecutionContext();
  const response = await app.fetch(
    new Request(`http://localhost${path}`, {
      method,
      headers: { authorization: `Bearer ${ADMIN_KEY}`, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    }),
    { ...env, ...overrides },
    ctx,
  );
  await waitOnExecutionContext(ctx);
  return response;
}

describe("per-IP download rate limit through POST /v1/events", () => {
  it("passes 100 downloads from one IP, refuses the 101st with headers, records it as denied, and leaves other IPs alone", async () => {
    const ip = "192.0.2.10";
    for (let round = 0; round < 10; round++) {
      const responses = await Promise.all(Array.from({ length: 10 }, () => callJson("POST", "/v1/events", { body: download(ip) })));
      for (const response of responses) expect(response.status).toBe(201);
    }
    const refused = await callJson("POST", "/v1/events", { body: download(ip) });
    expect(refused.status).toBe(429);
    expect(refused.body.error.code).toBe("rate_limited");
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThan(3500);
    expect(refused.headers.get("ratelimit-limit")).toBe("100");
    expect(refused.headers.get("ratelimit-remaining")).toBe("0");
    expect(Number(refused.headers.get("ratelimit-reset"))).toBeGreaterThan(0);
    const deniedId = refused.body.error.details.event_id;
    const stored = await callJson("GET", `/v1/events/${deniedId}`);
    expect(stored.body.status).toBe("denied");

    const other = await callJson("POST", "/v1/events", { body: download("192.0.2.11") });
    expect(other.status).toBe(201);
    expect(other.headers.get("ratelimit-remaining")).toBe("99");
  });

  it("does not limit actions that are not downloads", async () => {
    const ip = "192.0.2.20";
    const results = await Promise.all(
      Array.from({ length: 3 }, () => withEnv({ DOWNLOAD_RATE_LIMIT: "1" }, "POST", "/v1/events", download(ip, { action: "auth.login" }))),
    );
    expect(results.map((response) => response.status)).toEqual([201, 201, 201]);
    expect(results[0]!.headers.get("ratelimit-limit")).toBeNull();
  });

  it("takes its limit from configuration", async () => {
    const ip = "192.0.2.30";
    const first = await withEnv({ DOWNLOAD_RATE_LIMIT: "1" }, "POST", "/v1/events", download(ip));
    const second = await withEnv({ DOWNLOAD_RATE_LIMIT: "1" }, "POST", "/v1/events", download(ip));
    expect([first.status, second.status]).toEqual([201, 429]);
  });
});

describe("dedup window through the API", () => {
  it("counts one of two racing identical downloads and hides the duplicate unless asked for", async () => {
    const body = event({ actor: { id: "racing-user" }, resource: { type: "dataset", id: "race-ds" } });
    const [a, b] = await Promise.all([callJson("POST", "/v1/events", { body }), callJson("POST", "/v1/events", { body })]);
    expect([a.status, b.status]).toEqual([201, 201]);
    const marks = [a.body.duplicate_of, b.body.duplicate_of];
    expect(marks.filter((mark) => mark === null)).toHaveLength(1);
    const counted = a.body.duplicate_of === null ? a.body.id : b.body.id;
    expect(marks).toContain(counted);

    const visible = await callJson("GET", "/v1/events?resource_id=race-ds");
    expect(visible.body.data.map((row: { id: string }) => row.id)).toEqual([counted]);
    const all = await callJson("GET", "/v1/events?resource_id=race-ds&include_duplicates=true");
    expect(all.body.data).toHaveLength(2);
    expect(all.body.data.find((row: { id: string }) => row.id !== counted).duplicate_of).toBe(counted);
  });

  it("uses the actor id, then the email, then IP + user agent as the user", async () => {
    const resource = { type: "dataset", id: `who-${crypto.randomUUID()}` };
    const post = (extra: Record<string, unknown>) => callJson("POST", "/v1/events", { body: { action: "download", resource, ...extra } });
    const byEmail = await post({ actor: { email: "Same@Example.org" }, client: { ip: "198.51.100.1" } });
    const sameEmail = await post({ actor: { email: "same@example.org" }, client: { ip: "198.51.100.2" } });
    expect(sameEmail.body.duplicate_of).toBe(byEmail.body.id);
    const anonymous = await post({ client: { ip: "198.51.100.3", user_agent: "A" } });
    const otherAgent = await post({ client: { ip: "198.51.100.3", user_agent: "B" } });
    const sameAgent = await post({ client: { ip: "198.51.100.3", user_agent: "A" } });
    expect(anonymous.body.duplicate_of).toBeNull();
    expect(otherAgent.body.duplicate_of).toBeNull();
    expect(sameAgent.body.duplicate_of).toBe(anonymous.body.id);
  });
});

describe("sharding", () => {
  it("spreads keys over all shards rather than one global object", () => {
    const shards = new Set(Array.from({ length: 2000 }, (_, i) => shardOf(`user-${i}`, 32)));
    expect(shards.size).toBe(32);
  });

  it("stores every acknowledged event once staged events are flushed", async () => {
    const ids = [];
    for (let i = 0; i < 20; i++) ids.push((await callJson("POST", "/v1/events", { body: download(`203.0.113.${i}`) })).body.id);
    await flushLedger();
    expect(await countRows("events", `id IN (${ids.map((id) => `'${id}'`).join(",")})`)).toBe(20);
  });
});

describe("refusals as counts (issue 10, finding 7)", () => {
  /** Refusal rows of one client IP, oldest first, once every held count is due (windows of 1 s). */
  async function refusalRows(ip: string): Promise<{ id: string; status: string; denied_count: number | null }[]> {
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    await flushLedger();
    const ipHash = await hmacHex(getConfig(env).piiKey, `ip:${ip}`);
    const { results } = await env.DB.prepare("SELECT id, status, denied_count FROM events WHERE ip_hash = ? AND status != 'success' ORDER BY received_at, id")
      .bind(ipHash)
      .all<{ id: string; status: string; denied_count: number | null }>();
    return results;
  }

  it("finding 7: 10.7: failed signed-link attempts of one client store the first row and then one row with the count", async () => {
    const ip = `198.18.${Math.floor(Math.random() * 256)}.${1 + Math.floor(Math.random() * 254)}`;
    const answers = [];
    for (let attempt = 0; attempt < 20; attempt++)
      answers.push((await withEnvHeaders({ DENIAL_WINDOW_SECONDS: "1" }, "GET", `/d/garbage-${attempt}`, { "cf-connecting-ip": ip })).status);
    expect(answers).toEqual(Array.from({ length: 20 }, () => 403));
    const rows = await refusalRows(ip);
    // 20 refusals = the first row + one row counting the other 19.
    expect(rows.map((row) => [row.status, row.denied_count])).toEqual([
      ["failure", null],
      ["failure", 19],
    ]);
  });

  it("finding 7: 10.7: downloads over the limit are answered 429 each, stored as the first denial plus a counted row", async () => {
    const ip = `198.19.${Math.floor(Math.random() * 256)}.${1 + Math.floor(Math.random() * 254)}`;
    const settings = { DOWNLOAD_RATE_LIMIT: "2", DENIAL_WINDOW_SECONDS: "1" };
    const statuses = [];
    const deniedIds = new Set<string>();
    for (let attempt = 0; attempt < 8; attempt++) {
      const response = await withEnv(settings, "POST", "/v1/events", download(ip));
      statuses.push(response.status);
      if (response.status === 429) deniedIds.add(((await response.json()) as { error: { details: { event_id: string } } }).error.details.event_id);
    }
    expect(statuses).toEqual([201, 201, 429, 429, 429, 429, 429, 429]);
    const rows = await refusalRows(ip);
    expect(rows.map((row) => [row.status, row.denied_count])).toEqual([
      ["denied", null],
      ["denied", 5],
    ]);
    // Every 429 names the row that records it.
    expect(deniedIds).toEqual(new Set(rows.map((row) => row.id)));
  });

  it("stores refusals of events with a client id one by one (a retry must find its own row)", async () => {
    const ip = `198.18.${Math.floor(Math.random() * 256)}.${1 + Math.floor(Math.random() * 254)}`;
    const settings = { DOWNLOAD_RATE_LIMIT: "1", DENIAL_WINDOW_SECONDS: "1" };
    const statuses = [];
    for (let attempt = 0; attempt < 4; attempt++) statuses.push((await withEnv(settings, "POST", "/v1/events", download(ip, { id: `own-${crypto.randomUUID()}` }))).status);
    expect(statuses).toEqual([201, 429, 429, 429]);
    expect((await refusalRows(ip)).map((row) => row.denied_count)).toEqual([null, null, null]);
  });
});

describe("back-pressure (issue 10)", () => {
  it("with D1 down, answers 503 unavailable with Retry-After once the shard's staging is full, loses nothing, and drains when D1 is back", async () => {
    await flushLedger();
    const actorId = `u-${crypto.randomUUID()}`;
    const userKey = (await actorKeyFor(getConfig(env).piiKey, { id: actorId }))!;
    // No `request.cf` here: the request's region is the fallback, D1's primary region.
    const config = getConfig(env);
    const stub = ledgerStub(env, regionalShard(config, config.d1PrimaryRegion, userKey));
    const down = new Proxy(env.DB, {
      get: (target, property) => (property === "batch" || property === "prepare" ? () => { throw new Error("D1 is down"); } : Reflect.get(target, property)),
    });
    await runInDurableObject(stub, (shard: LedgerShard) => void ((shard as unknown as { env: Env }).env = { ...env, DB: down }));
    const { staged } = await stub.stateSize();
    const settings = { LEDGER_STAGING_MAX_ROWS: String(staged + 3) };
    const resourceType = `bp-${crypto.randomUUID().slice(0, 8)}`;
    const post = () => withEnv(settings, "POST", "/v1/events", event({ action: "record.view", actor: { id: actorId }, resource: { type: resourceType, id: "r" } }));
    const accepted = [await post(), await post(), await post()];
    expect(accepted.map((response) => response.status)).toEqual([201, 201, 201]);
    // A flush attempt while D1 is down keeps every row staged.
    await runDurableObjectAlarm(stub);
    expect((await stub.stateSize()).staged).toBe(staged + 3);
    const refused = await post();
    expect(refused.status).toBe(503);
    expect(refused.headers.get("retry-after")).toBe("30");
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe("unavailable");
    // A batch says which of its events were stored and which were not (here: an invalid one is rejected, two not stored).
    const batch = await withEnv(settings, "POST", "/v1/events/batch", {
      events: [{ action: "BAD" }, ...[1, 2].map(() => event({ action: "record.view", actor: { id: actorId }, resource: { type: resourceType, id: "r" } }))],
    });
    expect(batch.status).toBe(503);
    expect(batch.headers.get("retry-after")).toBe("30");
    expect(((await batch.json()) as { error: { details: unknown } }).error.details).toEqual({ not_stored: [1, 2], stored: [] });

    await runInDurableObject(stub, (shard: LedgerShard) => void ((shard as unknown as { env: Env }).env = env));
    await flushLedger();
    expect(await countRows("events", `resource_type = '${resourceType}'`)).toBe(3);
    expect((await post()).status).toBe(201);
    expect(await countRows("events", `resource_type = '${resourceType}'`)).toBe(4);
  });
});

/** Like withEnv, without a key and with extra request headers (downloads through signed links). */
async function withEnvHeaders(overrides: Record<string, string>, method: string, path: string, headers: Record<string, string>) {
  const ctx = createExecutionContext();
  const response = await app.fetch(new Request(`http://localhost${path}`, { method, headers }), { ...env, ...overrides }, ctx);
  await waitOnExecutionContext(ctx);
  return response;
}
