import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { samples, uniqueId } from "../../catalog-helpers";
import { call, callJson, callWithEnv, countRows, unique } from "../../helpers";

const BOOKMARK = /^[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{32}$/;

/** D1 with `withSession` recorded: which constraint or bookmark each request opened its session from. */
function recordingDb() {
  const opened: (string | undefined)[] = [];
  const db = new Proxy(env.DB, {
    get: (target, property) =>
      property === "withSession"
        ? (constraint?: string) => {
            opened.push(constraint);
            return target.withSession(constraint);
          }
        : Reflect.get(target, property).bind(target),
  });
  return { db, opened };
}

describe("D1 sessions: replica reads and X-D1-Bookmark", () => {
  it("opens reads anywhere (first-unconstrained), writes at the primary (first-primary), and a client's bookmark as sent", async () => {
    const { db, opened } = recordingDb();
    expect((await callWithEnv({ DB: db }, "GET", "/v1/events?limit=1")).status).toBe(200);
    expect((await callWithEnv({ DB: db }, "POST", "/v1/keys", { body: { name: unique("session"), scopes: ["read"] } })).status).toBe(201);
    const bookmark = "00000000-00000001-00000000-00000000000000000000000000000000";
    expect((await callWithEnv({ DB: db }, "GET", "/v1/keys", { headers: { "x-d1-bookmark": bookmark } })).status).toBe(200);
    expect(opened).toEqual(["first-unconstrained", "first-primary", bookmark]);
  });

  it("returns the session's bookmark on reads and on admin writes", async () => {
    const read = await call("GET", "/v1/stats?interval=day");
    expect(read.status).toBe(200);
    expect(read.headers.get("x-d1-bookmark")).toMatch(BOOKMARK);
    const write = await call("POST", "/v1/keys", { body: { name: unique("session"), scopes: ["read"] } });
    expect(write.status).toBe(201);
    expect(write.headers.get("x-d1-bookmark")).toMatch(BOOKMARK);
  });

  it("reads its own writes: a key created, then listed with the creation's bookmark, in a session that starts there", async () => {
    const name = unique("own-write");
    const created = await callJson("POST", "/v1/keys", { body: { name, scopes: ["read"] } });
    const bookmark = created.headers.get("x-d1-bookmark")!;
    const listed = await callJson("GET", "/v1/keys", { headers: { "x-d1-bookmark": bookmark } });
    expect(listed.status).toBe(200);
    expect(listed.body.data.map((key: { name: string }) => key.name)).toContain(name);
    // The read's session continues from the client's bookmark, so it answers one at least as recent (bookmarks sort as text).
    expect(listed.headers.get("x-d1-bookmark")! >= bookmark).toBe(true);
  });

  it("carries the session into core functions that take the whole environment: a catalog write answers its bookmark, and a read from it sees the record", async () => {
    const id = uniqueId("session");
    const created = await callJson("PUT", `/v1/records/${id}`, { body: { title: "Session record", schema: "datacite4", metadata: samples.datacite } });
    expect(created.status).toBe(201);
    const bookmark = created.headers.get("x-d1-bookmark");
    expect(bookmark).toMatch(BOOKMARK);
    const read = await callJson("GET", `/v1/records/${id}`, { headers: { "x-d1-bookmark": bookmark! } });
    expect(read.status).toBe(200);
    expect(read.body.title).toBe("Session record");
  });

  it("answers 400 invalid_request (not 500) for a bookmark that is not one, and stores nothing", async () => {
    const keysBefore = await countRows("api_keys");
    for (const bad of ["garbage", "", "0000000g-00000001-00000000-00000000000000000000000000000000", `${"0".repeat(8)}-${"0".repeat(8)}-${"0".repeat(8)}-${"0".repeat(33)}`, "first-primary"]) {
      const response = await callJson("POST", "/v1/keys", { body: { name: unique("bad-bookmark"), scopes: ["read"] }, headers: { "x-d1-bookmark": bad } });
      expect(response.status, bad).toBe(400);
      expect(response.body.error).toMatchObject({ code: "invalid_request", details: { header: "X-D1-Bookmark" } });
    }
    expect((await callJson("GET", "/v1/events?limit=1", { headers: { "x-d1-bookmark": "garbage" } })).status).toBe(400);
    expect(await countRows("api_keys")).toBe(keysBefore);
  });

  it("lets browsers send and read the header when CORS is on", async () => {
    const response = await callWithEnv({ CORS_ORIGINS: "https://portal.example" }, "GET", "/v1/events?limit=1", { headers: { origin: "https://portal.example" } });
    expect(response.headers.get("access-control-expose-headers")).toContain("X-D1-Bookmark");
  });

  it("is documented in the OpenAPI document: a header parameter and a response header of every /v1 operation", async () => {
    const document = (await callJson("GET", "/openapi.json", { headers: { accept: "application/json" } })).body;
    expect(document.components.parameters.D1Bookmark).toMatchObject({ name: "X-D1-Bookmark", in: "header", required: false });
    expect(document.components.headers.D1Bookmark.schema.pattern).toBe(BOOKMARK.source);
    const operations = Object.entries(document.paths as Record<string, Record<string, any>>)
      .filter(([path]) => path.startsWith("/v1/"))
      .flatMap(([path, item]) => Object.entries(item).map(([method, operation]) => ({ at: `${method} ${path}`, operation })));
    expect(operations.length).toBeGreaterThan(40);
    for (const { at, operation } of operations) {
      expect(operation.parameters, at).toContainEqual({ $ref: "#/components/parameters/D1Bookmark" });
      const success = Object.entries(operation.responses as Record<string, any>).filter(([status]) => status.startsWith("2"));
      expect(success.length, at).toBeGreaterThan(0);
      for (const [, response] of success) expect(response.headers?.["X-D1-Bookmark"], at).toEqual({ $ref: "#/components/headers/D1Bookmark" });
    }
  });
});
