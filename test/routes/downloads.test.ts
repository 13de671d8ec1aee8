import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { app } from "../../src/app";
import { mintToken, sealUser } from "../../src/core/catalog/tokens";
import { bytesOf, createLink, createRecord, eventsFor, uniqueId, uploadFile } from "../catalog-helpers";
import { call, callJson, countRows, keyWith } from "../helpers";

const user = { id: "portal-user-42", email: "Grace.Hopper@Example.org", name: "Grace Hopper", organisation: "Naval Research Lab" };

async function recordWithFile(size = 1000) {
  const id = uniqueId();
  await createRecord(id, { public: false });
  const data = bytesOf(size, 11);
  await uploadFile(id, "obs.csv", data);
  return { id, data };
}

describe("POST /v1/download-links", () => {
  it("returns a signed URL and its expiry, bound to record, file and user", async () => {
    const { id } = await recordWithFile();
    const before = Date.now();
    const { status, body } = await callJson("POST", "/v1/download-links", { body: { record_id: id, file: "obs.csv", user, ttl_seconds: 600 } });
    expect(status).toBe(201);
    expect(body.url).toMatch(/^http:\/\/localhost\/d\/[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
    expect(Date.parse(body.expires_at)).toBeGreaterThanOrEqual(before + 599_000);
    expect(body.url).not.toContain("Hopper");
    expect(atob(body.url.split("/d/")[1].split(".")[0].replace(/-/g, "+").replace(/_/g, "/"))).not.toMatch(/hopper/i);
  });

  it("answers 404 for unknown records and files, 400 for bad input, 401/403 without an ingest key", async () => {
    const { id } = await recordWithFile();
    expect((await callJson("POST", "/v1/download-links", { body: { record_id: uniqueId() } })).status).toBe(404);
    expect((await callJson("POST", "/v1/download-links", { body: { record_id: id, file: "nope.csv" } })).status).toBe(404);
    const bad = await callJson("POST", "/v1/download-links", { body: { record_id: id, ttl_seconds: 3601, user: { email: "not-an-email" } } });
    expect(bad.status).toBe(400);
    expect(bad.body.error.details.map((d: any) => d.path).sort()).toEqual(["ttl_seconds", "user.email"]);
    expect((await callJson("POST", "/v1/download-links", { key: null, body: { record_id: id } })).status).toBe(401);
    expect((await callJson("POST", "/v1/download-links", { key: await keyWith("catalog", "read"), body: { record_id: id } })).status).toBe(403);
  });
});

describe("GET /d/{token}", () => {
  it("streams the file with headers and records exactly one download event for the user", async () => {
    const { id, data } = await recordWithFile(4096);
    const path = await createLink({ record_id: id, file: "obs.csv", user });
    const response = await call("GET", path, { key: null });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-length")).toBe("4096");
    expect(response.headers.get("content-type")).toBe("text/csv");
    expect(response.headers.get("accept-ranges")).toBe("bytes");
    expect(response.headers.get("content-disposition")).toContain('filename="obs.csv"');
    expect(new Uint8Array(await response.arrayBuffer())).toEqual(data);
    const events = await eventsFor(id);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ action: "download", status: "success", bytes: 4096, resource_type: "dataset" });
    const stored = await callJson("GET", `/v1/events/${events[0]!.id}`);
    expect(stored.body.actor).toEqual({ id: user.id, email: "grace.hopper@example.org", name: user.name, organisation: user.organisation });
    expect(stored.body.resource.title).toBe(`Record ${id}`);
  });

  it("serves byte ranges (206) and counts the bytes sent; ignores unsatisfiable ranges", async () => {
    const { id, data } = await recordWithFile(1000);
    const path = await createLink({ record_id: id, file: "obs.csv", user });
    const partial = await call("GET", path, { key: null, headers: { range: "bytes=100-199" } });
    expect(partial.status).toBe(206);
    expect(partial.headers.get("content-range")).toBe("bytes 100-199/1000");
    expect(partial.headers.get("content-length")).toBe("100");
    expect(new Uint8Array(await partial.arrayBuffer())).toEqual(data.slice(100, 200));
    const suffix = await call("GET", path, { key: null, headers: { range: "bytes=-10" } });
    expect(suffix.status).toBe(206);
    expect(suffix.headers.get("content-range")).toBe("bytes 990-999/1000");
    expect(new Uint8Array(await suffix.arrayBuffer())).toEqual(data.slice(990));
    const beyond = await call("GET", path, { key: null, headers: { range: "bytes=5000-" } });
    expect(beyond.status).toBe(200);
    expect((await beyond.arrayBuffer()).byteLength).toBe(1000);
    expect((await eventsFor(id)).map((event) => event.bytes)).toEqual([100, 10, 1000]);
  });

  it("answers 304 to a matching If-None-Match and HEAD with headers, recording neither", async () => {
    const { id } = await recordWithFile();
    const path = await createLink({ record_id: id, file: "obs.csv", user });
    const first = await call("GET", path, { key: null });
    const etag = first.headers.get("etag")!;
    await first.arrayBuffer();
    const revalidated = await call("GET", path, { key: null, headers: { "if-none-match": `W/${etag}, "other"` } });
    expect(revalidated.status).toBe(304);
    expect(revalidated.headers.get("etag")).toBe(etag);
    const changed = await call("GET", path, { key: null, headers: { "if-none-match": '"stale"' } });
    expect(changed.status).toBe(200);
    await changed.arrayBuffer();
    const head = await call("HEAD", path, { key: null });
    expect(head.status).toBe(200);
    expect(head.headers.get("content-length")).toBe("1000");
    expect(await eventsFor(id)).toHaveLength(2);
  });

  it("serves the metadata PDF for a link without a file, as one metadata.download event", async () => {
    const { id } = await recordWithFile();
    const response = await call("GET", await createLink({ record_id: id, user }), { key: null });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("application/pdf");
    expect(response.headers.get("content-disposition")).toContain(`filename="${id}.pdf"`);
    const bytes = new Uint8Array(await response.arrayBuffer());
    expect(new TextDecoder().decode(bytes.slice(0, 5))).toBe("%PDF-");
    const events = await eventsFor(id);
    expect(events.map((event) => [event.action, event.status, event.bytes])).toEqual([["metadata.download", "success", bytes.length]]);
  });

  it("refuses a tampered token with 403 and an expired one with 410, both audited as failures", async () => {
    const { id } = await recordWithFile();
    const path = await createLink({ record_id: id, file: "obs.csv", user });
    const [payload, signature] = path.slice(3).split(".");
    const forged = JSON.parse(atob(payload!.replace(/-/g, "+").replace(/_/g, "/")));
    forged.f = "other.csv";
    const forgedPayload = btoa(JSON.stringify(forged)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
    const invalidBefore = await countRows("events", "message = 'This download link is not valid'");
    for (const token of [`${forgedPayload}.${signature}`, `${payload}.${signature!.slice(0, -2)}AA`, "garbage", `${payload}`]) {
      const refused = await callJson("GET", `/d/${token}`, { key: null });
      expect(refused.status, token).toBe(403);
      expect(refused.body.error.code).toBe("forbidden");
    }
    expect(await countRows("events", "message = 'This download link is not valid' AND status = 'failure'")).toBe(invalidBefore + 4);

    const secret = env.DOWNLOAD_TOKEN_SECRET;
    const expired = await mintToken(secret, {
      target: { kind: "file", recordId: id, file: "obs.csv" },
      sealedUser: await sealUser(secret, user),
      expiresAt: Math.floor(Date.now() / 1000) - 1,
    });
    const gone = await callJson("GET", `/d/${expired}`, { key: null });
    expect(gone.status).toBe(410);
    expect(gone.body.error.code).toBe("gone");
    const events = await eventsFor(id);
    expect(events.map((event) => [event.action, event.status, event.message])).toEqual([["download", "failure", "This download link has expired"]]);
    expect(events[0]!.actor_key).not.toBeNull();
  });

  it("answers 404 with a failure event when the file or record is gone", async () => {
    const { id } = await recordWithFile();
    const path = await createLink({ record_id: id, file: "obs.csv", user });
    const [object] = (await env.BUCKET.list({ prefix: `records/${id}/files/` })).objects;
    await env.BUCKET.delete(object!.key);
    expect((await callJson("GET", path, { key: null })).status).toBe(404);
    await call("DELETE", `/v1/records/${id}`);
    expect((await callJson("GET", path, { key: null })).status).toBe(404);
    expect((await eventsFor(id)).map((event) => event.status)).toEqual(["failure", "failure"]);
  });

  it("applies the per-IP download limit: 429 with Retry-After and RateLimit-* headers, recorded as denied", async () => {
    const { id } = await recordWithFile();
    const path = await createLink({ record_id: id, file: "obs.csv", user });
    const limited = { ...env, DOWNLOAD_RATE_LIMIT: "1" };
    const fetchAs = async () => {
      const ctx = createExecutionContext();
      const response = await app.fetch(new Request(`http://localhost${path}`, { headers: { "cf-connecting-ip": "198.51.100.23" } }), limited, ctx);
      await waitOnExecutionContext(ctx);
      return response;
    };
    const allowed = await fetchAs();
    expect(allowed.status).toBe(200);
    expect(allowed.headers.get("ratelimit-limit")).toBe("1");
    expect(allowed.headers.get("ratelimit-remaining")).toBe("0");
    await allowed.arrayBuffer();
    const refused = await fetchAs();
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(((await refused.json()) as any).error.code).toBe("rate_limited");
    expect((await eventsFor(id)).map((event) => event.status)).toEqual(["success", "denied"]);
  });

  it("applies the byte budget per IP and per user key: a Range counts the bytes it asks for; 429 with Retry-After, recorded as denied with the reason", async () => {
    const { id } = await recordWithFile(1000);
    const path = await createLink({ record_id: id, file: "obs.csv", user });
    const budgeted = { ...env, DOWNLOAD_BYTES_LIMIT: "1500", DOWNLOAD_BYTES_WINDOW_SECONDS: "3600" };
    const fetchAs = async (ip: string, headers: Record<string, string> = {}, link = path) => {
      const ctx = createExecutionContext();
      const response = await app.fetch(new Request(`http://localhost${link}`, { headers: { "cf-connecting-ip": ip, ...headers } }), budgeted, ctx);
      await waitOnExecutionContext(ctx);
      return response;
    };
    const ip = `198.51.100.${Math.floor(Math.random() * 200) + 30}`;
    const whole = await fetchAs(ip);
    expect(whole.status).toBe(200);
    await whole.arrayBuffer();
    // 1,000 + 100 = 1,100 of 1,500.
    const range = await fetchAs(ip, { range: "bytes=100-199" });
    expect(range.status).toBe(206);
    await range.arrayBuffer();
    // 1,100 + 1,000 > 1,500: refused; room comes when the first 1,000 bytes leave the hour.
    const refused = await fetchAs(ip);
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThan(3500);
    expect(Number(refused.headers.get("retry-after"))).toBeLessThanOrEqual(3600);
    const error = ((await refused.json()) as any).error;
    expect(error).toMatchObject({ code: "rate_limited", details: { limit: "bytes", bytes_limit: 1500, bytes_remaining: 400 } });
    // 400 bytes still fit for this IP: a Range asking for exactly them is served.
    const fits = await fetchAs(ip, { range: "bytes=0-399" });
    expect(fits.status).toBe(206);
    await fits.arrayBuffer();

    // The same user from another IP: the IP is fresh, but the user key's 1,500 bytes are spent.
    const otherIp = `192.0.2.${Math.floor(Math.random() * 200) + 30}`;
    const sameUser = await fetchAs(otherIp, { range: "bytes=0-9" });
    expect(sameUser.status).toBe(429);
    expect(((await sameUser.json()) as any).error.details.limit).toBe("bytes");
    // Another user on that IP is served.
    const otherPath = await createLink({ record_id: id, file: "obs.csv", user: { ...user, id: "portal-user-43", email: "other@example.org" } });
    const otherUser = await fetchAs(otherIp, {}, otherPath);
    expect(otherUser.status).toBe(200);
    await otherUser.arrayBuffer();

    const events = await eventsFor(id);
    expect(events.map((event) => [event.status, event.bytes])).toEqual([
      ["success", 1000], ["success", 100], ["denied", 1000], ["success", 400], ["denied", 10], ["success", 1000],
    ]);
    expect(events.filter((event) => event.status === "denied").map((event) => event.message)).toEqual([
      "byte budget exceeded (DOWNLOAD_BYTES_LIMIT)", "byte budget exceeded (DOWNLOAD_BYTES_LIMIT)",
    ]);
  });

  it("charges no byte budget while DOWNLOAD_BYTES_LIMIT is 0 (the default) or for events clients report", async () => {
    const { id } = await recordWithFile(1000);
    const path = await createLink({ record_id: id, file: "obs.csv", user });
    const ip = `203.0.113.${Math.floor(Math.random() * 200) + 30}`;
    for (let i = 0; i < 3; i++) {
      const response = await call("GET", path, { key: null, headers: { "cf-connecting-ip": ip } });
      expect(response.status).toBe(200);
      expect(response.headers.get("retry-after")).toBeNull();
      await response.arrayBuffer();
    }
    const budgeted = { ...env, DOWNLOAD_BYTES_LIMIT: "10" };
    const ctx = createExecutionContext();
    const reported = await app.fetch(
      new Request("http://localhost/v1/events", {
        method: "POST",
        headers: { authorization: "Bearer test-admin-key", "content-type": "application/json" },
        body: JSON.stringify({ action: "download", status: "success", resource: { type: "dataset", id }, bytes: 5000, client: { ip } }),
      }),
      budgeted,
      ctx,
    );
    await waitOnExecutionContext(ctx);
    expect(reported.status).toBe(201);
    expect((await eventsFor(id)).map((event) => event.status)).toEqual(["success", "success", "success", "success"]);
  });
});
