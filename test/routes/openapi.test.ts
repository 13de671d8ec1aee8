import { describe, expect, it } from "vitest";
import { app } from "../../src/app";
import { selfOnlyContentSecurityPolicy } from "../../src/routes/static-assets";
import { call, callJson } from "../helpers";

type Operation = { operationId?: string; security?: unknown; responses: Record<string, any>; parameters?: { name: string; in: string }[]; requestBody?: any };

async function document(): Promise<{ openapi: string; paths: Record<string, Record<string, Operation>>; components: any }> {
  const { status, body } = await callJson("GET", "/openapi.json", { key: null });
  expect(status).toBe(200);
  return body;
}

/** Every /v1 route the app serves, as OpenAPI "METHOD /path/{param}" strings. */
function servedV1Routes(): string[] {
  const routes = app.routes
    .filter((route) => route.path.startsWith("/v1/") && route.method !== "ALL")
    .map((route) => `${route.method.toLowerCase()} ${route.path.replace(/:(\w+)/g, "{$1}")}`);
  return [...new Set(routes)].sort();
}

describe("GET /openapi.json", () => {
  it("is an OpenAPI 3.1 document with both security schemes", async () => {
    const doc = await document();
    expect(doc.openapi).toBe("3.1.0");
    expect(doc.components.securitySchemes).toEqual({
      bearerAuth: { type: "http", scheme: "bearer" },
      apiKeyHeader: { type: "apiKey", in: "header", name: "X-API-Key" },
    });
    expect(Object.keys(doc.components.schemas)).toEqual(expect.arrayContaining(["Error", "EventInput", "Event", "EventBatch", "ImportResult", "ApiKey"]));
  });

  it("documents every /v1 route the app serves, and the issue's routes are among them", async () => {
    const doc = await document();
    const documented = Object.entries(doc.paths)
      .flatMap(([path, operations]) => Object.keys(operations).map((method) => `${method} ${path}`))
      .filter((route) => route.includes(" /v1/"));
    const served = servedV1Routes();
    expect(served).toEqual(
      expect.arrayContaining([
        "post /v1/events",
        "post /v1/events/batch",
        "post /v1/events/import",
        "get /v1/events",
        "get /v1/events/recent",
        "get /v1/events/{id}",
        "get /v1/actions",
        "get /v1/resource-types",
        "post /v1/keys",
        "get /v1/keys",
        "delete /v1/keys/{id}",
      ]),
    );
    for (const route of served) expect(documented, route).toContain(route);
  });

  it("gives every /v1 operation the security requirement and the auth error responses in the error schema", async () => {
    const doc = await document();
    for (const [path, operations] of Object.entries(doc.paths)) {
      if (!path.startsWith("/v1/")) continue;
      for (const [method, operation] of Object.entries(operations)) {
        const where = `${method} ${path}`;
        const scope = (operation.security as Record<string, string[]>[]).find((requirement) => requirement.bearerAuth)?.bearerAuth![0];
        expect(["ingest", "read", "catalog", "admin"], where).toContain(scope);
        expect(operation.security, where).toEqual(expect.arrayContaining([{ bearerAuth: [scope] }, { apiKeyHeader: [scope] }]));
        for (const status of ["401", "403", "500"]) {
          expect(operation.responses[status]?.content?.["application/json"]?.schema, `${where} ${status}`).toEqual({ $ref: "#/components/schemas/Error" });
        }
        if (operation.requestBody) for (const status of ["400", "413"]) expect(operation.responses[status], `${where} ${status}`).toBeDefined();
        if (operation.parameters?.length) expect(operation.responses["400"], `${where} 400`).toBeDefined();
      }
    }
  });

  it("documents 415 for the ledger's typed bodies", async () => {
    const doc = await document();
    for (const [path, method] of [["/v1/events", "post"], ["/v1/events/batch", "post"], ["/v1/events/import", "post"], ["/v1/keys", "post"]] as const) {
      expect(doc.paths[path]![method]!.responses["415"], `${method} ${path}`).toEqual({
        description: expect.any(String),
        content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } },
      });
    }
  });

  it("describes the event filters and the ingest body from the validating schemas", async () => {
    const doc = await document();
    const list = doc.paths["/v1/events"]!.get!;
    const parameters = list.parameters!.filter((parameter) => parameter.in === "query").map((parameter) => parameter.name);
    expect(parameters).toEqual(
      expect.arrayContaining(["from", "to", "action", "status", "resource_type", "resource_id", "doi", "actor_id", "email", "organisation", "q", "limit", "cursor"]),
    );
    // The scope a route needs is the role of its security requirement (OpenAPI 3.1 role names).
    for (const [path, method, scope] of [["/v1/events", "get", "read"], ["/v1/events", "post", "ingest"], ["/v1/keys/{id}", "delete", "admin"], ["/v1/records/{id}", "put", "catalog"]] as const) {
      expect(doc.paths[path]![method]!.security, `${method} ${path}`).toEqual([{ bearerAuth: [scope] }, { apiKeyHeader: [scope] }]);
    }
    expect(doc.paths["/v1/records/{id}/metadata.pdf"]!.get!.security).toEqual([{}, { bearerAuth: ["catalog"] }, { apiKeyHeader: ["catalog"] }]);
    const ingest = doc.paths["/v1/events"]!.post!;
    expect(ingest.requestBody.content["application/json"].schema).toEqual({ $ref: "#/components/schemas/EventInput" });
    expect(Object.keys(ingest.responses)).toEqual(expect.arrayContaining(["200", "201"]));
    expect(doc.components.schemas.EventInput.required).toEqual(["action"]);
    const importBody = doc.paths["/v1/events/import"]!.post!.requestBody.content;
    expect(Object.keys(importBody).sort()).toEqual(["application/x-ndjson", "text/csv"]);
  });

  it("documents error codes that share a status in one response entry (finding 9c's quota codes)", async () => {
    const bundles = (await document()).paths["/v1/bundles"]!.post! as unknown as { responses: Record<string, { description: string }> };
    expect(bundles.responses["413"]!.description).toBe("The body is too large. Or: The API key's storage quota would be exceeded; `details` has the usage and quota");
    expect(bundles.responses["429"]!.description).toBe("Too many requests; see Retry-After. Or: The API key already has the most jobs it may run at once; retry when one finishes");
  });

  it("gives every operation its own operationId", async () => {
    const doc = await document();
    const operations = Object.entries(doc.paths).flatMap(([path, methods]) => Object.entries(methods).map(([method, operation]) => ({ where: `${method} ${path}`, id: operation.operationId })));
    expect(operations.length).toBeGreaterThan(30);
    for (const { where, id } of operations) expect(id, where).toMatch(/^[a-z][A-Za-z0-9]+$/);
    const seen = new Map<string, string>();
    for (const { where, id } of operations) {
      expect(seen.get(id!), `${where} reuses the operationId of ${seen.get(id!)}`).toBeUndefined();
      seen.set(id!, where);
    }
  });

  // Regression: the file-name pattern was emitted as "^…{0,254}$/u" (a regex literal's flag leaked into the string),
  // which no file name can match, so generated clients refused every upload and download.
  it("emits every pattern as a plain ECMA-262 regular expression that real values match", async () => {
    const doc = await document();
    const patterns: { where: string; pattern: string }[] = [];
    const walk = (node: unknown, where: string) => {
      if (Array.isArray(node)) node.forEach((child, index) => walk(child, `${where}[${index}]`));
      else if (node && typeof node === "object") {
        for (const [key, value] of Object.entries(node)) {
          if (key === "pattern" && typeof value === "string") patterns.push({ where, pattern: value });
          else walk(value, `${where}.${key}`);
        }
      }
    };
    walk(doc, "$");
    expect(patterns.length).toBeGreaterThan(0);
    for (const { where, pattern } of patterns) {
      expect(pattern, where).not.toMatch(/\/[a-z]*$/);
      expect(() => new RegExp(pattern, "u"), where).not.toThrow();
    }
    const fileName = doc.paths["/v1/records/{id}/files/{name}"]!.put!.parameters!.find((parameter) => parameter.name === "name") as unknown as { schema: { pattern: string } };
    const matcher = new RegExp(fileName.schema.pattern, "u");
    for (const name of ["sst.csv", "Données 2021 (v2).nc", "data_2024-01.tar.gz"]) expect(name).toMatch(matcher);
    for (const name of [".hidden", "a/b.csv", " leading.csv"]) expect(name).not.toMatch(matcher);
  });

  it("leaves /health without security", async () => {
    const doc = await document();
    expect(doc.paths["/health"]!.get!.security).toBeUndefined();
  });
});

describe("GET /docs", () => {
  it("serves the interactive page for /openapi.json without a key", async () => {
    const response = await call("GET", "/docs", { key: null });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toContain("text/html");
    const html = await response.text();
    expect(html).toContain('<script type="module" src="/docs/app.js"></script>');
    expect(html).toContain("/openapi.json");
    expect(html).not.toMatch(/https?:\/\//);
    expect(response.headers.get("content-security-policy")).toBe(selfOnlyContentSecurityPolicy);
  });

  it("serves Swagger UI's script and stylesheet from the Worker, and answers unknown files with 404", async () => {
    const script = await call("GET", "/docs/app.js", { key: null });
    expect(script.status).toBe(200);
    expect(script.headers.get("content-type")).toMatch(/javascript/);
    expect(await script.text()).toContain("/openapi.json");
    const style = await call("GET", "/docs/app.css", { key: null });
    expect(style.status).toBe(200);
    expect(await style.text()).toContain(".swagger-ui");
    const missing = await call("GET", "/docs/missing.js", { key: null });
    expect(missing.status).toBe(404);
  });
});

describe("GET /", () => {
  it("answers JSON with the service's entry points", async () => {
    const { status, body } = await callJson("GET", "/", { key: null });
    expect(status).toBe(200);
    expect(body.service).toBe("download-audit");
    expect(body.links.map((link: { href: string }) => link.href)).toEqual(["/dashboard", "/docs", "/openapi.json", "/health"]);
  });

  it("answers a browser with a small HTML page linking them", async () => {
    const response = await call("GET", "/", { key: null, headers: { accept: "text/html,application/xhtml+xml,*/*;q=0.8" } });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toMatch(/^text\/html/);
    expect(response.headers.get("content-security-policy")).toBe(selfOnlyContentSecurityPolicy);
    const html = await response.text();
    for (const href of ["/dashboard", "/docs", "/openapi.json", "/health"]) expect(html).toContain(`<a href="${href}">`);
  });
});
