import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { sha256Hex } from "../../src/lib/crypto";
import { call, callJson, event, expectError, flushLedger, keyWith, unique } from "../helpers";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The stored rows whose client id is `clientId`, with the actor id each one was stored for. */
async function storedUnder(clientId: string): Promise<{ id: string; key_id: string; actor_id: string | null }[]> {
  await flushLedger();
  const { results } = await env.DB.prepare(
    `SELECT e.id, e.key_id, a.actor_id FROM events e LEFT JOIN actors a ON a.actor_key = e.actor_key WHERE e.client_id = ? ORDER BY e.key_id`,
  )
    .bind(clientId)
    .all<{ id: string; key_id: string; actor_id: string | null }>();
  return results;
}

describe("client-chosen ids (issue 10, finding 1)", () => {
  it("finding 1: 10.1a: the same id posted ~250 ms apart for two users is never acknowledged without being stored", async () => {
    const clientId = unique("evt-two-users");
    const first = await call("POST", "/v1/events", { body: event({ id: clientId, actor: { id: "user-a" } }) });
    expect(first.status).toBe(201);
    await sleep(250);
    const second = await call("POST", "/v1/events", { body: event({ id: clientId, actor: { id: "user-b" } }) });
    // The id is taken by an event with other content: the answer must say so instead of acknowledging a lost event.
    const error = await expectError(second, 409, "conflict");
    expect(error.details).toMatchObject({ client_id: clientId });
    const stored = await storedUnder(clientId);
    expect(stored.map((row) => row.actor_id)).toEqual(["user-a"]);
  });

  it("finding 1: 10.1a: two keys may use the same id for different users; each event is stored under its own key", async () => {
    const clientId = unique("evt-two-keys");
    const [keyA, keyB] = [await keyWith("ingest"), await keyWith("ingest")];
    const a = await callJson("POST", "/v1/events", { key: keyA, body: event({ id: clientId, actor: { id: "user-a" } }) });
    const b = await callJson("POST", "/v1/events", { key: keyB, body: event({ id: clientId, actor: { id: "user-b" } }) });
    expect([a.status, b.status]).toEqual([201, 201]);
    expect(a.body.id).not.toBe(b.body.id);
    expect([a.body.client_id, b.body.client_id]).toEqual([clientId, clientId]);
    const stored = await storedUnder(clientId);
    expect(stored.map((row) => row.actor_id).sort()).toEqual(["user-a", "user-b"]);
    expect(new Set(stored.map((row) => row.key_id)).size).toBe(2);
  });

  it("finding 1: 10.1b: an ingest key cannot pre-empt another portal's id; the victim's event is stored, not 'replayed'", async () => {
    const clientId = unique("evt-victim");
    const [attacker, victim] = [await keyWith("ingest"), await keyWith("ingest", "read")];
    expect((await call("POST", "/v1/events", { key: attacker, body: event({ id: clientId, actor: { id: "mallory" } }) })).status).toBe(201);
    const answer = await callJson("POST", "/v1/events", { key: victim, body: event({ id: clientId, actor: { id: "alice" } }) });
    expect(answer.status).toBe(201);
    expect(answer.body.replayed).toBeUndefined();
    // The victim finds its event by its own id; the attacker's event is not what it gets.
    const got = await callJson("GET", `/v1/events/${encodeURIComponent(clientId)}`, { key: victim });
    expect(got.status).toBe(200);
    expect(got.body).toMatchObject({ id: answer.body.id, client_id: clientId, actor: { id: "alice" } });
  });

  it("finding 1: 10.1b: an ingest key cannot pre-empt the id an import derives for a line", async () => {
    const line = JSON.stringify(event({ actor: { id: unique("imported") }, occurred_at: "2025-03-01T10:00:00Z" }));
    const derived = `imp_${(await sha256Hex(line)).slice(0, 32)}`;
    const attacker = await keyWith("ingest");
    expect((await call("POST", "/v1/events", { key: attacker, body: event({ id: derived, actor: { id: "mallory" } }) })).status).toBe(201);
    const imported = await callJson("POST", "/v1/events/import", { rawBody: `${line}\n`, contentType: "application/x-ndjson" });
    expect(imported.body).toMatchObject({ valid: 1, inserted: 1, replayed: 0 });
    expect((await storedUnder(derived)).length).toBe(2);
  });

  it("answers a same-key, same-content retry as a replay of the stored event and stores nothing new", async () => {
    const clientId = unique("evt-retry");
    const first = await callJson("POST", "/v1/events", { body: event({ id: clientId }) });
    await flushLedger();
    const retry = await callJson("POST", "/v1/events", { body: event({ id: clientId }) });
    expect(first.status).toBe(201);
    expect(retry.status).toBe(200);
    expect(retry.body).toEqual({ ...first.body, replayed: true });
    expect((await storedUnder(clientId)).length).toBe(1);
  });

  it("answers 409 conflict for a same-key retry whose content differs, staged or already in D1", async () => {
    const clientId = unique("evt-changed");
    expect((await call("POST", "/v1/events", { body: event({ id: clientId, bytes: 10 }) })).status).toBe(201);
    await expectError(await call("POST", "/v1/events", { body: event({ id: clientId, bytes: 11 }) }), 409, "conflict");
    await flushLedger();
    await expectError(await call("POST", "/v1/events", { body: event({ id: clientId, bytes: 12 }) }), 409, "conflict");
    const got = await callJson("GET", `/v1/events/${encodeURIComponent(clientId)}`);
    expect(got.body.bytes).toBe(10);
  });

  it("lets another key read an event by its stored id, but resolves a client id only within the caller's own key", async () => {
    const clientId = unique("evt-read");
    const writer = await keyWith("ingest");
    const reader = await keyWith("read");
    const { body } = await callJson("POST", "/v1/events", { key: writer, body: event({ id: clientId }) });
    await flushLedger();
    expect((await callJson("GET", `/v1/events/${body.id}`, { key: reader })).body).toMatchObject({ id: body.id, client_id: clientId });
    await expectError(await call("GET", `/v1/events/${encodeURIComponent(clientId)}`, { key: reader }), 404, "not_found");
  });

  it("lists a batch item whose id is already stored with other content under rejected (path id) and stores nothing for it", async () => {
    const clientId = unique("evt-batch");
    expect((await call("POST", "/v1/events", { body: event({ id: clientId, bytes: 1 }) })).status).toBe(201);
    const { status, body } = await callJson("POST", "/v1/events/batch", {
      body: { events: [event({ id: clientId, bytes: 2 }), event({ id: clientId, bytes: 1 })] },
    });
    expect(status).toBe(200);
    expect(body).toMatchObject({ accepted: 0, replayed: 1, rejected: [{ index: 0, errors: [{ path: "id" }] }] });
    expect(body.ids).toHaveLength(1);
    expect((await storedUnder(clientId)).length).toBe(1);
  });
});
