import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { flatToInput, importEvents, MAX_IMPORT_LINES } from "../../../src/core/ledger/import";
import { getConfig } from "../../../src/lib/config";
import { ApiError } from "../../../src/lib/errors";
import { countRows, unique } from "../../helpers";

const config = getConfig(env);
const receivedAt = Date.parse("2026-01-01T00:00:00Z");
const run = (text: string, format: "ndjson" | "csv", dryRun = false) => importEvents(env.DB, config, text, format, { dryRun, receivedAt, keyId: "test-admin" });

describe("flatToInput", () => {
  it("nests flat columns, drops empty cells, reads bytes as a number and meta as JSON", () => {
    expect(
      flatToInput({ action: "download", resource_type: "dataset", resource_id: "r1", doi: "", email: "a@b.org", ip: "192.0.2.1", bytes: "42", meta: '{"a":1}', message: "" }),
    ).toEqual({ action: "download", resource: { type: "dataset", id: "r1" }, actor: { email: "a@b.org" }, client: { ip: "192.0.2.1" }, bytes: 42, meta: { a: 1 } });
  });

  it("keeps unknown columns and unparsable values so that validation reports them", () => {
    expect(flatToInput({ action: "download", colour: "red", bytes: "12kB", meta: "{oops" })).toEqual({ action: "download", colour: "red", bytes: "12kB", meta: "{oops" });
  });
});

describe("importEvents from NDJSON", () => {
  it("reports invalid lines by their line number, counting blank lines and CRLF", async () => {
    const type = unique("nd");
    const text = [`{"action":"download","resource":{"type":"${type}","id":"1"}}`, "", "   ", "{not json", `{"action":"download","bytes":-5}`, `{"action":"download","resource":{"type":"${type}","id":"2"}}`].join("\r\n");
    const result = await run(text, "ndjson", true);
    expect(result).toEqual({
      valid: 2,
      invalid: [
        { line: 4, errors: [{ path: "(line)", message: "is not valid JSON" }] },
        { line: 5, errors: [{ path: "bytes", message: expect.any(String) }] },
      ],
      inserted: 0,
      replayed: 0,
    });
    expect(await countRows("events", `resource_type = '${type}'`)).toBe(0);
  });

  it("stores thousands of lines, and a second import of the same file inserts nothing", async () => {
    const type = unique("bulk");
    const text = Array.from({ length: 2500 }, (_, index) =>
      JSON.stringify({ occurred_at: new Date(Date.UTC(2023, 0, 1) + index * 60_000).toISOString(), action: "download", resource: { type, id: `r${index % 10}` }, client: { ip: "192.0.2.1" } }),
    ).join("\n");
    expect(await run(text, "ndjson")).toEqual({ valid: 2500, invalid: [], inserted: 2500, replayed: 0 });
    expect(await countRows("events", `resource_type = '${type}'`)).toBe(2500);
    expect(await run(text, "ndjson")).toEqual({ valid: 2500, invalid: [], inserted: 0, replayed: 2500 });
    expect(await countRows("events", `resource_type = '${type}'`)).toBe(2500);
  });

  it("derives stable ids from line content but keeps ids the file gives", async () => {
    const type = unique("ids");
    const id = unique("given");
    const line = JSON.stringify({ action: "download", resource: { type, id: "x" } });
    const result = await run([JSON.stringify({ id, action: "download", resource: { type, id: "y" } }), line, line].join("\n"), "ndjson");
    expect(result).toMatchObject({ valid: 3, inserted: 2, replayed: 1 });
    const rows = (await env.DB.prepare("SELECT client_id, key_id FROM events WHERE resource_type = ? ORDER BY id").bind(type).all<{ client_id: string; key_id: string }>()).results;
    expect(rows).toHaveLength(2);
    expect(rows.map((row) => row.client_id)).toContain(id);
    expect(rows.find((row) => row.client_id !== id)!.client_id).toMatch(/^imp_[0-9a-f]{32}$/);
    // Ids given or derived are scoped to the importing key.
    expect(rows.map((row) => row.key_id)).toEqual(["test-admin", "test-admin"]);
  });

  it("lists a line whose id this key already stored with other content as invalid (path id) and stores nothing for it", async () => {
    const type = unique("conflict");
    const id = unique("given");
    const first = await run(JSON.stringify({ id, action: "download", resource: { type, id: "a" } }), "ndjson");
    expect(first).toMatchObject({ valid: 1, inserted: 1 });
    const second = await run(["", JSON.stringify({ id, action: "download", resource: { type, id: "b" } })].join("\n"), "ndjson");
    expect(second).toEqual({ valid: 0, invalid: [{ line: 2, errors: [{ path: "id", message: "is already stored by this key with different content" }] }], inserted: 0, replayed: 0 });
    const stored = await env.DB.prepare("SELECT resource_id FROM events WHERE resource_type = ?").bind(type).all();
    expect(stored.results).toEqual([{ resource_id: "a" }]);
  });
});

describe("importEvents from CSV", () => {
  it("reports the file line of each invalid record, across blank lines and quoted line breaks", async () => {
    const type = unique("csv");
    const text = [
      "action,resource_type,resource_id,message",
      `download,${type},1,ok`,
      "",
      `download,${type},2,"two`,
      `lines"`,
      `BAD,${type},3,x`,
      `download,${type},4,x,extra`,
      `download,${type},5,last`,
    ].join("\n");
    const result = await run(text, "csv");
    expect(result).toEqual({
      valid: 3,
      invalid: [
        { line: 6, errors: [{ path: "action", message: expect.any(String) }] },
        { line: 7, errors: [{ path: "(line)", message: "expected 4 fields but found 5" }] },
      ],
      inserted: 3,
      replayed: 0,
    });
    const messages = (await env.DB.prepare("SELECT message FROM events WHERE resource_type = ? ORDER BY resource_id").bind(type).all<{ message: string }>()).results;
    expect(messages.map((row) => row.message)).toEqual(["ok", "two\nlines", "last"]);
  });

  it("rejects unknown columns per line and a file without an action column as a whole", async () => {
    const result = await run("action,colour\ndownload,red\n", "csv", true);
    expect(result.invalid).toEqual([{ line: 2, errors: [{ path: "(body)", message: expect.stringContaining("colour") }] }]);
    for (const text of ["", "resource_type,resource_id\ndataset,1\n"]) {
      await expect(run(text, "csv", true)).rejects.toMatchObject({ code: "invalid_request", details: [{ path: "header" }] });
    }
  });

  it("stores nothing on a dry run and is idempotent on re-import", async () => {
    const type = unique("csv-twice");
    const text = `occurred_at,action,resource_type,resource_id,ip\n2024-01-01T00:00:00Z,download,${type},1,192.0.2.1\n2024-01-01T00:01:00Z,download,${type},2,192.0.2.1\n`;
    expect(await run(text, "csv", true)).toMatchObject({ valid: 2, inserted: 0 });
    expect(await countRows("events", `resource_type = '${type}'`)).toBe(0);
    expect(await run(text, "csv")).toMatchObject({ valid: 2, inserted: 2, replayed: 0 });
    expect(await run(text, "csv")).toMatchObject({ valid: 2, inserted: 0, replayed: 2 });
    expect(await countRows("events", `resource_type = '${type}'`)).toBe(2);
  });
});

describe("the line limit", () => {
  it("accepts exactly 50,000 lines and rejects 50,001 before storing anything", async () => {
    const line = JSON.stringify({ action: "limit.check" });
    const atLimit = Array.from({ length: MAX_IMPORT_LINES }, () => line).join("\n");
    expect((await run(atLimit, "ndjson", true)).valid).toBe(MAX_IMPORT_LINES);
    const before = await countRows("events");
    const error = await run(`${atLimit}\n${line}`, "ndjson").catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ code: "payload_too_large" });
    expect(await countRows("events")).toBe(before);
    const csv = ["action", ...Array.from({ length: MAX_IMPORT_LINES + 1 }, () => "limit.check")].join("\n");
    await expect(run(csv, "csv", true)).rejects.toMatchObject({ code: "payload_too_large" });
  });
});
