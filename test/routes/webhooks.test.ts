import { env } from "cloudflare:workers";
import { beforeEach, describe, expect, it } from "vitest";
import { call, callJson, callWithEnv, expectError, keyWith } from "../helpers";

const create = (body: unknown, key?: string) => callJson("POST", "/v1/webhooks", { body, key });

describe("/v1/webhooks", () => {
  beforeEach(async () => {
    await env.DB.prepare("DELETE FROM webhooks").run();
  });

  it("creates an endpoint with a whsec_ secret shown once, lists it without the secret, deletes it", async () => {
    const created = await create({ url: "https://hooks.example.com/audit", event_types: ["alert.opened", "maintenance.failed", "alert.opened"], description: "ops" });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ url: "https://hooks.example.com/audit", event_types: ["alert.opened", "maintenance.failed"], description: "ops" });
    expect(created.body.id).toMatch(/^wh_[0-9a-f]{32}$/);
    expect(created.body.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    const listed = await callJson("GET", "/v1/webhooks");
    expect(listed.body.data).toEqual([{ id: created.body.id, url: "https://hooks.example.com/audit", event_types: ["alert.opened", "maintenance.failed"], description: "ops", created_at: created.body.created_at }]);
    expect(JSON.stringify(listed.body)).not.toContain("whsec_");
    expect(await env.DB.prepare("SELECT * FROM webhooks").all().then((result) => JSON.stringify(result.results))).not.toContain("whsec_");
    expect((await callJson("GET", `/v1/webhooks/${created.body.id}/deliveries`)).body).toEqual({ data: [] });

    expect((await callJson("DELETE", `/v1/webhooks/${created.body.id}`)).status).toBe(200);
    expect((await callJson("GET", "/v1/webhooks")).body.data).toEqual([]);
    await expectError(await call("DELETE", `/v1/webhooks/${created.body.id}`), 404, "not_found");
    await expectError(await call("GET", `/v1/webhooks/${created.body.id}/deliveries`), 404, "not_found");
  });

  it("SSRF: refuses http, loopback, private, link-local and metadata URLs with 400 and stores nothing", async () => {
    for (const url of [
      "http://hooks.example.com/audit",
      "https://127.0.0.1/hook",
      "https://localhost/hook",
      "https://10.1.2.3/hook",
      "https://169.254.169.254/latest/meta-data",
      "https://[::1]/hook",
      "https://[fd00::1]/hook",
      "https://2130706433/hook",
      "https://metadata.internal/hook",
    ]) {
      const response = await call("POST", "/v1/webhooks", { body: { url, event_types: ["alert.opened"] } });
      const error = await expectError(response, 400, "invalid_request");
      expect(error.details[0].path, url).toBe("url");
    }
    expect((await callJson("GET", "/v1/webhooks")).body.data).toEqual([]);
  });

  it("allows a loopback http receiver only when WEBHOOKS_ALLOW_LOCAL is set (development)", async () => {
    const local = await callWithEnv({ WEBHOOKS_ALLOW_LOCAL: "true" }, "POST", "/v1/webhooks", { body: { url: "http://127.0.0.1:8788/hook", event_types: ["alert.opened"] } });
    expect(local.status).toBe(201);
  });

  it("validates the body: unknown event types, no types, extra fields", async () => {
    const bad = await create({ url: "https://hooks.example.com/", event_types: ["alert.exploded"] });
    expect(bad.status).toBe(400);
    expect(bad.body.error.details[0].path).toBe("event_types.0");
    expect((await create({ url: "https://hooks.example.com/", event_types: [] })).status).toBe(400);
    expect((await create({ url: "https://hooks.example.com/", event_types: ["alert.opened"], secret: "mine" })).status).toBe(400);
  });

  it("needs an admin key for every webhook endpoint (401 without, 403 with read or ingest)", async () => {
    const readKey = await keyWith("read", "ingest", "catalog");
    await expectError(await call("POST", "/v1/webhooks", { key: null, body: { url: "https://hooks.example.com/", event_types: ["alert.opened"] } }), 401, "unauthorized");
    await expectError(await call("POST", "/v1/webhooks", { key: readKey, body: { url: "https://hooks.example.com/", event_types: ["alert.opened"] } }), 403, "forbidden");
    await expectError(await call("GET", "/v1/webhooks", { key: readKey }), 403, "forbidden");
    await expectError(await call("DELETE", "/v1/webhooks/wh_x", { key: readKey }), 403, "forbidden");
    await expectError(await call("GET", "/v1/webhooks/wh_x/deliveries", { key: readKey }), 403, "forbidden");
  });
});
