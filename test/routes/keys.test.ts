import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { sha256Hex } from "../../src/lib/crypto";
import { call, callJson, event, expectError, keyWith, unique } from "../helpers";

describe("POST /v1/keys", () => {
  it("creates a key and shows its secret exactly once; only a hash is stored", async () => {
    const name = unique("portal");
    const { status, body } = await callJson("POST", "/v1/keys", { body: { name, scopes: ["read", "ingest", "read"] } });
    expect(status).toBe(201);
    expect(body).toEqual({
      id: expect.any(String),
      name,
      prefix: body.key.slice(0, 7),
      scopes: ["read", "ingest"],
      created_at: expect.any(String),
      revoked_at: null,
      last_used_at: null,
      key: expect.stringMatching(/^da_[\w-]{32}$/),
    });
    const row = await env.DB.prepare("SELECT * FROM api_keys WHERE id = ?").bind(body.id).first<Record<string, unknown>>();
    expect(row!.secret_hash).toBe(await sha256Hex(body.key));
    expect(Object.values(row!).map(String)).not.toContain(body.key);

    const list = await callJson("GET", "/v1/keys");
    const listed = list.body.data.find((key: { id: string }) => key.id === body.id);
    expect(listed).toEqual({ ...body, key: undefined });
    expect(JSON.stringify(list.body)).not.toContain(body.key);
    expect(JSON.stringify(list.body)).not.toContain(row!.secret_hash);
  });

  it("rejects invalid names and scopes with details", async () => {
    const unknownScope = await expectError(await call("POST", "/v1/keys", { body: { name: "x", scopes: ["read", "superuser"] } }), 400, "invalid_request");
    expect(unknownScope.details.map((problem: { path: string }) => problem.path)).toEqual(["scopes.1"]);
    const empty = await expectError(await call("POST", "/v1/keys", { body: { name: "  ", scopes: [] } }), 400, "invalid_request");
    expect(empty.details.map((problem: { path: string }) => problem.path).sort()).toEqual(["name", "scopes"]);
    await expectError(await call("POST", "/v1/keys", { body: { name: "x", scopes: ["read"], secret: "mine" } }), 400, "invalid_request");
    await expectError(await call("POST", "/v1/keys", { rawBody: "name=x", contentType: "application/x-www-form-urlencoded" }), 415, "unsupported_media_type");
    await expectError(await call("POST", "/v1/keys", { rawBody: "{" }), 400, "invalid_request");
  });

  it("gives the scopes it names: ingest cannot read, read cannot ingest, admin can do both", async () => {
    const ingest = await keyWith("ingest");
    const read = await keyWith("read");
    const admin = await keyWith("admin");
    expect((await call("POST", "/v1/events", { key: ingest, body: event({ action: "record.view" }) })).status).toBe(201);
    expect((await call("GET", "/v1/events?limit=1", { key: ingest })).status).toBe(403);
    expect((await call("GET", "/v1/events?limit=1", { key: read })).status).toBe(200);
    expect((await call("POST", "/v1/events", { key: read, body: event({ action: "record.view" }) })).status).toBe(403);
    expect((await call("POST", "/v1/events", { key: admin, body: event({ action: "record.view" }) })).status).toBe(201);
    expect((await call("GET", "/v1/events?limit=1", { key: admin })).status).toBe(200);
    expect((await call("GET", "/v1/keys", { key: admin })).status).toBe(200);
  });
});

describe("DELETE /v1/keys/{id}", () => {
  it("revokes at once: the very next request with the key is 401", async () => {
    const created = await callJson("POST", "/v1/keys", { body: { name: unique("revoked"), scopes: ["read"] } });
    expect((await call("GET", "/v1/events?limit=1", { key: created.body.key })).status).toBe(200);
    const revoked = await callJson("DELETE", `/v1/keys/${created.body.id}`);
    expect(revoked.status).toBe(200);
    expect(revoked.body).toMatchObject({ id: created.body.id, revoked_at: expect.any(String) });
    expect(revoked.body.key).toBeUndefined();
    const error = await expectError(await call("GET", "/v1/events?limit=1", { key: created.body.key }), 401, "unauthorized");
    expect(error.message).toBe("Invalid API key");
    const again = await callJson("DELETE", `/v1/keys/${created.body.id}`);
    expect(again.body.revoked_at).toBe(revoked.body.revoked_at);
    const listed = (await callJson("GET", "/v1/keys")).body.data.find((key: { id: string }) => key.id === created.body.id);
    expect(listed.revoked_at).toBe(revoked.body.revoked_at);
  });

  it("answers 404 for an unknown key and 400 for an over-long id", async () => {
    await expectError(await call("DELETE", `/v1/keys/${unique("nokey")}`), 404, "not_found");
    await expectError(await call("DELETE", `/v1/keys/${"k".repeat(65)}`), 400, "invalid_request");
  });
});

describe("key endpoints", () => {
  it("need the admin scope", async () => {
    const read = await keyWith("read", "ingest", "catalog");
    for (const [method, path, body] of [
      ["GET", "/v1/keys", undefined],
      ["POST", "/v1/keys", { name: "x", scopes: ["read"] }],
      ["DELETE", "/v1/keys/some-id", undefined],
    ] as const) {
      await expectError(await call(method, path, { key: null, body }), 401, "unauthorized");
      await expectError(await call(method, path, { key: "da_unknown", body }), 401, "unauthorized");
      await expectError(await call(method, path, { key: read, body }), 403, "forbidden");
    }
  });

  it("list newest first", async () => {
    const older = await callJson("POST", "/v1/keys", { body: { name: unique("older"), scopes: ["read"] } });
    const newer = await callJson("POST", "/v1/keys", { body: { name: unique("newer"), scopes: ["read"] } });
    const ids = (await callJson("GET", "/v1/keys")).body.data.map((key: { id: string }) => key.id);
    expect(ids.indexOf(newer.body.id)).toBeLessThan(ids.indexOf(older.body.id));
  });
});

describe("last_used_at", () => {
  it("is recorded when a key is used, at most once per hour", async () => {
    const secret = await keyWith("read");
    const listed = async () => (await callJson("GET", "/v1/keys")).body.data.find((key: { prefix: string }) => secret.startsWith(key.prefix));
    expect((await listed()).last_used_at).toBeNull();
    expect((await call("GET", "/v1/actions", { key: secret })).status).toBe(200);
    const first = (await listed()).last_used_at;
    expect(first).not.toBeNull();
    expect((await call("GET", "/v1/actions", { key: secret })).status).toBe(200);
    expect((await listed()).last_used_at).toBe(first);
  });
});
