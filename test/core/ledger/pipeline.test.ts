import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { app } from "../../../src/app";
import { shardOf } from "../../../src/core/ledger/pipeline";
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
