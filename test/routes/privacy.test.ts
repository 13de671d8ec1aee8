import { env } from "cloudflare:workers";
import { beforeEach, describe, expect, it } from "vitest";
import { sealUser } from "../../src/core/catalog/tokens";
import { runRetention } from "../../src/core/retention/retention";
import { call, callJson, expectError, flushLedger, keyWith } from "../helpers";
import { clearAll, config, problems, rowsAt, sealUntil } from "../core/integrity/fixtures";

const DAY = 86_400_000;
const NOW = Date.now();
const T = Math.floor((NOW - 2 * 3_600_000) / 1000) * 1000;
// rowsAt gives rows 0 and 2 to user-0 (user0@example.org, "User 0"), rows 1 and 3 to user-1.
const PII = ["user0@example.org", "User 0", "user-0"];

async function bundleFor(user: { id?: string; email?: string; name?: string }, id: string): Promise<void> {
  const sealed = await sealUser(config().downloadTokenSecret!, user);
  await env.DB.batch([
    env.DB.prepare(
      "INSERT INTO bundles (id, job_id, record_ids, include_files, object_key, sealed_user, created_at, expires_at) VALUES (?1, ?2, '[]', 0, ?3, ?4, ?5, ?6)",
    ).bind(id, `job-${id}`, `bundles/${id}.zip`, sealed, NOW, NOW + DAY),
    env.DB.prepare("INSERT INTO jobs (id, type, status, progress, result, created_at, updated_at) VALUES (?1, 'bundle', 'completed', 100, ?2, ?3, ?3)").bind(
      `job-${id}`,
      JSON.stringify({ url: `https://example.org/v1/downloads/${sealed}` }),
      NOW,
    ),
  ]);
}

/** Every row of every table, and every R2 object (gzip ones decompressed), as text. */
async function everythingStored(): Promise<string> {
  const { results: tables } = await env.DB.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%' AND name != 'd1_migrations'").all<{ name: string }>();
  const parts: string[] = [];
  for (const { name } of tables) parts.push(JSON.stringify((await env.DB.prepare(`SELECT * FROM "${name}"`).all()).results));
  const listing = await env.BUCKET.list();
  for (const object of listing.objects) {
    const body = await env.BUCKET.get(object.key);
    const stream = object.key.endsWith(".gz") ? body!.body.pipeThrough(new DecompressionStream("gzip")) : body!.body;
    parts.push(await new Response(stream).text());
  }
  return parts.join("\n");
}

describe("GET /v1/privacy/subject", () => {
  beforeEach(async () => {
    await clearAll();
    await rowsAt("a", [T + 1000, T + 2000, T + 3000, T + 4000]);
  });

  it("returns the person's actors row and events (JSON), by email or by actor id", async () => {
    const { status, body } = await callJson("GET", "/v1/privacy/subject?email=USER0@example.org");
    expect(status).toBe(200);
    expect(body.subject).toEqual({ email: "user0@example.org", actor_id: null });
    expect(body.actors).toEqual([{ actor_id: "user-0", email: "user0@example.org", name: "User 0", updated_at: expect.any(String) }]);
    expect(body.events.map((item: { id: string }) => item.id)).toEqual(["a-0", "a-2"]);
    expect(body.events[0].actor).toMatchObject({ id: "user-0", email: "user0@example.org", name: "User 0" });
    expect(body.erased_at).toBeNull();
    const byId = await callJson("GET", "/v1/privacy/subject?actor_id=user-1");
    expect(byId.body.events.map((item: { id: string }) => item.id)).toEqual(["a-1", "a-3"]);
  });

  it("returns CSV with format=csv: a header and one line per event", async () => {
    const response = await call("GET", "/v1/privacy/subject?actor_id=user-0&format=csv");
    expect(response.headers.get("content-type")).toContain("text/csv");
    const lines = (await response.text()).trim().split("\r\n");
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/^event_id,occurred_at,received_at,action,status,/);
    expect(lines[1]).toContain("user0@example.org");
  });

  it("needs exactly one identifier and the admin scope", async () => {
    await expectError(await call("GET", "/v1/privacy/subject"), 400, "invalid_request");
    await expectError(await call("GET", "/v1/privacy/subject?email=a@b.org&actor_id=x"), 400, "invalid_request");
    await expectError(await call("GET", "/v1/privacy/subject?email=not-an-email"), 400, "invalid_request");
    await expectError(await call("GET", "/v1/privacy/subject?actor_id=user-0", { key: await keyWith("read") }), 403, "forbidden");
    await expectError(await call("GET", "/v1/privacy/subject?actor_id=user-0", { key: null }), 401, "unauthorized");
  });
});

describe("POST /v1/privacy/erasures", () => {
  beforeEach(async () => {
    await clearAll();
    // Two rows received recently and two that occurred 200 days ago, so that retention puts some rows in an R2 archive.
    await rowsAt("a", [T + 1000, T + 2000, T + 3000, T + 4000]);
    await rowsAt("old", [T + 5000, T + 6000], NOW - 200 * DAY);
    await bundleFor({ id: "user-0", email: "user0@example.org", name: "User 0" }, "bundle-0");
    await bundleFor({ id: "user-1", email: "user1@example.org" }, "bundle-1");
    await sealUntil(T + 10_000);
    await runRetention(env, config(), { now: NOW });
  });

  it("removes the person's id, email and name everywhere, leaving statistics, exports' counts and verification unchanged", async () => {
    expect(await everythingStored()).toContain("user0@example.org");
    const statsQuery = `/v1/stats?from=${new Date(T - DAY).toISOString().slice(0, 10)}`;
    const statsBefore = (await callJson("GET", statsQuery)).body;
    expect(statsBefore.totals).toMatchObject({ events: 4, successful: 4, unique_users: 2 });
    const exportBefore = await (await call("GET", "/v1/events/export.csv")).text();

    const { status, body } = await callJson("POST", "/v1/privacy/erasures", { body: { email: "user0@example.org", reason: "Art. 17 request 42" } });
    expect(status).toBe(200);
    expect(body).toMatchObject({ already_erased: false, removed: { actors: 1, bundle_links: 1 }, event_id: expect.any(String) });
    await flushLedger();

    const stored = await everythingStored();
    for (const value of PII) expect(stored, value).not.toMatch(new RegExp(`${value}\\b`));
    // The other person's data stays.
    expect(stored).toContain("user1@example.org");
    const bundles = (await env.DB.prepare("SELECT id, sealed_user IS NULL AS erased FROM bundles ORDER BY id").all()).results;
    expect(bundles).toEqual([{ id: "bundle-0", erased: 1 }, { id: "bundle-1", erased: 0 }]);

    const exportAfter = await (await call("GET", "/v1/events/export.csv")).text();
    for (const value of PII) expect(exportAfter).not.toMatch(new RegExp(`${value}\\b`));
    // The export gains the admin.privacy.erase line; the earlier lines are the same events.
    expect(exportAfter.trim().split("\r\n").length).toBe(exportBefore.trim().split("\r\n").length + 1);
    const statsAfter = (await callJson("GET", statsQuery)).body;
    expect(statsAfter.totals).toEqual(statsBefore.totals);
    expect(await problems(0, NOW)).toEqual([]);

    const recorded = (await callJson("GET", "/v1/events?action=admin.privacy.erase")).body.data;
    expect(recorded).toEqual([expect.objectContaining({ id: body.event_id, actor: expect.objectContaining({ id: "bootstrap-admin" }), meta: expect.objectContaining({ erasure_id: body.erasure_id, reason: "Art. 17 request 42" }) })]);
    for (const value of PII) expect(JSON.stringify(recorded)).not.toMatch(new RegExp(`${value}\\b`));

    const access = await callJson("GET", "/v1/privacy/subject?email=user0@example.org");
    expect(access.body).toMatchObject({ actors: [], erased_at: expect.any(String) });
  });

  it("is idempotent: a repeat erases nothing more and answers the first erasure", async () => {
    const first = await callJson("POST", "/v1/privacy/erasures", { body: { actor_id: "user-0", reason: "request 7" } });
    const second = await callJson("POST", "/v1/privacy/erasures", { body: { actor_id: "user-0", reason: "request 7" } });
    expect(second.status).toBe(200);
    expect(second.body).toEqual({ erasure_id: first.body.erasure_id, already_erased: true, removed: { actors: 0, bundle_links: 0 }, event_id: null });
    expect((await callJson("GET", "/v1/events?action=admin.privacy.erase")).body.data).toHaveLength(1);
  });

  it("validates the request and needs the admin scope", async () => {
    await expectError(await call("POST", "/v1/privacy/erasures", { body: { reason: "x" } }), 400, "invalid_request");
    await expectError(await call("POST", "/v1/privacy/erasures", { body: { email: "user0@example.org" } }), 400, "invalid_request");
    await expectError(await call("POST", "/v1/privacy/erasures", { body: { email: "user0@example.org", actor_id: "user-0", reason: "x" } }), 400, "invalid_request");
    await expectError(await call("POST", "/v1/privacy/erasures", { key: await keyWith("read", "ingest"), body: { actor_id: "user-0", reason: "x" } }), 403, "forbidden");
    expect(await env.DB.prepare("SELECT count(*) AS n FROM actors WHERE actor_id = 'user-0'").first("n")).toBe(1);
  });
});
