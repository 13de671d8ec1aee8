// The app's operations as its OpenAPI document states them, and fast-check arbitraries for their inputs derived from it.
import fc from "fast-check";

export type JsonSchema = Record<string, any>;

export interface Operation {
  method: string;
  /** The path template, e.g. `/v1/records/{id}/files/{name}`. */
  path: string;
  tags: string[];
  parameters: { name: string; in: "path" | "query" | "header"; required: boolean; schema: JsonSchema }[];
  /** Media type → schema of the request body. */
  body: Record<string, JsonSchema>;
  /** Documented response statuses. */
  statuses: Set<number>;
  /** null: no key needed. Otherwise the scope the security requirement names; `optional` when an empty requirement allows no key. */
  auth: { scope: string; optional: boolean } | null;
}

/** Every operation of the document, in document order. */
export function operationsOf(doc: any): Operation[] {
  const operations: Operation[] = [];
  for (const [path, item] of Object.entries<any>(doc.paths)) {
    for (const [method, operation] of Object.entries<any>(item)) {
      const security: Record<string, string[]>[] | undefined = operation.security;
      const scope = security?.flatMap((requirement) => Object.values(requirement).flat())[0];
      operations.push({
        method: method.toUpperCase(),
        path,
        tags: operation.tags ?? [],
        parameters: (operation.parameters ?? []).map((parameter: any) => ({ ...parameter, required: Boolean(parameter.required), schema: parameter.schema ?? {} })),
        body: Object.fromEntries(Object.entries<any>(operation.requestBody?.content ?? {}).map(([type, content]) => [type, content.schema ?? {}])),
        statuses: new Set(Object.keys(operation.responses).map(Number)),
        auth: scope ? { scope, optional: security!.some((requirement) => Object.keys(requirement).length === 0) } : null,
      });
    }
  }
  return operations;
}

/** Characters that break parsers and storage: quotes, controls, separators, lone surrogates, bidi and zero-width marks, astral. */
const nastyUnit = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom(..."abcxyzABC019-_.:/ @,;=%+") },
  { weight: 2, arbitrary: fc.constantFrom('"', "'", "\\", "<", ">", "&", "\n", "\r", "\t", "\u0000", "\u007f", "{", "}", "[", "]") },
  { weight: 1, arbitrary: fc.constantFrom("\ud800", "\udfff", "\u200b", "\u202e", "\u3164", "\ufeff", "😀", "下", "é", "e\u0301", "ß", "\uff21") },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 0xffff }).map((code) => String.fromCharCode(code)) },
);

export const nastyString = (maxLength = 40) => fc.string({ unit: nastyUnit, maxLength });

const resolve = (doc: any, schema: JsonSchema): JsonSchema =>
  schema?.$ref ? resolve(doc, schema.$ref.split("/").slice(1).reduce((node: any, key: string) => node[key], doc)) : schema ?? {};

/**
 * Values shaped by `schema`. Hostile (the default): mostly within its bounds, some just outside them (lengths, ranges,
 * formats), strings partly from a hostile alphabet. `clean`: within the bounds only, so most requests pass validation and
 * reach the handler and storage.
 */
export function arbitraryFor(doc: any, input: JsonSchema, depth = 0, clean = false): fc.Arbitrary<unknown> {
  const schema = resolve(doc, input);
  const variants = schema.anyOf ?? schema.oneOf;
  if (variants) return fc.oneof(...variants.map((variant: JsonSchema) => arbitraryFor(doc, variant, depth, clean)));
  const hostile = <T>(valid: fc.Arbitrary<T>, invalid: fc.Arbitrary<unknown>, weight = 9) =>
    clean ? valid : fc.oneof({ weight, arbitrary: valid as fc.Arbitrary<unknown> }, { weight: 10 - weight, arbitrary: invalid });
  if (schema.enum) return hostile(fc.constantFrom(...schema.enum), nastyString(12));
  if (depth > 4) return fc.constant(null);
  const type = Array.isArray(schema.type) ? schema.type.find((t: string) => t !== "null") : schema.type;
  switch (type) {
    case "string":
      return stringFor(schema, clean);
    case "integer":
    case "number": {
      const min = schema.minimum ?? -1_000_000;
      const max = Math.min(schema.maximum ?? 1_000_000, min + 10_000_000);
      const inRange = type === "integer" ? fc.integer({ min: Math.max(min, Number.MIN_SAFE_INTEGER), max }) : fc.double({ min, max, noNaN: true });
      return hostile(inRange, fc.oneof(fc.constantFrom(min - 1, max + 1, 0.5, -0, 1e308, Number.MAX_SAFE_INTEGER + 2), nastyString(8)), 8);
    }
    case "boolean":
      return hostile(fc.boolean(), fc.constantFrom("true", 0, null));
    case "array": {
      const items = arbitraryFor(doc, schema.items ?? {}, depth + 1, clean);
      return fc.array(items, { minLength: schema.minItems ?? 0, maxLength: Math.min(schema.maxItems ?? 4, 4) });
    }
    case "object": {
      const properties: Record<string, fc.Arbitrary<unknown>> = Object.fromEntries(
        Object.entries<JsonSchema>(schema.properties ?? {}).map(([name, property]) => [name, arbitraryFor(doc, property, depth + 1, clean)]),
      );
      const shaped = fc.record(properties, { requiredKeys: (schema.required ?? []).filter((name: string) => name in properties) });
      const extraKey = clean ? fc.string({ minLength: 1, maxLength: 10 }) : nastyString(10);
      const extra = schema.additionalProperties === false ? fc.constant({}) : fc.dictionary(extraKey, fc.jsonValue({ maxDepth: 2 }), { maxKeys: 4 });
      return fc.tuple(shaped, extra).map(([known, more]) => ({ ...more, ...known }));
    }
    default:
      return fc.jsonValue({ maxDepth: 2 });
  }
}

/**
 * Strings matching a pattern, when fast-check can generate from it (it cannot from Unicode property classes). Only a
 * documented maxLength shortens them: filtering by an invented one never ends for a pattern of fixed, longer length
 * (a 64-character hex user key).
 */
function matching(pattern: string, maxLength: number | undefined): fc.Arbitrary<string> | undefined {
  if (pattern.includes("\\p{")) return undefined;
  try {
    const strings = fc.stringMatching(new RegExp(pattern));
    return maxLength === undefined ? strings : strings.filter((value) => value.length <= maxLength);
  } catch {
    return undefined;
  }
}

function stringFor(schema: JsonSchema, clean: boolean): fc.Arbitrary<string> {
  const max = Math.min(schema.maxLength ?? 40, 60);
  const nasty = nastyString(max);
  let shaped: fc.Arbitrary<string>;
  if (schema.format === "date-time")
    shaped = fc.date({ min: new Date("1960-01-01T00:00:00Z"), max: new Date("2040-01-01T00:00:00Z"), noInvalidDate: true }).map((date) => date.toISOString());
  else if (schema.format === "date") shaped = fc.date({ min: new Date("1960-01-01"), max: new Date("2040-01-01"), noInvalidDate: true }).map((date) => date.toISOString().slice(0, 10));
  else if (schema.format === "email") shaped = fc.emailAddress();
  else if (schema.format === "ip" || schema.format === "ipv4" || schema.format === "ipv6") shaped = fc.oneof(fc.ipV4(), fc.ipV6(), fc.constant("::ffff:203.0.113.9"));
  else if (schema.pattern) shaped = matching(schema.pattern, schema.maxLength) ?? fc.string({ minLength: schema.minLength ?? 0, maxLength: max });
  else shaped = fc.string({ minLength: schema.minLength ?? 0, maxLength: max });
  if (clean) return shaped;
  return fc.oneof({ weight: 6, arbitrary: shaped }, { weight: 3, arbitrary: nasty }, { weight: 1, arbitrary: fc.constant("x".repeat((schema.maxLength ?? 1000) + 1)) });
}

/** Raw bodies no schema produces: malformed, duplicate keys, lone-surrogate escapes, deep nesting, wrong shapes. */
export const hostileJsonText = fc.oneof(
  fc.constantFrom(
    "",
    "{",
    "null",
    "[]",
    '"text"',
    "{}",
    '{"a":1,"a":2}',
    '{"scopes":["read"],"scopes":["admin"]}',
    '{"id":"\\ud800","action":"download"}',
    '{"__proto__":{"admin":true},"constructor":{"prototype":{}}}',
    `${"[".repeat(5000)}${"]".repeat(5000)}`,
    `{"action":"download","meta":${'{"a":'.repeat(200)}1${"}".repeat(200)}}`,
  ),
  nastyString(80),
  fc.jsonValue({ maxDepth: 3 }).map((value) => JSON.stringify(value)),
);
