import { describe, expect, it } from "vitest";
import { isWellFormed, jsonProblem, wellFormedDeep } from "../../src/lib/json";

describe("jsonProblem", () => {
  it("accepts ordinary JSON, including equal keys in different objects and braces inside strings", () => {
    for (const text of ['{"a":1,"b":{"a":2},"c":[{"a":1},{"a":2}]}', '{"s":"{\\"a\\":1,\\"a\\":2}","t":"\\\\"}', "[]", '"x"', "1", '{"":1,"\\u0000":2}', '{"e":"\\ud83d\\ude00"}'])
      expect(jsonProblem(text), text).toBeNull();
  });

  it("finding 9f: reports a duplicate key at any depth with its path", () => {
    expect(jsonProblem('{"scopes":["read"],"scopes":["admin"]}')).toEqual({ path: "scopes", message: expect.stringContaining("duplicate key") });
    expect(jsonProblem('{"a":{"b":[1,{"c":1, "c" :2}]}}')?.path).toBe("a.b.1.c");
    // Escapes spell the same key differently: "\u0061" is "a".
    expect(jsonProblem('{"a":1,"\\u0061":2}')?.path).toBe("a");
    expect(jsonProblem('{"__proto__":1,"__proto__":2}')?.path).toBe("__proto__");
  });

  it("finding 9g: reports lone surrogates in values and keys, but not escaped pairs", () => {
    expect(jsonProblem('{"id":"\\ud800x"}')).toEqual({ path: "id", message: expect.stringContaining("lone surrogate") });
    expect(jsonProblem('{"a":["ok","\\uDC00"]}')?.path).toBe("a.1");
    expect(jsonProblem('{"\\ud800":1}')?.message).toContain("lone surrogate");
    expect(jsonProblem('{"id":"\\ud83d\\ude00"}')).toBeNull();
  });

  it("reports malformed JSON as a body problem", () => {
    expect(jsonProblem('{"a":')?.path).toBe("(body)");
    expect(jsonProblem("")?.path).toBe("(body)");
  });

  it("handles deep nesting without recursion", () => {
    const depth = 100_000;
    expect(jsonProblem(`${"[".repeat(depth)}${"]".repeat(depth)}`)).toBeNull();
    expect(jsonProblem(`${'{"a":'.repeat(1000)}{"b":1,"b":2}${"}".repeat(1000)}`)?.path).toBe(`${"a.".repeat(1000)}b`);
  });
});

describe("wellFormedDeep", () => {
  it("finds a lone surrogate in any string or key of a value", () => {
    expect(wellFormedDeep({ a: ["x", { b: "😀" }] })).toBe(true);
    expect(wellFormedDeep({ a: ["x", { b: "\ud800" }] })).toBe(false);
    expect(wellFormedDeep({ ["\udfff"]: 1 })).toBe(false);
    expect(isWellFormed("a\ud83d\ude00b")).toBe(true);
    expect(isWellFormed("a\ud83db")).toBe(false);
  });
});
