import { describe, expect, it } from "vitest";
import { callJson, event } from "../helpers";

describe("smoke", () => {
  it("ingests and reads back", async () => {
    const created = await callJson("POST", "/v1/events", { body: event() });
    expect(created.status).toBe(201);
    const got = await callJson("GET", `/v1/events/${created.body.id}`);
    expect(got.status).toBe(200);
    expect(got.body.client.ip).toBe("203.0.113.0");
  });
});
