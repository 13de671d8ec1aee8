import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { EventInputSchema } from "../../../src/core/ledger/event-schema";
import { actorKeyFor, capText, findStored, ingestEvents, prepareEvent, storeEvents } from "../../../src/core/ledger/ingest";
import { D1_LIMITS } from "../../../src/db/limits";
import { getConfig } from "../../../src/lib/config";
import { hmacHex } from "../../../src/lib/crypto";
import { recordingD1, statementMaxima } from "../../d1-spy";
import { callJson, callWithEnv, countRows, flushLedger, unique } from "../../helpers";

const config = getConfig(env);
const request = { keyId: "test-key", receivedAt: Date.parse("2026-01-02T03:04:05Z") };
const input = (value: Record<string, unknown>) => EventInputSchema.parse(value);

describe("prepareEvent", () => {
  it("keys the actor by an HMAC of the actor id, else of the normalised email", async () => {
    const byId = await prepareEvent(input({ action: "download", actor: { id: "orcid-1", email: "A@B.org" } }), config, request);
    expect(byId.row.actor_key).toBe(await hmacHex(config.piiKey, "id:orcid-1"));
    const byEmail = await prepareEvent(input({ action: "download", actor: { email: "Ada@Example.ORG" } }), config, request);
    expect(byEmail.row.actor_key).toBe(await hmacHex(config.piiKey, "email:ada@example.org"));
    expect(byEmail.row.actor_key).toBe(await actorKeyFor(config.piiKey, { email: "ada@example.org" }));
    expect(byEmail.actor).toEqual({ actor_key: byEmail.row.actor_key, actor_id: null, email: "ada@example.org", name: null, updated_at: request.receivedAt });
  });

  it("depends on PII_KEY: another secret gives other pseudonyms", async () => {
    const event = input({ action: "download", actor: { id: "orcid-1" }, client: { ip: "192.0.2.1" } });
    const a = await prepareEvent(event, config, request);
    const b = await prepareEvent(event, { ...config, piiKey: "another-secret-key" }, request);
    expect(a.row.actor_key).not.toBe(b.row.actor_key);
    expect(a.row.ip_hash).not.toBe(b.row.ip_hash);
  });

  it("keeps no personal data in the event row and truncates the IP", async () => {
    const { row, actor } = await prepareEvent(
      input({ action: "download", actor: { email: "ada@example.org", name: "Ada Lovelace", organisation: " Engines Ltd " }, client: { ip: "203.0.113.77", user_agent: "UA" } }),
      config,
      request,
    );
    const rowText = JSON.stringify(row);
    for (const secret of ["ada@example.org", "Ada Lovelace", "203.0.113.77"]) expect(rowText).not.toContain(secret);
    expect(row).toMatchObject({ organisation: "Engines Ltd", ip_prefix: "203.0.113.0", ip_hash: await hmacHex(config.piiKey, "ip:203.0.113.77"), user_agent: "UA" });
    expect(actor).toMatchObject({ email: "ada@example.org", name: "Ada Lovelace" });
  });

  it("uses the request's IP and user agent when the event has none, and keys anonymous users by IP and user agent", async () => {
    const { row, actor } = await prepareEvent(input({ action: "download" }), config, { ...request, ip: "2001:db8:abcd:12::1", userAgent: "curl/8" });
    expect(actor).toBeNull();
    expect(row.actor_key).toBeNull();
    expect(row.ip_prefix).toBe("2001:db8:abcd::");
    expect(row.user_agent).toBe("curl/8");
    expect(row.user_key).toBe(await hmacHex(config.piiKey, "ipua:2001:db8:abcd:12::1|curl/8"));
  });

  it("defaults the id to a UUIDv7 and occurred_at to the receipt time", async () => {
    const { row } = await prepareEvent(input({ action: "download" }), config, request);
    expect(row.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7/);
    expect(row.occurred_at).toBe(request.receivedAt);
    expect(row.status).toBe("success");
    expect(row.duplicate_of).toBeNull();
  });
});

describe("personal data in D1", () => {
  it("lives only in actors; the full IP is in no column of any table", async () => {
    const email = `${unique("pii")}@example.org`;
    const ipv4 = "198.51.100.213";
    const ipv6 = "2001:db8:beef:4242:1:2:3:4";
    const first = await callJson("POST", "/v1/events", {
      body: { action: "record.view", actor: { email: email.toUpperCase(), name: "Grace Hopper", organisation: "Navy" }, client: { ip: ipv4 } },
    });
    const second = await callJson("POST", "/v1/events", { body: { action: "record.view", actor: { email }, client: { ip: ipv6 } }, headers: { "cf-connecting-ip": "192.0.2.201" } });
    const third = await callJson("POST", "/v1/events", { body: { action: "record.view" }, headers: { "cf-connecting-ip": "192.0.2.202" } });
    await flushLedger();

    const eventColumns = (await env.DB.prepare("SELECT name FROM pragma_table_info('events')").all<{ name: string }>()).results.map((column) => column.name);
    expect(eventColumns).not.toEqual(expect.arrayContaining(["email"]));
    expect(eventColumns.filter((name) => /email|name|ip$/.test(name) && name !== "ip_prefix")).toEqual([]);

    const rows = await env.DB.prepare("SELECT * FROM events WHERE id IN (?, ?, ?)").bind(first.body.id, second.body.id, third.body.id).all<Record<string, unknown>>();
    expect(rows.results.map((row) => row.ip_prefix).sort()).toEqual(["192.0.2.0", "198.51.100.0", "2001:db8:beef::"].sort());
    for (const row of rows.results) {
      expect(JSON.stringify(row)).not.toContain(email);
      expect(JSON.stringify(row)).not.toContain("Grace Hopper");
      expect(row.ip_hash).toMatch(/^[0-9a-f]{64}$/);
    }
    const actor = await env.DB.prepare("SELECT * FROM actors WHERE email = ?").bind(email).first<Record<string, unknown>>();
    expect(actor).toMatchObject({ email, name: "Grace Hopper", actor_key: rows.results[0]!.actor_key });

    const tables = (await env.DB.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%'").all<{ name: string }>()).results;
    let columnsChecked = 0;
    for (const { name: table } of tables) {
      const columns = (await env.DB.prepare(`SELECT name FROM pragma_table_info('${table}')`).all<{ name: string }>()).results;
      for (const { name: column } of columns) {
        columnsChecked++;
        for (const ip of [ipv4, ipv6, "192.0.2.201", "192.0.2.202"]) {
          const hits = await env.DB.prepare(`SELECT count(*) AS n FROM "${table}" WHERE CAST("${column}" AS TEXT) LIKE ?`).bind(`%${ip}%`).first<number>("n");
          expect(hits, `${ip} in ${table}.${column}`).toBe(0);
        }
      }
    }
    expect(columnsChecked).toBeGreaterThan(25);
  });

  it("keeps an actor's email when a later event in the same batch names the actor without it", async () => {
    const actorId = unique("merge");
    const email = `${actorId}@example.org`;
    await ingestEvents(env.DB, config, [input({ action: "x.y", actor: { id: actorId, email, name: "N" } }), input({ action: "x.y", actor: { id: actorId } })], request);
    expect(await env.DB.prepare("SELECT email, name FROM actors WHERE actor_id = ?").bind(actorId).first()).toEqual({ email, name: "N" });
    await ingestEvents(env.DB, config, [input({ action: "x.y", actor: { id: actorId, name: "New name" } })], request);
    expect(await env.DB.prepare("SELECT email, name FROM actors WHERE actor_id = ?").bind(actorId).first()).toEqual({ email, name: "New name" });
  });
});

describe("storeEvents within production D1 limits", () => {
  it("stores 1,000 large rows in several statements, none over 100 parameters, 100 KB of SQL or 1 MB per parameter", async () => {
    const resourceType = unique("limits");
    const inputs = Array.from({ length: 1000 }, (_, index) =>
      input({
        action: "download",
        resource: { type: resourceType, id: `r-${index}`, title: "t".repeat(200) },
        actor: { id: `${resourceType}-u${index}`, email: `u${index}@example.org`, name: `User ${index}` },
        client: { ip: `10.0.${index % 256}.${index % 200}`, user_agent: "Mozilla/5.0" },
        message: "m".repeat(1500),
        meta: { pad: "p".repeat(1000) },
      }),
    );
    const prepared = await Promise.all(inputs.map((event) => prepareEvent(event, config, request)));
    const naiveParameters = prepared.length * Object.keys(prepared[0]!.row).length;
    expect(naiveParameters).toBeGreaterThan(100 * D1_LIMITS.maxBoundParameters);

    const spy = recordingD1(env.DB);
    const { inserted, statements } = await storeEvents(spy.db, prepared);
    expect(inserted.size).toBe(1000);
    expect(await countRows("events", `resource_type = '${resourceType}'`)).toBe(1000);

    const inserts = spy.statements.filter((statement) => statement.sql.includes("INSERT INTO event_rows"));
    expect(inserts.length).toBeGreaterThan(2);
    expect(statements).toBe(spy.statements.length);
    const maxima = statementMaxima(spy.statements);
    expect(maxima.params).toBeLessThanOrEqual(D1_LIMITS.maxBoundParameters);
    expect(maxima.sqlBytes).toBeLessThanOrEqual(D1_LIMITS.maxStatementBytes);
    expect(maxima.paramBytes).toBeLessThanOrEqual(D1_LIMITS.maxParameterBytes);
    expect(maxima.paramBytes).toBeGreaterThan(D1_LIMITS.maxParameterBytes / 2);
  });

  it("leaves existing ids untouched and reports only new ones as inserted", async () => {
    const id = unique("existing");
    const original = await prepareEvent(input({ id, action: "x.y", message: "original" }), config, request);
    expect((await storeEvents(env.DB, [original])).inserted).toEqual(new Set([original.row.id]));
    const again = await prepareEvent(input({ id, action: "x.y", message: "changed" }), config, { keyId: "test-key", receivedAt: request.receivedAt + 1000 });
    expect(again.row.id).toBe(original.row.id);
    expect((await storeEvents(env.DB, [again])).inserted.size).toBe(0);
    expect(await env.DB.prepare("SELECT message, received_at, client_id, key_id FROM events WHERE id = ?").bind(original.row.id).first()).toEqual({
      message: "original",
      received_at: request.receivedAt,
      client_id: id,
      key_id: "test-key",
    });
  });
});

describe("ingestEvents", () => {
  it("reports replays of stored ids and of ids repeated in the same call, with the stored receipt time", async () => {
    const stored = unique("stored");
    await ingestEvents(env.DB, config, [input({ id: stored, action: "x.y" })], request);
    const fresh = unique("fresh");
    const later = { keyId: "test-key", receivedAt: request.receivedAt + 60_000 };
    const outcomes = await ingestEvents(
      env.DB,
      config,
      [input({ id: stored, action: "x.y" }), input({ id: fresh, action: "x.y" }), input({ id: fresh, action: "x.y" }), input({ id: fresh, action: "x.z" })],
      later,
    );
    const [storedId, freshId] = [outcomes[0]!.id, outcomes[1]!.id];
    expect(outcomes).toEqual([
      { status: "replayed", id: storedId, client_id: stored, received_at: request.receivedAt, duplicate_of: null },
      { status: "stored", id: freshId, client_id: fresh, received_at: later.receivedAt, duplicate_of: null },
      { status: "replayed", id: freshId, client_id: fresh, received_at: later.receivedAt, duplicate_of: null },
      { status: "conflict", id: freshId, client_id: fresh, received_at: later.receivedAt, duplicate_of: null },
    ]);
  });
});

describe("findStored", () => {
  it("looks up thousands of ids within the parameter limit", async () => {
    const ids = Array.from({ length: 2500 }, (_, index) => `${unique("find")}-${index}`);
    const known = unique("known");
    const knownId = (await ingestEvents(env.DB, config, [input({ id: known, action: "x.y" })], request))[0]!.id;
    const spy = recordingD1(env.DB);
    const found = await findStored(spy.db, [...ids, knownId]);
    expect([...found.keys()]).toEqual([knownId]);
    expect(spy.statements.length).toBeGreaterThanOrEqual(3);
    expect(statementMaxima(spy.statements).params).toBeLessThanOrEqual(D1_LIMITS.maxBoundParameters);
  });
});

describe("finding 6: IPv6 rotation and spellings around the download limit", () => {
  const limited = { DOWNLOAD_RATE_LIMIT: "1" };
  const download = (ip: string) => ({ action: "download", resource: { type: "dataset", id: unique("f6") }, actor: { id: unique("u") }, client: { ip } });
  const post = (overrides: Record<string, unknown>, body: unknown, headers: Record<string, string> = {}) =>
    callWithEnv(overrides, "POST", "/v1/events", { body, headers });

  it("finding 6: another address of the same IPv6 /64 shares the allowance of the first", async () => {
    expect((await post(limited, download("2001:db8:6:1::1"))).status).toBe(201);
    expect((await post(limited, download("2001:db8:6:1:ffff:ffff:ffff:fffe"))).status).toBe(429);
    // Another /64 is another subscriber.
    expect((await post(limited, download("2001:db8:6:2::1"))).status).toBe(201);
  });

  it("finding 6: spellings of one address share one allowance (upper case, uncompressed, IPv4-mapped)", async () => {
    expect((await post(limited, download("2001:db8:6:3::1"))).status).toBe(201);
    expect((await post(limited, download("2001:DB8:6:3:0:0:0:1"))).status).toBe(429);
    expect((await post(limited, download("203.0.113.66"))).status).toBe(201);
    expect((await post(limited, download("::ffff:203.0.113.66"))).status).toBe(429);
    // The same through the CF-Connecting-IP header.
    const anonymous = { action: "download", resource: { type: "dataset", id: unique("f6h") } };
    expect((await post(limited, anonymous, { "cf-connecting-ip": "198.51.100.66" })).status).toBe(201);
    expect((await post(limited, anonymous, { "cf-connecting-ip": "::FFFF:198.51.100.66" })).status).toBe(429);
  });

  it("finding 6: IPV6_LIMIT_PREFIX=128 limits each IPv6 address on its own", async () => {
    const perAddress = { ...limited, IPV6_LIMIT_PREFIX: "128" };
    expect((await post(perAddress, download("2001:db8:6:4::1"))).status).toBe(201);
    expect((await post(perAddress, download("2001:db8:6:4::2"))).status).toBe(201);
    expect((await post(perAddress, download("2001:db8:6:4:0::2"))).status).toBe(429);
  });

  it("finding 6: an IPV6_LIMIT_PREFIX outside 32-128 is a configuration error", async () => {
    for (const value of ["8", "129", "64.5", "wide"]) {
      const response = await post({ IPV6_LIMIT_PREFIX: value }, { action: "record.view" });
      expect(response.status, value).toBe(500);
    }
  });

  it("finding 6: stores the canonical address's prefix and the network's hash", async () => {
    const a = await prepareEvent(input({ action: "download", client: { ip: "2001:DB8:0:0:1::5" } }), config, request);
    const b = await prepareEvent(input({ action: "download", client: { ip: "2001:db8::1:0:0:9" } }), config, request);
    expect(a.row.ip_prefix).toBe("2001:db8::");
    expect(a.row.ip_hash).toBe(await hmacHex(config.piiKey, "ip:2001:db8::/64"));
    expect(b.row.ip_hash).toBe(a.row.ip_hash);
    const mapped = await prepareEvent(input({ action: "download", client: { ip: "::ffff:203.0.113.9" } }), config, request);
    expect(mapped.row.ip_prefix).toBe("203.0.113.0");
    expect(mapped.row.ip_hash).toBe(await hmacHex(config.piiKey, "ip:203.0.113.9"));
  });
});

describe("finding 7: header-derived fields are capped like body fields", () => {
  it("finding 7: stores at most 1,024 characters of a 120,000-character User-Agent header", async () => {
    const userAgent = `Mozilla/5.0 ${"A".repeat(120_000)}`;
    const response = await callJson("POST", "/v1/events", { body: { action: "record.view" }, headers: { "user-agent": userAgent } });
    expect(response.status).toBe(201);
    await flushLedger();
    const row = await env.DB.prepare("SELECT length(user_agent) AS n, user_agent FROM events WHERE id = ?1").bind(response.body.id).first<{ n: number; user_agent: string }>();
    expect(row!.n).toBe(1024);
    expect(row!.user_agent).toBe(userAgent.slice(0, 1024));
  });

  it("finding 7: does not store header text that is not an IP address", async () => {
    const response = await callJson("POST", "/v1/events", { body: { action: "record.view" }, headers: { "cf-connecting-ip": "<script>".repeat(2000) } });
    expect(response.status).toBe(201);
    await flushLedger();
    const row = await env.DB.prepare("SELECT ip_prefix, ip_hash FROM events WHERE id = ?1").bind(response.body.id).first();
    expect(row).toEqual({ ip_prefix: null, ip_hash: null });
  });

  it("capText never ends in half a surrogate pair", () => {
    expect(capText("ab😀c", 3)).toBe("ab");
    expect(capText("ab😀c", 4)).toBe("ab😀");
    expect(capText("abc", 5)).toBe("abc");
  });
});

describe("finding 9a: occurred_at before 1970", () => {
  it("finding 9a: refuses occurred_at before 1970-01-01 with 400 and accepts the epoch itself", async () => {
    const type = unique("pre70");
    const early = await callJson("POST", "/v1/events", { body: { action: "record.view", occurred_at: "1969-12-31T23:59:59Z", resource: { type, id: "a" } } });
    expect(early.status).toBe(400);
    expect(early.body.error.details[0].path).toBe("occurred_at");
    expect((await callJson("POST", "/v1/events", { body: { action: "record.view", occurred_at: "0001-01-01T00:00:00Z", resource: { type, id: "b" } } })).status).toBe(400);
    const epoch = await callJson("POST", "/v1/events", { body: { action: "record.view", occurred_at: "1970-01-01T00:00:00Z", resource: { type, id: "c" } } });
    expect(epoch.status).toBe(201);
    expect(await countRows("events", `resource_type = '${type}'`)).toBe(1);
  });
});
