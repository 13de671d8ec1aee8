import { env, exports } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { ADMIN_KEY, call, callJson, callWithEnv, countRows, event, expectError, keyWith, flushLedger, unique } from "../helpers";

const MB = 1024 * 1024;

/**
 * Client events and actors. Admin actions, such as the tests' own key creation with the bootstrap admin key, are ledger
 * events too (actor "bootstrap-admin") and are left out.
 */
async function storedCounts() {
  await flushLedger();
  return {
    events: await countRows("events", "action NOT LIKE 'admin.%'"),
    actors: await countRows("actors", "actor_id IS NULL OR actor_id != 'bootstrap-admin'"),
  };
}

describe("POST /v1/events", () => {
  it("stores one event and answers 201 with its id and receipt time", async () => {
    const before = Date.now();
    const { status, body } = await callJson("POST", "/v1/events", { body: event({ resource: { type: "dataset", id: unique("ds"), doi: "https://doi.org/10.1234/ABC.1", title: "Ocean" } }) });
    expect(status).toBe(201);
    expect(body.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(Date.parse(body.received_at)).toBeGreaterThanOrEqual(before - 1);
    expect(body.replayed).toBeUndefined();
    await flushLedger();
    const got = await callJson("GET", `/v1/events/${body.id}`);
    expect(got.status).toBe(200);
    expect(got.body).toMatchObject({
      id: body.id,
      received_at: body.received_at,
      occurred_at: body.received_at,
      action: "download",
      status: "success",
      resource: { type: "dataset", doi: "10.1234/abc.1", title: "Ocean" },
      actor: { id: "user-1", email: "ada@example.org", name: "Ada Lovelace", organisation: "Analytical Engines Ltd" },
      client: { ip: "203.0.113.0", user_agent: "Mozilla/5.0 test" },
      bytes: 1024,
      message: null,
      meta: null,
    });
  });

  it("keeps a client-chosen id, an occurred_at with offset, a failure status, message and meta", async () => {
    const id = unique("client-id");
    const { status, body } = await callJson("POST", "/v1/events", {
      body: { id, action: "metadata.download", status: "failure", occurred_at: "2025-06-01T12:00:00+02:00", message: "not found", meta: { format: "datacite-xml", n: 2 } },
    });
    expect(status).toBe(201);
    // The stored id is derived from (key, client id): a name-based UUID (version 5); the client's id comes back beside it.
    expect(body.client_id).toBe(id);
    expect(body.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    await flushLedger();
    const got = await callJson("GET", `/v1/events/${id}`);
    expect(got.body).toMatchObject({ occurred_at: "2025-06-01T10:00:00.000Z", status: "failure", message: "not found", meta: { format: "datacite-xml", n: 2 } });
    expect(got.body.resource).toEqual({ type: null, id: null, doi: null, title: null, file: null });
    expect(got.body.actor).toEqual({ id: null, email: null, name: null, organisation: null });
  });

  it("takes the client IP from CF-Connecting-IP and the user agent from the request when the body has none", async () => {
    const { body } = await callJson("POST", "/v1/events", {
      body: { action: "record.view" },
      headers: { "cf-connecting-ip": "198.51.100.23", "x-forwarded-for": "192.0.2.99", "user-agent": "curl/8.5.0" },
    });
    await flushLedger();
    const got = await callJson("GET", `/v1/events/${body.id}`);
    expect(got.body.client).toEqual({ ip: "198.51.100.0", user_agent: "curl/8.5.0", session_id: null, country: null });
    expect(got.body.access_method).toBe("machine");
  });

  it("believes X-Forwarded-For only when TRUST_FORWARDED_HEADERS is true", async () => {
    const headers = { "cf-connecting-ip": "198.51.100.23", "x-forwarded-for": "192.0.2.99, 10.0.0.1" };
    const trusted = await callWithEnv({ TRUST_FORWARDED_HEADERS: "true" }, "POST", "/v1/events", { body: { action: "record.view" }, headers });
    expect(trusted.status).toBe(201);
    const { id } = (await trusted.json()) as { id: string };
    await flushLedger();
    expect((await callJson("GET", `/v1/events/${id}`)).body.client.ip).toBe("192.0.2.0");
  });

  it("accepts the key in X-API-Key as well as Authorization: Bearer", async () => {
    const key = await keyWith("ingest");
    const response = await call("POST", "/v1/events", { key: null, headers: { "x-api-key": key }, body: event({ action: "record.view" }) });
    expect(response.status).toBe(201);
  });

  it("rejects invalid fields with 400 invalid_request listing every field path", async () => {
    const response = await call("POST", "/v1/events", {
      body: {
        action: "Download!",
        status: "maybe",
        bytes: -1,
        occurred_at: "2025-01-01T00:00:00",
        resource: { type: "dataset" },
        actor: { email: "not-an-email" },
        client: { ip: "300.1.2.3" },
        message: "m".repeat(2001),
        surprise: true,
      },
    });
    const error = await expectError(response, 400, "invalid_request");
    const paths = (error.details as { path: string; message: string }[]).map((problem) => problem.path);
    expect(paths).toEqual(
      expect.arrayContaining(["action", "status", "bytes", "occurred_at", "resource.id", "actor.email", "client.ip", "message", "(body)"]),
    );
    for (const problem of error.details) expect(problem.message).toEqual(expect.any(String));
  });

  it("rejects an occurred_at more than 5 minutes in the future", async () => {
    const soon = new Date(Date.now() + 60_000).toISOString();
    expect((await call("POST", "/v1/events", { body: { action: "record.view", occurred_at: soon } })).status).toBe(201);
    const later = new Date(Date.now() + 6 * 60_000).toISOString();
    const error = await expectError(await call("POST", "/v1/events", { body: { action: "record.view", occurred_at: later } }), 400, "invalid_request");
    expect(error.details).toEqual([{ path: "occurred_at", message: "must not be more than 5 minutes in the future" }]);
  });

  it("rejects meta with more than 50 keys or over 16 KB", async () => {
    const manyKeys = Object.fromEntries(Array.from({ length: 51 }, (_, index) => [`k${index}`, index]));
    const tooMany = await expectError(await call("POST", "/v1/events", { body: { action: "record.view", meta: manyKeys } }), 400, "invalid_request");
    expect(tooMany.details).toEqual([{ path: "meta", message: "at most 50 keys" }]);
    const tooBig = await expectError(await call("POST", "/v1/events", { body: { action: "record.view", meta: { blob: "x".repeat(16 * 1024) } } }), 400, "invalid_request");
    expect(tooBig.details[0].path).toBe("meta");
  });

  it("answers malformed JSON with 400 and an empty body with 400", async () => {
    await expectError(await call("POST", "/v1/events", { rawBody: '{"action": "download",' }), 400, "invalid_request");
    await expectError(await call("POST", "/v1/events", { rawBody: "" }), 400, "invalid_request");
  });

  it("answers non-JSON bodies with 415", async () => {
    await expectError(await call("POST", "/v1/events", { rawBody: "action=download", contentType: "text/plain" }), 415, "unsupported_media_type");
    await expectError(await call("POST", "/v1/events", { rawBody: JSON.stringify(event()), contentType: "application/x-ndjson" }), 415, "unsupported_media_type");
    const untyped = new Request("http://localhost/v1/events", { method: "POST", headers: { authorization: `Bearer ${ADMIN_KEY}` }, body: new Blob(["{}"]) });
    expect(untyped.headers.get("content-type")).toBeNull();
    await expectError(await exports.default.fetch(untyped), 415, "unsupported_media_type");
  });

  it("accepts application/json with a charset parameter", async () => {
    const response = await call("POST", "/v1/events", { rawBody: JSON.stringify({ action: "record.view" }), contentType: "application/json; charset=utf-8" });
    expect(response.status).toBe(201);
  });

  it("answers bodies over 1 MB with 413, with or without Content-Length", async () => {
    const big = JSON.stringify({ action: "record.view", meta: { pad: "x".repeat(MB) } });
    await expectError(await call("POST", "/v1/events", { rawBody: big }), 413, "payload_too_large");
    const stream = new Blob([big]).stream();
    await expectError(await call("POST", "/v1/events", { rawBody: stream }), 413, "payload_too_large");
  });

  it("answers 401 for a missing key, 401 for an unknown key and 403 for a key without the ingest scope", async () => {
    const missing = await expectError(await call("POST", "/v1/events", { key: null, body: event() }), 401, "unauthorized");
    expect(missing.message).toBe("API key is missing");
    const unknown = await expectError(await call("POST", "/v1/events", { key: "da_not-a-real-key", body: event() }), 401, "unauthorized");
    expect(unknown.message).toBe("Invalid API key");
    const readOnly = await keyWith("read");
    const forbidden = await expectError(await call("POST", "/v1/events", { key: readOnly, body: event() }), 403, "forbidden");
    expect(forbidden.message).toContain("ingest");
  });

  it("stores nothing on any error", async () => {
    const before = await storedCounts();
    const readOnly = await keyWith("read");
    const valid = event({ id: unique("never-stored") });
    const statuses = await Promise.all([
      call("POST", "/v1/events", { key: null, body: valid }),
      call("POST", "/v1/events", { key: "da_wrong", body: valid }),
      call("POST", "/v1/events", { key: readOnly, body: valid }),
      call("POST", "/v1/events", { body: { ...valid, status: "maybe" } }),
      call("POST", "/v1/events", { rawBody: JSON.stringify(valid).slice(0, -1) }),
      call("POST", "/v1/events", { rawBody: JSON.stringify(valid), contentType: "text/plain" }),
      call("POST", "/v1/events", { rawBody: JSON.stringify({ ...valid, meta: { pad: "x".repeat(MB) } }) }),
      call("POST", "/v1/events/batch", { body: { events: [] } }),
      call("POST", "/v1/events/batch", { body: { events: Array.from({ length: 1001 }, () => valid) } }),
      call("POST", "/v1/events/batch", { rawBody: "[" }),
      call("POST", "/v1/events/import", { rawBody: JSON.stringify(valid), contentType: "application/json" }),
      call("POST", "/v1/events/import?dry_run=maybe", { rawBody: JSON.stringify(valid), contentType: "application/x-ndjson" }),
      call("POST", "/v1/events/import", { key: await keyWith("ingest"), rawBody: JSON.stringify(valid), contentType: "application/x-ndjson" }),
    ]).then((responses) => responses.map((response) => response.status));
    expect(statuses).toEqual([401, 401, 403, 400, 400, 415, 413, 400, 400, 400, 415, 400, 403]);
    expect(await storedCounts()).toEqual(before);
  });
});

describe("idempotent replay", () => {
  it("answers a repeated id with 200 replayed:true, the stored receipt time, and stores nothing", async () => {
    const id = unique("replay");
    const first = await callJson("POST", "/v1/events", { body: event({ id, action: "record.view" }) });
    expect(first.status).toBe(201);
    const before = await storedCounts();
    const second = await callJson("POST", "/v1/events", { body: event({ id, action: "record.view" }) });
    expect(second.status).toBe(200);
    expect(second.body).toMatchObject({ id: first.body.id, client_id: id, replayed: true, received_at: first.body.received_at });
    expect(await storedCounts()).toEqual(before);
    expect((await callJson("GET", `/v1/events/${id}`)).body).toMatchObject({ id: first.body.id, client_id: id, message: null });
  });

  it("stores exactly one event when two identical requests race", async () => {
    const id = unique("race");
    const body = event({ id, action: "record.view", actor: { id: unique("racer") } });
    const responses = await Promise.all([callJson("POST", "/v1/events", { body }), callJson("POST", "/v1/events", { body })]);
    expect(responses.map((response) => response.status).sort()).toEqual([200, 201]);
    const replay = responses.find((response) => response.status === 200)!;
    const original = responses.find((response) => response.status === 201)!;
    expect(replay.body).toMatchObject({ id: original.body.id, client_id: id, replayed: true, received_at: original.body.received_at });
    await flushLedger();
    expect(await countRows("events", `client_id = '${id}'`)).toBe(1);
  });

  it("stores exactly one event when ten identical requests race", async () => {
    const id = unique("race10");
    const body = event({ id, action: "record.view" });
    const responses = await Promise.all(Array.from({ length: 10 }, () => call("POST", "/v1/events", { body })));
    const statuses = responses.map((response) => response.status);
    expect(statuses.filter((status) => status === 201)).toHaveLength(1);
    expect(statuses.filter((status) => status === 200)).toHaveLength(9);
    await flushLedger();
    expect(await countRows("events", `client_id = '${id}'`)).toBe(1);
  });
});

describe("POST /v1/events/batch", () => {
  it("stores the valid events and reports invalid ones by index", async () => {
    const resourceType = unique("batch");
    const valid = (n: number) => event({ action: "record.view", resource: { type: resourceType, id: `r${n}` } });
    const { status, body } = await callJson("POST", "/v1/events/batch", {
      body: { events: [valid(0), { action: "BAD" }, valid(2), "not an object", { ...valid(4), bytes: "many" }, valid(5)] },
    });
    expect(status).toBe(200);
    expect(body.accepted).toBe(3);
    expect(body.replayed).toBe(0);
    expect(body.ids).toHaveLength(3);
    expect(body.rejected.map((item: { index: number }) => item.index)).toEqual([1, 3, 4]);
    expect(body.rejected[0].errors).toEqual([{ path: "action", message: expect.any(String) }]);
    expect(body.rejected[1].errors[0].path).toBe("(body)");
    expect(body.rejected[2].errors).toEqual([{ path: "bytes", message: expect.any(String) }]);
    await flushLedger();
    expect(await countRows("events", `resource_type = '${resourceType}'`)).toBe(3);
    for (const [position, id] of body.ids.entries()) {
      const got = await callJson("GET", `/v1/events/${id}`);
      expect(got.body.resource.id).toBe(["r0", "r2", "r5"][position]);
    }
  });

  it("answers 200 with nothing stored when every item is invalid", async () => {
    const before = await storedCounts();
    const { status, body } = await callJson("POST", "/v1/events/batch", { body: { events: [{}, { action: 1 }] } });
    expect(status).toBe(200);
    expect(body).toMatchObject({ accepted: 0, replayed: 0, ids: [] });
    expect(body.rejected.map((item: { index: number }) => item.index)).toEqual([0, 1]);
    expect(await storedCounts()).toEqual(before);
  });

  it("counts replays of stored ids and of ids repeated within the batch", async () => {
    const stored = unique("b-stored");
    const storedId = (await callJson("POST", "/v1/events", { body: event({ id: stored, action: "record.view" }) })).body.id;
    const fresh = unique("b-fresh");
    const { body } = await callJson("POST", "/v1/events/batch", {
      body: { events: [event({ id: stored, action: "record.view" }), event({ id: fresh, action: "record.view" }), event({ id: fresh, action: "record.view" })] },
    });
    expect(body).toMatchObject({ accepted: 1, replayed: 2, rejected: [] });
    expect(body.ids[0]).toBe(storedId);
    expect(body.ids[2]).toBe(body.ids[1]);
    await flushLedger();
    expect(await countRows("events", `client_id IN ('${stored}', '${fresh}')`)).toBe(2);
  });

  it("stores a full batch of 1,000 large events that must be split into several statements", async () => {
    const resourceType = unique("big-batch");
    const events = Array.from({ length: 1000 }, (_, index) =>
      event({
        action: "record.view",
        resource: { type: resourceType, id: `r-${index}`, title: `Record ${index}` },
        actor: { id: `u-${index}`, email: `u${index}@example.org`, name: `User ${index}`, organisation: "Org" },
        message: "m".repeat(1900),
        meta: { index, pad: "p".repeat(1000) },
      }),
    );
    const payload = JSON.stringify({ events });
    expect(payload.length).toBeGreaterThan(3 * MB);
    expect(payload.length).toBeLessThan(5 * MB);
    const { status, body } = await callJson("POST", "/v1/events/batch", { rawBody: payload });
    expect(status).toBe(200);
    expect(body).toMatchObject({ accepted: 1000, replayed: 0, rejected: [] });
    expect(new Set(body.ids).size).toBe(1000);
    await flushLedger();
    expect(await countRows("events", `resource_type = '${resourceType}'`)).toBe(1000);
    expect(await countRows("actors", `actor_id LIKE 'u-%'`)).toBeGreaterThanOrEqual(1000);
  });

  it("rejects an empty batch and one of more than 1,000 events", async () => {
    const empty = await expectError(await call("POST", "/v1/events/batch", { body: { events: [] } }), 400, "invalid_request");
    expect(empty.details[0].path).toBe("events");
    const tooMany = await expectError(
      await call("POST", "/v1/events/batch", { body: { events: Array.from({ length: 1001 }, () => ({ action: "record.view" })) } }),
      400,
      "invalid_request",
    );
    expect(tooMany.details[0].path).toBe("events");
  });

  it("answers bodies over 5 MB with 413, non-JSON with 415 and malformed JSON with 400", async () => {
    const big = JSON.stringify({ events: Array.from({ length: 1000 }, () => ({ action: "record.view", meta: { pad: "x".repeat(5300) } })) });
    expect(big.length).toBeGreaterThan(5 * MB);
    await expectError(await call("POST", "/v1/events/batch", { rawBody: big }), 413, "payload_too_large");
    await expectError(await call("POST", "/v1/events/batch", { rawBody: "{}", contentType: "text/csv" }), 415, "unsupported_media_type");
    await expectError(await call("POST", "/v1/events/batch", { rawBody: '{"events": [' }), 400, "invalid_request");
  });

  it("needs the ingest scope", async () => {
    await expectError(await call("POST", "/v1/events/batch", { key: null, body: { events: [event()] } }), 401, "unauthorized");
    await expectError(await call("POST", "/v1/events/batch", { key: await keyWith("read"), body: { events: [event()] } }), 403, "forbidden");
    expect((await call("POST", "/v1/events/batch", { key: await keyWith("ingest"), body: { events: [event({ action: "record.view" })] } })).status).toBe(200);
  });
});

describe("POST /v1/events/import", () => {
  const ndjson = (resourceType: string) =>
    [
      JSON.stringify({ occurred_at: "2024-02-01T08:00:00Z", action: "download", resource: { type: resourceType, id: "a" } }),
      "",
      '{"action": "download", broken',
      JSON.stringify({ occurred_at: "2024-02-01T09:00:00Z", action: "download", resource: { type: resourceType, id: "b" }, actor: { email: "x@example.org" } }),
      JSON.stringify({ action: "UPPER" }),
    ].join("\n");

  it("validates without storing on dry_run=true, then stores, then a second import inserts nothing", async () => {
    const resourceType = unique("imp");
    const text = ndjson(resourceType);
    const options = { rawBody: text, contentType: "application/x-ndjson" };
    const dry = await callJson("POST", "/v1/events/import?dry_run=true", options);
    expect(dry.status).toBe(200);
    expect(dry.body).toEqual({
      valid: 2,
      invalid: [
        { line: 3, errors: [{ path: "(line)", message: "is not valid JSON" }] },
        { line: 5, errors: [{ path: "action", message: expect.any(String) }] },
      ],
      inserted: 0,
      replayed: 0,
    });
    await flushLedger();
    expect(await countRows("events", `resource_type = '${resourceType}'`)).toBe(0);

    const first = await callJson("POST", "/v1/events/import", options);
    expect(first.body).toMatchObject({ valid: 2, inserted: 2, replayed: 0 });
    await flushLedger();
    expect(await countRows("events", `resource_type = '${resourceType}'`)).toBe(2);

    const second = await callJson("POST", "/v1/events/import?dry_run=false", options);
    expect(second.body).toMatchObject({ valid: 2, inserted: 0, replayed: 2 });
    await flushLedger();
    expect(await countRows("events", `resource_type = '${resourceType}'`)).toBe(2);
  });

  it("imports CSV with a header row of flat columns", async () => {
    const resourceType = unique("csv");
    const csv = [
      "occurred_at,action,status,resource_type,resource_id,doi,title,email,organisation,ip,bytes,meta",
      `2024-03-01T10:00:00Z,download,success,${resourceType},r1,10.5555/x.1,"Title, with comma",a@example.org,Org,192.0.2.10,100,"{""k"":1}"`,
      `2024-03-01T11:00:00Z,download,failure,${resourceType},r2,,,,,,,`,
      `2024-03-01T12:00:00Z,download,oops,${resourceType},r3,,,,,,,`,
    ].join("\r\n");
    const { status, body } = await callJson("POST", "/v1/events/import", { rawBody: csv, contentType: "text/csv; charset=utf-8" });
    expect(status).toBe(200);
    expect(body).toMatchObject({ valid: 2, inserted: 2, replayed: 0, invalid: [{ line: 4, errors: [{ path: "status" }] }] });
    await flushLedger();
    const list = await callJson("GET", `/v1/events?resource_type=${resourceType}`);
    expect(list.body.data.map((item: any) => item.resource.id)).toEqual(["r2", "r1"]);
    expect(list.body.data[1]).toMatchObject({ resource: { doi: "10.5555/x.1", title: "Title, with comma" }, actor: { email: "a@example.org", organisation: "Org" }, client: { ip: "192.0.2.0" }, bytes: 100, meta: { k: 1 } });
  });

  it("rejects a file of more than 50,000 lines", async () => {
    const line = JSON.stringify({ action: "record.view" });
    const text = Array.from({ length: 50_001 }, () => line).join("\n");
    await expectError(await call("POST", "/v1/events/import", { rawBody: text, contentType: "application/x-ndjson" }), 413, "payload_too_large");
  });

  it("needs the admin scope and an NDJSON or CSV body", async () => {
    const options = { rawBody: JSON.stringify({ action: "record.view" }), contentType: "application/x-ndjson" };
    await expectError(await call("POST", "/v1/events/import", { ...options, key: null }), 401, "unauthorized");
    await expectError(await call("POST", "/v1/events/import", { ...options, key: await keyWith("ingest", "read") }), 403, "forbidden");
    await expectError(await call("POST", "/v1/events/import", { ...options, contentType: "application/json" }), 415, "unsupported_media_type");
    await expectError(await call("POST", "/v1/events/import", { rawBody: "a,b\n1,2", contentType: "text/csv" }), 400, "invalid_request");
  });
});

describe("GET /v1/events filters", () => {
  const tag = crypto.randomUUID().slice(0, 8);
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    const { body } = await callJson("POST", "/v1/events/batch", {
      body: {
        events: [
          {
            occurred_at: "2025-03-01T10:00:00Z",
            action: `a${tag}.download`,
            resource: { type: `rt-${tag}`, id: `r1-${tag}`, doi: `10.9999/${tag}.1`, title: `Sea ice extent ${tag}` },
            actor: { id: `u1-${tag}`, email: `one-${tag}@example.org`, organisation: `Org A ${tag}` },
            message: `${tag}: checksum ok`,
          },
          {
            occurred_at: "2025-03-02T00:00:00Z",
            action: `a${tag}.view`,
            status: "failure",
            resource: { type: `rt-${tag}`, id: `r2-${tag}`, doi: `10.9999/${tag}.2`, title: `Glacier mass balance ${tag}` },
            actor: { id: `u2-${tag}`, email: `two-${tag}@example.org`, organisation: `Org B ${tag}` },
            message: `${tag}: checksum 50%_done`,
          },
          {
            occurred_at: "2025-03-03T12:00:00Z",
            action: `a${tag}.download`,
            resource: { type: `other-${tag}`, id: `r1-${tag}`, doi: `10.9999/${tag}.1` },
            actor: { id: `u1-${tag}`, organisation: `Org A ${tag}` },
            message: `${tag}: again`,
          },
          { occurred_at: "2025-03-04T00:00:00Z", action: `a${tag}.login`, message: `${tag}: login` },
        ],
      },
    });
    expect(body.accepted).toBe(4);
    [ids.e1, ids.e2, ids.e3, ids.e4] = body.ids;
    await flushLedger();
  });

  async function found(query: Record<string, string>): Promise<string[]> {
    const { status, body } = await callJson("GET", `/v1/events?${new URLSearchParams(query)}`);
    expect(status, JSON.stringify(body)).toBe(200);
    const names = Object.fromEntries(Object.entries(ids).map(([name, id]) => [id, name]));
    return body.data.map((item: { id: string }) => names[item.id] ?? item.id);
  }

  it("filters by action, newest first", async () => {
    expect(await found({ action: `a${tag}.download` })).toEqual(["e3", "e1"]);
  });

  it("filters by status", async () => {
    expect(await found({ resource_type: `rt-${tag}`, status: "failure" })).toEqual(["e2"]);
    expect(await found({ resource_type: `rt-${tag}`, status: "success" })).toEqual(["e1"]);
  });

  it("filters by resource_type and resource_id", async () => {
    expect(await found({ resource_type: `rt-${tag}` })).toEqual(["e2", "e1"]);
    expect(await found({ resource_id: `r1-${tag}` })).toEqual(["e3", "e1"]);
    expect(await found({ resource_type: `other-${tag}`, resource_id: `r1-${tag}` })).toEqual(["e3"]);
  });

  it("filters by DOI, normalising case and resolver prefix", async () => {
    expect(await found({ doi: `https://doi.org/10.9999/${tag.toUpperCase()}.1` })).toEqual(["e3", "e1"]);
    expect(await found({ doi: `doi:10.9999/${tag}.2` })).toEqual(["e2"]);
  });

  it("filters by actor_id and by email (case-insensitive), across events of the same person", async () => {
    expect(await found({ actor_id: `u1-${tag}` })).toEqual(["e3", "e1"]);
    expect(await found({ email: `ONE-${tag}@Example.org` })).toEqual(["e3", "e1"]);
    expect(await found({ email: `two-${tag}@example.org` })).toEqual(["e2"]);
    expect(await found({ email: `nobody-${tag}@example.org` })).toEqual([]);
  });

  it("filters by organisation (exact)", async () => {
    expect(await found({ organisation: `Org B ${tag}` })).toEqual(["e2"]);
    expect(await found({ organisation: `Org ${tag}` })).toEqual([]);
  });

  it("searches q over message, resource title and organisation, case-insensitively, with LIKE wildcards escaped", async () => {
    expect(await found({ q: tag })).toEqual(["e4", "e3", "e2", "e1"]);
    expect(await found({ q: `GLACIER MASS BALANCE ${tag}` })).toEqual(["e2"]);
    expect(await found({ q: `org a ${tag}` })).toEqual(["e3", "e1"]);
    expect(await found({ q: `${tag}: checksum 50%_done` })).toEqual(["e2"]);
    expect(await found({ q: `${tag}: checksum 50__done` })).toEqual([]);
    expect(await found({ q: `${tag}: %` })).toEqual([]);
  });

  it("treats from as inclusive and to as exclusive, for dates and date-times with offsets", async () => {
    expect(await found({ q: tag, from: "2025-03-02", to: "2025-03-04" })).toEqual(["e3", "e2"]);
    expect(await found({ q: tag, from: "2025-03-01T10:00:00Z" })).toEqual(["e4", "e3", "e2", "e1"]);
    expect(await found({ q: tag, from: "2025-03-01T10:00:00.001Z" })).toEqual(["e4", "e3", "e2"]);
    expect(await found({ q: tag, from: "2025-03-01T11:00:00+01:00", to: "2025-03-01T10:00:00.001Z" })).toEqual(["e1"]);
    expect(await found({ q: tag, to: "2025-03-03T12:00:00+00:00" })).toEqual(["e2", "e1"]);
    expect(await found({ q: tag, from: "2025-03-04", to: "2025-03-04" })).toEqual([]);
  });

  it("combines filters with AND", async () => {
    expect(await found({ action: `a${tag}.download`, organisation: `Org A ${tag}`, from: "2025-03-02" })).toEqual(["e3"]);
  });

  it("rejects invalid filter values with details naming the parameter", async () => {
    for (const [name, value] of [
      ["from", "yesterday"],
      ["to", "2025-13-45"],
      ["status", "maybe"],
      ["action", "Bad Action"],
      ["doi", "not-a-doi"],
      ["email", "nope"],
      ["limit", "0"],
      ["limit", "1001"],
      ["limit", "ten"],
      ["cursor", "!!!"],
    ]) {
      const error = await expectError(await call("GET", `/v1/events?${new URLSearchParams({ [name!]: value! })}`), 400, "invalid_request");
      expect(error.details.map((problem: { path: string }) => problem.path), `${name}=${value}`).toContain(name);
    }
  });

  it("needs the read scope", async () => {
    await expectError(await call("GET", "/v1/events", { key: null }), 401, "unauthorized");
    await expectError(await call("GET", "/v1/events", { key: await keyWith("ingest") }), 403, "forbidden");
    expect((await call("GET", "/v1/events?limit=1", { key: await keyWith("read") })).status).toBe(200);
    expect((await call("GET", "/v1/events?limit=1", { key: await keyWith("catalog") })).status).toBe(403);
  });
});

describe("GET /v1/events pagination", () => {
  it("walks every page with no duplicates or gaps, also through many events at the same occurred_at", async () => {
    const resourceType = unique("pages");
    const events = Array.from({ length: 37 }, (_, index) => ({
      action: "record.view",
      occurred_at: index < 15 ? "2025-05-05T05:05:05Z" : new Date(Date.UTC(2025, 4, 1) + index * 60_000).toISOString(),
      resource: { type: resourceType, id: `r-${index}` },
      actor: { id: `reader-${index}` },
    }));
    const { body } = await callJson("POST", "/v1/events/batch", { body: { events } });
    expect(body.accepted).toBe(37);
    await flushLedger();

    const seen: { id: string; occurred_at: string }[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const query: Record<string, string> = { resource_type: resourceType, limit: "4", ...(cursor ? { cursor } : {}) };
      const page = await callJson("GET", `/v1/events?${new URLSearchParams(query)}`);
      expect(page.status).toBe(200);
      expect(page.body.data.length).toBeLessThanOrEqual(4);
      seen.push(...page.body.data);
      cursor = page.body.next_cursor;
      pages++;
    } while (cursor && pages < 50);
    expect(pages).toBe(10);
    expect(seen.map((item) => item.id).sort()).toEqual([...body.ids].sort());
    expect(new Set(seen.map((item) => item.id)).size).toBe(37);
    const order = seen.map((item) => [Date.parse(item.occurred_at), item.id] as const);
    for (let index = 1; index < order.length; index++) {
      const [previousAt, previousId] = order[index - 1]!;
      const [at, id] = order[index]!;
      expect(previousAt > at || (previousAt === at && previousId > id)).toBe(true);
    }
  });

  it("returns next_cursor null on the last page and defaults to 100 events per page", async () => {
    const resourceType = unique("default-limit");
    await callJson("POST", "/v1/events/batch", {
      body: { events: Array.from({ length: 101 }, (_, index) => ({ action: "record.view", resource: { type: resourceType, id: `r${index}` } })) },
    });
    await flushLedger();
    const first = await callJson("GET", `/v1/events?resource_type=${resourceType}`);
    expect(first.body.data).toHaveLength(100);
    expect(first.body.next_cursor).toEqual(expect.any(String));
    const last = await callJson("GET", `/v1/events?resource_type=${resourceType}&cursor=${first.body.next_cursor}`);
    expect(last.body.data).toHaveLength(1);
    expect(last.body.next_cursor).toBeNull();
  });
});

describe("GET /v1/events/{id}", () => {
  it("answers 404 for an unknown id and 400 for an over-long one", async () => {
    const missing = await expectError(await call("GET", `/v1/events/${unique("missing")}`), 404, "not_found");
    expect(missing.message).toContain("missing");
    await expectError(await call("GET", `/v1/events/${"x".repeat(129)}`), 400, "invalid_request");
  });

  it("needs the read scope", async () => {
    await expectError(await call("GET", "/v1/events/anything", { key: null }), 401, "unauthorized");
    await expectError(await call("GET", "/v1/events/anything", { key: await keyWith("ingest") }), 403, "forbidden");
  });
});

describe("GET /v1/events/recent", () => {
  it("returns events of the last minutes, newest first, filtered by action", async () => {
    const action = `recent.${crypto.randomUUID().slice(0, 8)}`;
    const ago = (minutes: number) => new Date(Date.now() - minutes * 60_000).toISOString();
    const { body } = await callJson("POST", "/v1/events/batch", {
      body: { events: [{ action, occurred_at: ago(10) }, { action, occurred_at: ago(1) }, { action, occurred_at: ago(120) }, { action: "record.view", occurred_at: ago(1) }] },
    });
    await flushLedger();
    const recent = await callJson("GET", `/v1/events/recent?action=${action}`);
    expect(recent.status).toBe(200);
    expect(recent.body).toEqual({ data: [expect.objectContaining({ id: body.ids[1] }), expect.objectContaining({ id: body.ids[0] })] });
    const wider = await callJson("GET", `/v1/events/recent?action=${action}&minutes=180&limit=2`);
    expect(wider.body.data.map((item: { id: string }) => item.id)).toEqual([body.ids[1], body.ids[0]]);
    const all = await callJson("GET", `/v1/events/recent?action=${action}&minutes=180`);
    expect(all.body.data).toHaveLength(3);
  });

  it("rejects limit over 500 and minutes out of range", async () => {
    await expectError(await call("GET", "/v1/events/recent?limit=501"), 400, "invalid_request");
    await expectError(await call("GET", "/v1/events/recent?minutes=0"), 400, "invalid_request");
    await expectError(await call("GET", "/v1/events/recent?action=NOPE"), 400, "invalid_request");
  });

  it("needs the read scope", async () => {
    await expectError(await call("GET", "/v1/events/recent", { key: null }), 401, "unauthorized");
    await expectError(await call("GET", "/v1/events/recent", { key: await keyWith("ingest") }), 403, "forbidden");
  });
});

describe("env", () => {
  it("runs against the migrated D1 binding", async () => {
    expect(await env.DB.prepare("SELECT count(*) AS n FROM d1_migrations").first("n")).toBeGreaterThan(0);
  });
});
