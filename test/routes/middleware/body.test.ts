import { describe, expect, it } from "vitest";
import { call, callJson, countRows, expectError, unique } from "../../helpers";

describe("finding 9f: duplicate JSON keys", () => {
  it("finding 9f: refuses {\"scopes\":[\"read\"],\"scopes\":[\"admin\"]} with 400 and creates no key", async () => {
    const name = unique("dup-scopes");
    const response = await call("POST", "/v1/keys", { rawBody: `{"name":"${name}","scopes":["read"],"scopes":["admin"]}` });
    const error = await expectError(response, 400, "invalid_request");
    expect(error.details).toEqual([{ path: "scopes", message: expect.stringContaining("duplicate key") }]);
    expect(await countRows("api_keys", `name = '${name}'`)).toBe(0);
  });

  it("finding 9f: refuses duplicate keys nested anywhere in an event, storing nothing", async () => {
    const type = unique("dup");
    const response = await call("POST", "/v1/events", {
      rawBody: `{"action":"download","resource":{"type":"${type}","id":"a","id":"b"},"meta":{"x":1}}`,
    });
    const error = await expectError(response, 400, "invalid_request");
    expect(error.details[0].path).toBe("resource.id");
    const batch = await call("POST", "/v1/events/batch", { rawBody: `{"events":[{"action":"download","resource":{"type":"${type}","id":"a"},"meta":{"k":1,"k":2}}]}` });
    expect((await expectError(batch, 400, "invalid_request")).details[0].path).toBe("events.0.meta.k");
    expect(await countRows("events", `resource_type = '${type}'`)).toBe(0);
  });

  it("still answers malformed JSON with 400 invalid_request", async () => {
    await expectError(await call("POST", "/v1/keys", { rawBody: '{"name":' }), 400, "invalid_request");
  });
});

describe("finding 9g: lone surrogates in string input", () => {
  it("finding 9g: refuses an event id with a lone surrogate instead of answering it as sent and storing U+FFFD", async () => {
    const id = `${unique("lone")}-\ud800`;
    const response = await call("POST", "/v1/events", { body: { id, action: "record.view" } });
    const error = await expectError(response, 400, "invalid_request");
    expect(error.details[0].path).toBe("id");
    expect(await countRows("events", `id LIKE '${id.slice(0, -1)}%'`)).toBe(0);
  });

  it("finding 9g: refuses lone surrogates in every JSON body (key names, record titles)", async () => {
    const name = unique("lone-key");
    await expectError(await call("POST", "/v1/keys", { body: { name: `${name}\udc00`, scopes: ["read"] } }), 400, "invalid_request");
    expect(await countRows("api_keys", `name LIKE '${name}%'`)).toBe(0);
    const recordId = unique("lone-rec");
    await expectError(await call("PUT", `/v1/records/${recordId}`, { body: { title: "t\ud800", schema: "datacite4", metadata: {} } }), 400, "invalid_request");
    expect(await countRows("records", `id = '${recordId}'`)).toBe(0);
    // A well-formed pair (an emoji) is fine.
    const emoji = await callJson("POST", "/v1/events", { body: { id: `${unique("pair")}-😀`, action: "record.view" } });
    expect(emoji.status).toBe(201);
  });

  it("finding 9g: refuses lone surrogates in NDJSON import lines, line by line", async () => {
    const type = unique("lone-imp");
    const text = [`{"action":"download","resource":{"type":"${type}","id":"ok"}}`, `{"action":"download","resource":{"type":"${type}","id":"bad\\ud800"}}`, `{"action":"download","resource":{"type":"${type}","id":"dup","id":"dup2"}}`].join("\n");
    const response = await callJson("POST", "/v1/events/import", { rawBody: text, contentType: "application/x-ndjson" });
    expect(response.status).toBe(200);
    expect(response.body.valid).toBe(1);
    expect(response.body.invalid.map((line: { line: number; errors: { path: string }[] }) => [line.line, line.errors[0]!.path])).toEqual([
      [2, "resource.id"],
      [3, "resource.id"],
    ]);
    expect(await countRows("events", `resource_type = '${type}'`)).toBe(1);
  });
});
