import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { call, callWithEnv, event, expectError, keyWith } from "./helpers";

const securityHeaders = {
  "x-content-type-options": "nosniff",
  "x-frame-options": "SAMEORIGIN",
  "referrer-policy": "no-referrer",
  "strict-transport-security": "max-age=15552000; includeSubDomains",
  "cross-origin-resource-policy": "cross-origin",
};

function expectSecurityHeaders(response: Response) {
  for (const [name, value] of Object.entries(securityHeaders)) expect(response.headers.get(name), name).toBe(value);
  expect(response.headers.get("x-powered-by")).toBeNull();
}

const failingDb = {
  prepare() {
    throw new Error("disk on fire: /var/secret/path");
  },
  batch() {
    throw new Error("disk on fire: /var/secret/path");
  },
};

describe("unknown routes", () => {
  it("answer 404 not_found in the one error shape", async () => {
    const error = await expectError(await call("GET", "/no/such/route"), 404, "not_found");
    expect(error.message).toContain("/no/such/route");
  });

  it("treat a known path with an unsupported method as unknown", async () => {
    await expectError(await call("PUT", "/v1/events"), 404, "not_found");
  });

  it("answer 404 without a key too", async () => {
    await expectError(await call("GET", "/v1/nothing-here", { key: null }), 404, "not_found");
  });
});

describe("X-Request-Id", () => {
  it("is on every kind of response", async () => {
    const readKey = await keyWith("read");
    const responses = await Promise.all([
      call("GET", "/health", { key: null }),
      call("POST", "/v1/events", { body: event({ action: "record.view" }) }),
      call("POST", "/v1/events", { body: { action: "Not Valid" } }),
      call("GET", "/v1/events", { key: null }),
      call("POST", "/v1/events", { key: readKey, body: event() }),
      call("GET", "/nowhere"),
      call("POST", "/v1/events", { rawBody: "x".repeat(1024 * 1024 + 1) }),
      call("POST", "/v1/events", { rawBody: "action=download", contentType: "application/x-www-form-urlencoded" }),
      call("GET", "/openapi.json", { key: null }),
      call("GET", "/docs", { key: null }),
      callWithEnv({ DB: failingDb }, "GET", "/v1/events"),
    ]);
    expect(responses.map((response) => response.status)).toEqual([200, 201, 400, 401, 403, 404, 413, 415, 200, 200, 500]);
    for (const response of responses) expect(response.headers.get("x-request-id")).toMatch(/^[\w-]{8,}$/);
    expect(new Set(responses.map((response) => response.headers.get("x-request-id"))).size).toBe(responses.length);
  });

  it("echoes a well-formed incoming id and replaces a malformed one", async () => {
    const echoed = await call("GET", "/health", { key: null, headers: { "x-request-id": "edge-req-42" } });
    expect(echoed.headers.get("x-request-id")).toBe("edge-req-42");
    const replaced = await call("GET", "/health", { key: null, headers: { "x-request-id": "bad id <script>" } });
    expect(replaced.headers.get("x-request-id")).not.toContain("script");
  });
});

describe("security headers", () => {
  it("are on successful, error and not-found responses", async () => {
    expectSecurityHeaders(await call("GET", "/health", { key: null }));
    expectSecurityHeaders(await call("GET", "/v1/events", { key: null }));
    expectSecurityHeaders(await call("GET", "/nowhere"));
    expectSecurityHeaders(await callWithEnv({ DB: failingDb }, "GET", "/v1/events"));
  });
});

describe("CORS", () => {
  const origin = "https://portal.example";
  const preflight = { key: null, headers: { origin, "access-control-request-method": "POST", "access-control-request-headers": "authorization, content-type" } };

  it("is off by default: no Access-Control headers, preflight not answered", async () => {
    expect(env.CORS_ORIGINS).toBe("");
    const simple = await call("GET", "/health", { key: null, headers: { origin } });
    expect(simple.headers.get("access-control-allow-origin")).toBeNull();
    const options = await call("OPTIONS", "/v1/events", preflight);
    expect(options.headers.get("access-control-allow-origin")).toBeNull();
    expect(options.headers.get("access-control-allow-methods")).toBeNull();
  });

  it("allows exactly the configured origins when CORS_ORIGINS is set", async () => {
    const cors = { CORS_ORIGINS: `${origin}, https://other.example` };
    const options = await callWithEnv(cors, "OPTIONS", "/v1/events", preflight);
    expect(options.status).toBe(204);
    expect(options.headers.get("access-control-allow-origin")).toBe(origin);
    expect(options.headers.get("access-control-allow-headers")?.toLowerCase()).toContain("authorization");
    expect(options.headers.get("access-control-allow-headers")?.toLowerCase()).toContain("x-api-key");

    const simple = await callWithEnv(cors, "GET", "/health", { key: null, headers: { origin } });
    expect(simple.headers.get("access-control-allow-origin")).toBe(origin);
    expect(simple.headers.get("access-control-expose-headers")).toContain("X-Request-Id");

    const stranger = await callWithEnv(cors, "GET", "/health", { key: null, headers: { origin: "https://evil.example" } });
    expect(stranger.headers.get("access-control-allow-origin")).toBeNull();
  });

  it("allows any origin with CORS_ORIGINS=*", async () => {
    const response = await callWithEnv({ CORS_ORIGINS: "*" }, "GET", "/health", { key: null, headers: { origin: "https://anyone.example" } });
    expect(response.headers.get("access-control-allow-origin")).toBe("*");
  });
});

describe("internal errors", () => {
  it("answer 500 internal without stack traces or the underlying message", async () => {
    const response = await callWithEnv({ DB: failingDb }, "GET", "/v1/events");
    const text = await response.clone().text();
    const error = await expectError(response, 500, "internal");
    expect(error.message).toBe("Internal server error");
    expect(text).not.toContain("disk on fire");
    expect(text).not.toMatch(/at .*\.(ts|js):\d+/);
  });

  it("answer 500 when the configuration is invalid, naming no secret", async () => {
    const response = await callWithEnv({ PII_KEY: "short" }, "GET", "/health", { key: null });
    const error = await expectError(response, 500, "internal");
    expect(error.message).toBe("The service is misconfigured");
    expect(JSON.stringify(error)).not.toContain("short");
  });
});
