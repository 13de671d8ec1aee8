import { describe, expect, it } from "vitest";
import { secretsEqual } from "../../../src/lib/crypto";
import { ADMIN_KEY, call, expectError, keyWith } from "../../helpers";

describe("requireScope", () => {
  it("reads the key from Authorization: Bearer (any case) or X-API-Key", async () => {
    for (const headers of [{ authorization: `Bearer ${ADMIN_KEY}` }, { authorization: `bearer   ${ADMIN_KEY}` }, { "x-api-key": ADMIN_KEY }, { "x-api-key": ` ${ADMIN_KEY} ` }] as Record<string, string>[]) {
      expect((await call("GET", "/v1/actions", { key: null, headers })).status, JSON.stringify(headers)).toBe(200);
    }
  });

  it("says the key is missing for no header, an empty one or another scheme", async () => {
    for (const headers of [{}, { authorization: "Bearer " }, { authorization: `Basic ${btoa("user:pass")}` }, { "x-api-key": "  " }] as Record<string, string>[]) {
      const error = await expectError(await call("GET", "/v1/actions", { key: null, headers }), 401, "unauthorized");
      expect(error.message, JSON.stringify(headers)).toBe("API key is missing");
    }
  });

  it("says the key is invalid for a wrong one, including a near miss of the admin key", async () => {
    for (const key of [`${ADMIN_KEY}x`, ADMIN_KEY.slice(0, -1), ADMIN_KEY.toUpperCase(), "da_unknown"]) {
      const error = await expectError(await call("GET", "/v1/actions", { key }), 401, "unauthorized");
      expect(error.message, key).toBe("Invalid API key");
    }
  });

  it("answers 403 forbidden naming the missing scope", async () => {
    const error = await expectError(await call("GET", "/v1/actions", { key: await keyWith("ingest", "catalog") }), 403, "forbidden");
    expect(error.message).toBe("This API key lacks the 'read' scope");
  });
});

describe("secretsEqual", () => {
  it("compares by value, whatever the lengths", async () => {
    expect(await secretsEqual("same-secret", "same-secret")).toBe(true);
    expect(await secretsEqual("same-secret", "same-secreT")).toBe(false);
    expect(await secretsEqual("short", "a much longer secret")).toBe(false);
    expect(await secretsEqual("", "")).toBe(true);
  });
});
