import { exports } from "cloudflare:workers";
import { hc } from "hono/client";
import { describe, expect, it } from "vitest";
import type { AppType } from "../src/app";
import { ADMIN_KEY, flushLedger, unique } from "./helpers";

const client = hc<AppType>("http://localhost", {
  headers: { authorization: `Bearer ${ADMIN_KEY}` },
  fetch: (input: RequestInfo | URL, init?: RequestInit) => exports.default.fetch(new Request(input, init)),
});

describe("typed client through hono/client and AppType", () => {
  it("records and finds events with typed requests and responses", async () => {
    const resourceId = unique("typed");
    const created = await client.v1.events.$post({ json: { action: "record.view", resource: { type: "dataset", id: resourceId } } });
    expect(created.status).toBe(201);
    const { id } = await created.json();
    await flushLedger();
    const page = await client.v1.events.$get({ query: { resource_id: resourceId, limit: "10" } });
    expect(page.status).toBe(200);
    if (page.status !== 200) return;
    const { data, next_cursor } = await page.json();
    expect(data.map((event) => event.id)).toEqual([id]);
    expect(next_cursor).toBeNull();
    const one = await client.v1.events[":id"].$get({ param: { id } });
    expect(one.status).toBe(200);
  });
});
