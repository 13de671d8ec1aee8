import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { app } from "../../src/app";
import { getConfig } from "../../src/lib/config";
import { ApiError } from "../../src/lib/errors";
import { createRecord, uniqueId } from "../catalog-helpers";
import { ADMIN_KEY } from "../helpers";

const production = { ...env, ENVIRONMENT: "production" } as Env;

describe("finding 9e: PUBLIC_BASE_URL outside development", () => {
  it("finding 9e: refuses a production configuration without PUBLIC_BASE_URL", () => {
    expect(() => getConfig({ ...production })).toThrow(ApiError);
    expect(() => getConfig({ ...env, ENVIRONMENT: undefined } as unknown as Env)).toThrow(ApiError);
    expect(() => getConfig({ ...env, ENVIRONMENT: "staging" } as unknown as Env)).toThrow(ApiError);
    expect(getConfig({ ...production, PUBLIC_BASE_URL: "https://audit.example.org/" } as Env).publicBaseUrl).toBe("https://audit.example.org");
    expect(getConfig({ ...env }).publicBaseUrl).toBeUndefined();
  });

  it("finding 9e: never puts the request's Host into a link outside development", async () => {
    const id = uniqueId();
    await createRecord(id);
    // The Worker sees the Host a client sent as the request URL's host.
    const linkVia = async (overrides: Record<string, string>) => {
      const context = createExecutionContext();
      const response = await app.fetch(
        new Request("https://evil.example/v1/download-links", {
          method: "POST",
          headers: { authorization: `Bearer ${ADMIN_KEY}`, "content-type": "application/json" },
          body: JSON.stringify({ record_id: id }),
        }),
        { ...env, ...overrides } as Env,
        context,
      );
      await waitOnExecutionContext(context);
      return response;
    };
    const development = await linkVia({});
    expect(((await development.json()) as { url: string }).url).toMatch(/^https:\/\/evil\.example\/d\//);
    const misconfigured = await linkVia({ ENVIRONMENT: "production" });
    expect(misconfigured.status).toBe(500);
    expect(await misconfigured.text()).not.toContain("evil.example");
    const configured = await linkVia({ ENVIRONMENT: "production", PUBLIC_BASE_URL: "https://audit.example.org" });
    expect(configured.status).toBe(201);
    expect(((await configured.json()) as { url: string }).url).toMatch(/^https:\/\/audit\.example\.org\/d\//);
  });
});
