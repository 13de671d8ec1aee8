/// <reference types="vite/client" />
// The security suite (`npm run test:security`): fuzzing of every operation the OpenAPI document lists, the route ×
// credential matrix derived from the same document, and the issue-10 findings, each a named regression test.
import { env, exports } from "cloudflare:workers";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bytesOf, createRecord, uploadFile } from "../test/catalog-helpers";
import { ADMIN_KEY, callJson, flushLedger, keyWith } from "../test/helpers";
import { arbitraryFor, hostileJsonText, nastyString, operationsOf, type Operation } from "./openapi";

/** Inputs per operation; the import parsers get as many again. Modest, so the suite stays within minutes on 2 cores. */
const RUNS = 30;
/** Longest any fuzzed request may take, response body included. */
const MAX_REQUEST_MS = 10_000;

const summary = { inputs: 0, slowestMs: 0, slowest: "", statuses: new Map<number, number>(), matrix: 0, routes: 0, credentials: 0 };

let doc: any;
let operations: Operation[];
const fixtures = {
  publicRecord: "sec-public",
  privateRecord: "sec-private",
  file: "data.csv",
  token: "",
  eventId: "",
  jobId: "",
  keyId: "",
};

/** Row counts of every D1 table (staged events flushed first), events split into successes and refusals/failures. */
async function tableCounts(): Promise<Record<string, number>> {
  await flushLedger();
  const { results } = await env.DB.prepare(
    "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%' AND name NOT LIKE 'd1_%'",
  ).all<{ name: string }>();
  const columns = results.map(({ name }) => `(SELECT count(*) FROM "${name}") AS "${name}"`);
  columns.push(`(SELECT count(*) FROM events WHERE status = 'success') AS "events:success"`);
  return (await env.DB.prepare(`SELECT ${columns.join(", ")}`).first<Record<string, number>>())!;
}

/**
 * What a refused request may still have stored: a download's audit trail (a failed or denied event with its dictionary
 * strings and resource, and its actor).
 */
function unexpectedWrites(operation: Operation, before: Record<string, number>, after: Record<string, number>): string[] {
  const auditTrail = operation.tags.includes("Downloads") ? new Set(["event_rows", "event_strings", "event_resources", "actors"]) : new Set<string>();
  return Object.keys(after).filter((table) => after[table] !== before[table] && !auditTrail.has(table));
}

const headerSafe = (text: string) => text.replace(/[^\x20-\x7e]/g, "");

/** Percent-encodes a path value; a lone surrogate, which has no UTF-8 form, is sent as the invalid bytes ED A0 80. */
const encodePathValue = (value: string) =>
  value
    .split(/(\p{Cs})/u)
    .map((part) => (/\p{Cs}/u.test(part) ? "%ED%A0%80" : encodeURIComponent(part)))
    .join("");

function pathOf(operation: Operation, params: Record<string, string>): string {
  // A parameter the caller does not name still gets a value: an empty segment would leave the route altogether.
  return operation.path.replace(/\{(\w+)\}/g, (_, name: string) => encodePathValue(params[name] ?? "x"));
}

interface FuzzInput {
  params: Record<string, string>;
  query: [string, string][];
  body: { type: string | null; data: string | Uint8Array } | null;
  auth: "admin" | "none" | "garbage";
  headers: Record<string, string>;
}

const asQueryValue = (value: unknown) => (typeof value === "string" ? value : JSON.stringify(value) ?? "");

/** Path values that name the fixtures, so requests reach records, files, links, events, jobs and keys that exist. */
function knownValues(name: string): string[] {
  const byName: Record<string, string[]> = {
    id: [fixtures.publicRecord, fixtures.privateRecord, fixtures.eventId, fixtures.jobId, fixtures.keyId],
    name: [fixtures.file],
    token: [fixtures.token, `${fixtures.token.slice(0, -1)}${fixtures.token.endsWith("A") ? "B" : "A"}`],
    type: ["dataset"],
  };
  return (byName[name] ?? []).filter(Boolean);
}

/** NDJSON and CSV documents for the import parsers: valid events, hostile lines, CSV quoting and ragged rows. */
function importBody(): fc.Arbitrary<{ type: string; data: string }> {
  const event = arbitraryFor(doc, { $ref: "#/components/schemas/EventInput" });
  const ndjsonLine = fc.oneof({ weight: 3, arbitrary: event.map((value) => JSON.stringify(value)) }, { weight: 2, arbitrary: hostileJsonText });
  const ndjson = fc.array(ndjsonLine, { maxLength: 8 }).map((lines) => ({ type: "application/x-ndjson", data: lines.join("\n") }));
  const columns = ["id", "occurred_at", "action", "status", "resource_type", "resource_id", "doi", "ip", "user_agent", "bytes", "meta"];
  const cell = fc.oneof(fc.constantFrom("", "download", "2026-01-01T00:00:00Z", "192.0.2.1", "{\"a\":1}", "{\"a\":1,\"a\":2}", "-1"), nastyString(20));
  const quote = (value: string) => (/[",\n\r]/.test(value) || value.length % 3 === 0 ? `"${value.replace(/"/g, '""')}"` : value);
  const csv = fc
    .tuple(fc.subarray(columns, { minLength: 1 }), fc.array(fc.array(cell, { maxLength: 12 }), { maxLength: 6 }))
    .map(([header, rows]) => ({ type: "text/csv", data: [header.join(","), ...rows.map((row) => row.map(quote).join(","))].join("\r\n") }));
  return fc.oneof(ndjson, csv);
}

function inputFor(operation: Operation): fc.Arbitrary<FuzzInput> {
  const params = fc.record(
    Object.fromEntries(
      operation.parameters
        .filter((parameter) => parameter.in === "path")
        .map((parameter) => {
          const known = knownValues(parameter.name);
          const generated = arbitraryFor(doc, parameter.schema).map(asQueryValue);
          const value = known.length > 0 ? fc.oneof({ weight: 2, arbitrary: fc.constantFrom(...known) }, { weight: 1, arbitrary: generated }) : generated;
          // "." and ".." are dot segments: the URL parser removes them, so they would address another route.
          return [parameter.name, value.filter((text) => text !== "" && text !== "." && text !== "..")];
        }),
    ),
  ) as fc.Arbitrary<Record<string, string>>;
  const queryParameters = operation.parameters.filter((parameter) => parameter.in === "query");
  const query = fc
    .tuple(...queryParameters.map((parameter) => fc.option(arbitraryFor(doc, parameter.schema).map(asQueryValue), { freq: 2 })))
    .map((values) => values.flatMap((value, index) => (value === null ? [] : [[queryParameters[index]!.name, value] as [string, string]])));
  const types = Object.keys(operation.body);
  let body: fc.Arbitrary<FuzzInput["body"]> = fc.constant(null);
  if (types.includes("application/json")) {
    const shaped = (clean: boolean) => arbitraryFor(doc, operation.body["application/json"]!, 0, clean).map((value) => JSON.stringify(value) ?? "null");
    const text = fc.oneof({ weight: 3, arbitrary: shaped(true) }, { weight: 4, arbitrary: shaped(false) }, { weight: 2, arbitrary: hostileJsonText });
    const type = fc.oneof({ weight: 9, arbitrary: fc.constant("application/json") }, { weight: 1, arbitrary: fc.constantFrom(null, "text/plain", "application/json; charset=utf-8", "application/x-ndjson") });
    body = fc.record({ type, data: text });
  } else if (types.includes("text/csv")) body = importBody();
  else if (types.includes("application/octet-stream"))
    body = fc.record({ type: fc.constantFrom("application/octet-stream", "text/csv", "not a type", `x/${"y".repeat(300)}`), data: fc.uint8Array({ maxLength: 256 }) });
  const headers = fc.record(
    {
      "user-agent": fc.oneof(nastyString(60).map(headerSafe), fc.constant("A".repeat(5_000))),
      "cf-connecting-ip": fc.oneof(fc.ipV4(), fc.ipV6(), fc.constant("::FFFF:203.0.113.7"), nastyString(20).map(headerSafe)),
      "x-forwarded-for": fc.oneof(fc.ipV4(), nastyString(30).map(headerSafe)),
      range: fc.constantFrom("bytes=0-10", "bytes=-5", "bytes=10-", "bytes=5-1", "bytes=0-1,3-4", "items=0-1", "bytes=99999999999999999999-"),
      "if-none-match": fc.constantFrom("*", '"x"', 'W/"x", "y"'),
      referer: nastyString(40).map(headerSafe),
    },
    { requiredKeys: [] },
  );
  const auth = fc.oneof({ weight: 8, arbitrary: fc.constant("admin" as const) }, { weight: 1, arbitrary: fc.constantFrom("none" as const, "garbage" as const) });
  return fc.record({ params, query, body, auth, headers });
}

function requestFor(operation: Operation, input: FuzzInput): Request {
  const url = new URL(`http://localhost${pathOf(operation, input.params)}`);
  for (const [name, value] of input.query) url.searchParams.append(name, value);
  const headers = new Headers(input.headers);
  if (input.auth === "admin") headers.set("authorization", `Bearer ${ADMIN_KEY}`);
  if (input.auth === "garbage") headers.set("authorization", "Bearer not a key ~!");
  if (input.body?.type) headers.set("content-type", input.body.type);
  const hasBody = input.body !== null && operation.method !== "GET" && operation.method !== "HEAD";
  return new Request(url, { method: operation.method, headers, body: hasBody ? input.body!.data : undefined });
}

async function fuzzOne(operation: Operation, input: FuzzInput): Promise<void> {
  const before = await tableCounts();
  const started = performance.now();
  const response = await exports.default.fetch(requestFor(operation, input));
  const text = await response.text();
  const elapsed = performance.now() - started;
  summary.inputs++;
  summary.statuses.set(response.status, (summary.statuses.get(response.status) ?? 0) + 1);
  if (elapsed > summary.slowestMs) [summary.slowestMs, summary.slowest] = [elapsed, `${operation.method} ${operation.path}`];
  const where = `${operation.method} ${operation.path} → ${response.status} ${text.slice(0, 300)}`;
  expect(response.status, where).toBeLessThan(500);
  expect(operation.statuses.has(response.status), `undocumented status: ${where}`).toBe(true);
  expect(elapsed, `took ${Math.round(elapsed)} ms: ${where}`).toBeLessThan(MAX_REQUEST_MS);
  if (response.status >= 400) {
    const error = JSON.parse(text).error;
    expect(typeof error?.code === "string" && error.request_id === response.headers.get("x-request-id"), `error shape: ${where}`).toBe(true);
    expect(unexpectedWrites(operation, before, await tableCounts()), `stored on ${where}`).toEqual([]);
  }
}

describe("security suite", () => {
  beforeAll(async () => {
    doc = (await callJson("GET", "/openapi.json", { key: null })).body;
    operations = operationsOf(doc);
    await createRecord(fixtures.publicRecord, { public: true });
    await createRecord(fixtures.privateRecord, { public: false });
    await uploadFile(fixtures.publicRecord, fixtures.file, bytesOf(64));
    await uploadFile(fixtures.privateRecord, fixtures.file, bytesOf(64));
    fixtures.token = new URL((await callJson("POST", "/v1/download-links", { body: { record_id: fixtures.privateRecord, file: fixtures.file } })).body.url).pathname.split("/").pop()!;
    fixtures.eventId = (await callJson("POST", "/v1/events", { body: { action: "record.view" } })).body.id;
    fixtures.jobId = (await callJson("POST", "/v1/bundles", { body: { record_ids: [fixtures.publicRecord] } })).body.job.id;
    fixtures.keyId = (await callJson("POST", "/v1/keys", { body: { name: "security fixture", scopes: ["read"] } })).body.id;
  }, 60_000);

  afterAll(() => {
    const statuses = [...summary.statuses].sort(([a], [b]) => a - b).map(([status, count]) => `${status}×${count}`).join(" ");
    console.log(
      `security suite: ${summary.inputs} inputs fuzzed over ${operations?.length ?? 0} operations (statuses ${statuses}; slowest ${Math.round(summary.slowestMs)} ms, ${summary.slowest}); ` +
        `route × credential matrix: ${summary.routes} routes × ${summary.credentials} credentials = ${summary.matrix} checks`,
    );
  });

  it("security suite: the OpenAPI document lists every route, each with its documented responses", () => {
    expect(operations.length).toBeGreaterThanOrEqual(37);
    for (const operation of operations) expect([...operation.statuses].some((status) => status >= 200 && status < 300), `${operation.method} ${operation.path}`).toBe(true);
  });

  it("security suite: fuzzes every operation: any body, query and headers get a 2xx or a documented 4xx in bounded time, and a 4xx stores nothing", { timeout: 600_000 }, async () => {
    for (const operation of operations) {
      await fc.assert(
        fc.asyncProperty(inputFor(operation), (input) => fuzzOne(operation, input)),
        { numRuns: RUNS, endOnFailure: true },
      );
    }
    expect(summary.inputs).toBeGreaterThanOrEqual(operations.length * RUNS);
  });

  it("security suite: fuzzes the import parsers (NDJSON and CSV) beyond the generic runs", { timeout: 300_000 }, async () => {
    const operation = operations.find((candidate) => candidate.path === "/v1/events/import")!;
    const input = fc.record({ dry: fc.boolean(), body: importBody() });
    await fc.assert(
      fc.asyncProperty(input, ({ dry, body }) =>
        fuzzOne(operation, { params: {}, query: dry ? [["dry_run", "true"]] : [], body, auth: "admin", headers: {} }),
      ),
      { numRuns: RUNS * 2, endOnFailure: true },
    );
  });

  it("security suite: route × credential matrix from the OpenAPI document's security requirements", { timeout: 300_000 }, async () => {
    const revoked = (await callJson("POST", "/v1/keys", { body: { name: "security revoked", scopes: ["admin"] } })).body;
    expect((await callJson("DELETE", `/v1/keys/${revoked.id}`)).status).toBe(200);
    const scoped = Object.fromEntries(await Promise.all(["read", "ingest", "catalog", "admin"].map(async (scope) => [scope, await keyWith(scope)] as const)));
    const credentials: { name: string; headers: Record<string, string>; scope?: string; valid: boolean }[] = [
      { name: "no key", headers: {}, valid: false },
      { name: "malformed", headers: { authorization: "Basic dXNlcjpwYXNz" }, valid: false },
      { name: "malformed bearer", headers: { authorization: "Bearer" }, valid: false },
      { name: "unknown", headers: { authorization: `Bearer da_${crypto.randomUUID().replace(/-/g, "")}` }, valid: false },
      { name: "revoked", headers: { authorization: `Bearer ${revoked.key}` }, valid: false },
      ...Object.entries(scoped).map(([scope, key]) => ({ name: `${scope} key`, headers: { "x-api-key": key }, scope, valid: true })),
      { name: "bootstrap admin", headers: { authorization: `Bearer ${ADMIN_KEY}` }, scope: "admin", valid: true },
    ];
    const guarded = operations.filter((operation) => operation.auth !== null);
    summary.routes = guarded.length;
    summary.credentials = credentials.length;
    for (const operation of guarded) {
      // Reads address the private fixtures; writes and deletes a record that does not exist, so the matrix changes nothing.
      const destructive = operation.method !== "GET";
      const params = { id: destructive ? "sec-matrix-missing" : fixtures.privateRecord, name: fixtures.file, type: "dataset", month: "2026-10" };
      for (const credential of credentials) {
        const response = await exports.default.fetch(
          new Request(`http://localhost${pathOf(operation, params)}`, { method: operation.method, headers: credential.headers }),
        );
        await response.arrayBuffer();
        summary.matrix++;
        const required = operation.auth!.scope;
        const where = `${operation.method} ${operation.path} with ${credential.name} → ${response.status}`;
        expect(response.status, where).toBeLessThan(500);
        expect(operation.statuses.has(response.status), `undocumented: ${where}`).toBe(true);
        const noKey = ["no key", "malformed", "malformed bearer"].includes(credential.name);
        if (!credential.valid && noKey && operation.auth!.optional) expect(response.status, `private record hidden: ${where}`).toBe(404);
        else if (!credential.valid) expect(response.status, where).toBe(401);
        else if (credential.scope === required || credential.scope === "admin") expect([401, 403], where).not.toContain(response.status);
        else expect(response.status, where).toBe(403);
      }
    }
    expect(summary.matrix).toBe(guarded.length * credentials.length);
  });

  it("security suite: another tenant's key cannot read or cancel a key's bundle job (finding 5)", async () => {
    const [owner, other] = [await keyWith("ingest"), await keyWith("ingest")];
    // A record of its own: the fuzzing and the matrix above may have deleted the shared fixtures.
    await createRecord("sec-finding-5", { public: true });
    const { status, body } = await callJson("POST", "/v1/bundles", { key: owner, body: { record_ids: ["sec-finding-5"] } });
    expect(status, JSON.stringify(body)).toBe(202);
    expect((await callJson("GET", `/v1/jobs/${body.job.id}`, { key: other })).status).toBe(404);
    expect((await callJson("DELETE", `/v1/jobs/${body.job.id}`, { key: other })).status).toBe(404);
  });

  it("security suite: every finding of issue 10 has a named regression test", () => {
    const sources = import.meta.glob("../test/**/*.test.ts", { query: "?raw", import: "default", eager: true }) as Record<string, string>;
    const text = Object.values(sources).join("\n");
    const named = (finding: string) => new RegExp(`["'\`]finding ${finding}:`).test(text);
    const findings = ["1", "2", "3", "4", "5", "6", "7", "8", "9a", "9b", "9c", "9d", "9e", "9f", "9g", "9h", "9i"];
    console.log(`security suite: findings with named regression tests: ${findings.filter(named).join(", ")}; without: ${findings.filter((finding) => !named(finding)).join(", ") || "none"}`);
    for (const finding of findings) expect(named(finding), `finding ${finding}`).toBe(true);
  });
});
