import { describe, expect, it } from "vitest";
import { callJson, callWithEnv } from "../helpers";

describe("GET /health", () => {
  it("needs no key and reports D1 reachable", async () => {
    const { status, body } = await callJson("GET", "/health", { key: null });
    expect(status).toBe(200);
    expect(body).toEqual({ status: "ok", checks: { db: "ok" }, version: expect.any(String) });
  });

  it("answers 503 degraded when D1 fails", async () => {
    const brokenDb = { prepare: () => ({ first: () => Promise.reject(new Error("D1_ERROR: no such database")) }) };
    const response = await callWithEnv({ DB: brokenDb }, "GET", "/health", { key: null });
    expect(response.status).toBe(503);
    expect(await response.json()).toEqual({ status: "degraded", checks: { db: "error" }, version: expect.any(String) });
    expect(response.headers.get("x-request-id")).toBeTruthy();
  });

  it("reports the configured VERSION", async () => {
    const response = await callWithEnv({ VERSION: "9.9.9-test" }, "GET", "/health", { key: null });
    expect(((await response.json()) as { version: string }).version).toBe("9.9.9-test");
  });
});
