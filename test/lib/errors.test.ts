import { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import { requestId } from "hono/request-id";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { ApiError, errorStatus, renderError, zodProblems, type ErrorCode } from "../../src/lib/errors";

function appThrowing(error: () => Error) {
  const app = new Hono();
  app.use(requestId());
  app.get("/", () => {
    throw error();
  });
  app.onError(renderError);
  return app;
}

describe("renderError", () => {
  it("maps every code to its status in the one JSON shape", async () => {
    expect(errorStatus).toMatchObject({
      invalid_request: 400,
      unauthorized: 401,
      forbidden: 403,
      not_found: 404,
      conflict: 409,
      payload_too_large: 413,
      unsupported_media_type: 415,
      rate_limited: 429,
      internal: 500,
    });
    for (const [code, status] of Object.entries(errorStatus) as [ErrorCode, number][]) {
      const response = await appThrowing(() => new ApiError(code, `about ${code}`)).request("/");
      expect(response.status, code).toBe(status);
      expect(await response.json()).toEqual({ error: { code, message: `about ${code}`, request_id: response.headers.get("x-request-id") } });
    }
  });

  it("includes details and extra headers when given", async () => {
    const response = await appThrowing(() => new ApiError("rate_limited", "slow down", { details: { event_id: "e1" }, headers: { "Retry-After": "30" } })).request("/");
    expect(response.status).toBe(429);
    expect(response.headers.get("retry-after")).toBe("30");
    expect(((await response.json()) as any).error.details).toEqual({ event_id: "e1" });
  });

  it("turns HTTP exceptions into their codes, and any other error into a bare 500", async () => {
    const badJson = await appThrowing(() => new HTTPException(400, { message: "Malformed JSON in request body" })).request("/");
    expect(await badJson.json()).toMatchObject({ error: { code: "invalid_request", message: "Malformed JSON in request body" } });
    const tooLarge = await appThrowing(() => new HTTPException(413)).request("/");
    expect(((await tooLarge.json()) as any).error.code).toBe("payload_too_large");
    const crash = await appThrowing(() => new TypeError("cannot read secret of undefined")).request("/");
    expect(crash.status).toBe(500);
    const text = await crash.text();
    expect(JSON.parse(text)).toEqual({ error: { code: "internal", message: "Internal server error", request_id: expect.any(String) } });
    expect(text).not.toContain("secret");
  });
});

describe("zodProblems", () => {
  it("lists each problem with a dotted path, prefixed when asked", () => {
    const schema = z.object({ a: z.object({ b: z.array(z.number()) }), c: z.string() });
    const result = schema.safeParse({ a: { b: [1, "x"] }, c: 3 });
    expect(result.success).toBe(false);
    const problems = zodProblems(result.error!, ["events", 4]);
    expect(problems.map((problem) => problem.path)).toEqual(["events.4.a.b.1", "events.4.c"]);
    expect(zodProblems(z.string().safeParse(1).error!)).toEqual([{ path: "(body)", message: expect.any(String) }]);
  });
});
