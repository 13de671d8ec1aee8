import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { chunkForJsonParameter, D1_LIMITS, preparedWithinLimits } from "../../src/db/limits";

const bytes = (text: string) => new TextEncoder().encode(text).length;

describe("preparedWithinLimits", () => {
  it("prepares statements at the limits", async () => {
    const params = Array.from({ length: 100 }, (_, index) => index);
    const sql = `SELECT ${params.map(() => "?").join(" + ")} AS total`;
    expect(await preparedWithinLimits(env.DB, sql, params).first("total")).toBe(4950);
  });

  it("refuses 101 bound parameters", () => {
    const params = Array.from({ length: 101 }, () => 1);
    expect(() => preparedWithinLimits(env.DB, `SELECT ${params.map(() => "?").join(", ")}`, params)).toThrow(/101 bound parameters/);
  });

  it("refuses SQL text over 100 KB, counting bytes not characters", () => {
    expect(() => preparedWithinLimits(env.DB, `SELECT '${"x".repeat(D1_LIMITS.maxStatementBytes)}'`)).toThrow(/statement of \d+ bytes/);
    expect(() => preparedWithinLimits(env.DB, `SELECT '${"é".repeat(D1_LIMITS.maxStatementBytes / 2)}'`)).toThrow(/statement of \d+ bytes/);
  });

  it("refuses a parameter over 1 MB", () => {
    expect(() => preparedWithinLimits(env.DB, "SELECT ?", ["€".repeat(D1_LIMITS.maxParameterBytes / 3 + 1)])).toThrow(/parameter over/);
  });
});

describe("chunkForJsonParameter", () => {
  it("splits by row count", () => {
    const chunks = chunkForJsonParameter(Array.from({ length: 2500 }, (_, index) => [index]));
    expect(chunks.map((chunk) => chunk.items.length)).toEqual([1000, 1000, 500]);
    expect(JSON.parse(chunks[2]!.json)).toEqual(Array.from({ length: 500 }, (_, index) => [2000 + index]));
  });

  it("splits by encoded size, keeping every chunk's JSON within the byte limit and every item exactly once", () => {
    const items = Array.from({ length: 300 }, (_, index) => ({ index, text: "ü".repeat(index * 7) }));
    const chunks = chunkForJsonParameter(items, 1000, 20_000);
    expect(chunks.length).toBeGreaterThan(5);
    for (const chunk of chunks) {
      expect(bytes(chunk.json)).toBeLessThanOrEqual(20_000);
      expect(JSON.parse(chunk.json)).toEqual(chunk.items);
    }
    expect(chunks.flatMap((chunk) => chunk.items)).toEqual(items);
  });

  it("returns no chunks for no items and refuses a single item over the limit", () => {
    expect(chunkForJsonParameter([])).toEqual([]);
    expect(() => chunkForJsonParameter(["x".repeat(200)], 10, 100)).toThrow(/one row/);
  });

  it("produces JSON that a json_each statement reads back row by row", async () => {
    const [chunk] = chunkForJsonParameter([["a", 1], ["b", null], ["c'\"", 3]]);
    const rows = await preparedWithinLimits(env.DB, "SELECT json_extract(value, '$[0]') AS k, json_extract(value, '$[1]') AS v FROM json_each(?1)", [chunk!.json]).all();
    expect(rows.results).toEqual([{ k: "a", v: 1 }, { k: "b", v: null }, { k: "c'\"", v: 3 }]);
  });
});
