import { describe, expect, it } from "vitest";
import { call, callJson, expectError, keyWith, flushLedger } from "../helpers";

describe("GET /v1/actions and /v1/resource-types", () => {
  it("list actions with event counts and last occurrence, and resource types with counts", async () => {
    const tag = crypto.randomUUID().slice(0, 8);
    const { body } = await callJson("POST", "/v1/events/batch", {
      body: {
        events: [
          { action: `f${tag}.a`, occurred_at: "2025-01-01T00:00:00Z", resource: { type: `t${tag}-x`, id: "1" } },
          { action: `f${tag}.a`, occurred_at: "2025-02-01T00:00:00Z", resource: { type: `t${tag}-x`, id: "2" } },
          { action: `f${tag}.b`, occurred_at: "2025-01-15T00:00:00Z", resource: { type: `t${tag}-y`, id: "3" } },
          { action: `f${tag}.b`, occurred_at: "2025-01-16T00:00:00Z" },
        ],
      },
    });
    expect(body.accepted).toBe(4);
    await flushLedger();

    const actions = await callJson("GET", "/v1/actions");
    expect(actions.status).toBe(200);
    expect(actions.body.filter((row: { action: string }) => row.action.startsWith(`f${tag}`))).toEqual([
      { action: `f${tag}.a`, events: 2, last_seen: "2025-02-01T00:00:00.000Z" },
      { action: `f${tag}.b`, events: 2, last_seen: "2025-01-16T00:00:00.000Z" },
    ]);
    const names = actions.body.map((row: { action: string }) => row.action);
    expect(names).toEqual([...names].sort());

    const types = await callJson("GET", "/v1/resource-types");
    expect(types.status).toBe(200);
    expect(types.body.filter((row: { resource_type: string }) => row.resource_type.startsWith(`t${tag}`))).toEqual([
      { resource_type: `t${tag}-x`, events: 2 },
      { resource_type: `t${tag}-y`, events: 1 },
    ]);
    expect(types.body.every((row: { resource_type: string | null }) => row.resource_type !== null)).toBe(true);
  });

  it("need the read scope", async () => {
    const ingest = await keyWith("ingest");
    for (const path of ["/v1/actions", "/v1/resource-types"]) {
      await expectError(await call("GET", path, { key: null }), 401, "unauthorized");
      await expectError(await call("GET", path, { key: "da_nope" }), 401, "unauthorized");
      await expectError(await call("GET", path, { key: ingest }), 403, "forbidden");
      expect((await call("GET", path, { key: await keyWith("read") })).status).toBe(200);
    }
  });
});
