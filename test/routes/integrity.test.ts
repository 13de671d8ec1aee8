import { env } from "cloudflare:workers";
import { beforeEach, describe, expect, it } from "vitest";
import { checkChain, checkProof, checkWindows } from "../../src/core/integrity/offline";
import type { PublicJwk } from "../../src/core/integrity/signing";
import { continuePendingVerifications, continueVerification, getVerification, startVerification } from "../../src/core/integrity/verify";
import { call, callJson, callWithEnv, event, expectError, keyWith, unique } from "../helpers";
import { clearAll, config, rowsAt, sealUntil } from "../core/integrity/fixtures";

const T = Math.floor((Date.now() - 86_400_000) / 1000) * 1000;

async function trusted(): Promise<Map<string, PublicJwk>> {
  const { body } = await callJson("GET", "/v1/integrity/keys", { key: await keyWith("read") });
  return new Map(body.keys.map((key: { key_id: string; jwk: PublicJwk }) => [key.key_id, key.jwk]));
}

describe("integrity endpoints", () => {
  beforeEach(async () => {
    await clearAll();
    await rowsAt("a", Array.from({ length: 600 }, (_, index) => T + 1000 + index));
    await sealUntil(T + 10_000);
    await rowsAt("b", [T + 11_000, T + 12_000]);
    await sealUntil(T + 20_000);
  });

  it("GET /v1/integrity/keys lists the current public key to a read key, never the private part; 401 without a key", async () => {
    await expectError(await call("GET", "/v1/integrity/keys", { key: null }), 401, "unauthorized");
    const response = await call("GET", "/v1/integrity/keys", { key: await keyWith("read") });
    expect(response.status).toBe(200);
    const body = (await response.json()) as { keys: { key_id: string; status: string; jwk: Record<string, string> }[] };
    expect(body.keys).toEqual([
      { key_id: "test-2026-11", algorithm: "Ed25519", status: "current", jwk: { kty: "OKP", crv: "Ed25519", x: "yVmpHxs396g1xDL6LbI1fSCW6Qiq7LzmbpG_JD8pXxI", kid: "test-2026-11" } },
    ]);
    expect(JSON.stringify(body)).not.toContain('"d"');
  });

  it("GET /v1/integrity/keys keeps retired keys listed after a rotation", async () => {
    const retired = { kty: "OKP", crv: "Ed25519", x: "TcsP-OnwBkbocMADNax4SQwZy4gxW_s0rr-1sQuxMfU", kid: "test-other" };
    const response = await callWithEnv({ SEAL_RETIRED_PUBLIC_KEYS: JSON.stringify([retired]) }, "GET", "/v1/integrity/keys");
    const body = (await response.json()) as { keys: { key_id: string; status: string }[] };
    expect(body.keys.map((key) => [key.key_id, key.status])).toEqual([["test-2026-11", "current"], ["test-other", "retired"]]);
  });

  it("GET /v1/integrity/seals pages the chain for a read key; 401 without a key, 403 for an ingest-only key", async () => {
    const read = await keyWith("read");
    const { status, body } = await callJson("GET", "/v1/integrity/seals?limit=1", { key: read });
    expect(status).toBe(200);
    expect(body.data).toHaveLength(1);
    expect(body.data[0]).toMatchObject({ from: 0, to: T + 10_000, tree_size: 600 });
    const next = await callJson("GET", `/v1/integrity/seals?limit=1&from=${encodeURIComponent(body.next_from)}`, { key: read });
    expect(next.body).toMatchObject({ data: [{ from: T + 10_000, to: T + 20_000, tree_size: 2 }], next_from: null });
    expect(await checkChain([body.data[0], next.body.data[0]], await trusted())).toEqual([{ ok: true, message: "2 seal(s): signatures and chain ok" }]);
    await expectError(await call("GET", "/v1/integrity/seals", { key: null }), 401, "unauthorized");
    await expectError(await call("GET", "/v1/integrity/seals", { key: await keyWith("ingest") }), 403, "forbidden");
    await expectError(await call("GET", "/v1/integrity/seals?from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z", { key: read }), 400, "invalid_request");
  });

  it("POST /v1/integrity/seal is admin only and seals up to now − margin", async () => {
    await expectError(await call("POST", "/v1/integrity/seal", { key: await keyWith("read") }), 403, "forbidden");
    const { status, body } = await callJson("POST", "/v1/integrity/seal");
    expect(status).toBe(200);
    expect(body.sealed).toHaveLength(1);
    expect(body.sealed[0].from).toBe(T + 20_000);
    expect(body.sealed_to).toBeLessThanOrEqual(Date.now() - config().sealMarginMs);
  });

  it("POST /v1/integrity/seal answers 503 while SEAL_SIGNING_KEY is unset", async () => {
    await expectError(await callWithEnv({ SEAL_SIGNING_KEY: undefined }, "POST", "/v1/integrity/seal"), 503, "unavailable");
  });

  it("GET /v1/integrity/proof/{id} proves any leaf of a 600-row window (three chunks) to a third party", async () => {
    const read = await keyWith("read");
    const keys = await trusted();
    for (const [id, index] of [["a-0", 0], ["a-255", 255], ["a-256", 256], ["a-599", 599]] as const) {
      const { status, body } = await callJson("GET", `/v1/integrity/proof/${id}`, { key: read });
      expect(status).toBe(200);
      expect(body).toMatchObject({ event_id: id, leaf_index: index, tree_size: 600, seal: { from: 0, to: T + 10_000 } });
      expect(body.sealed_row).toMatchObject({ id, received_at: T + 1000 + index });
      expect(await checkProof(body, keys)).toEqual([expect.objectContaining({ ok: true })]);
      const forged = { ...body, sealed_row: { ...body.sealed_row, bytes: 1 }, canonical: body.canonical };
      expect((await checkProof(forged, keys)).some((finding) => !finding.ok)).toBe(true);
      const wrongPath = { ...body, leaf_index: index === 0 ? 1 : index - 1 };
      expect((await checkProof(wrongPath, keys)).some((finding) => !finding.ok)).toBe(true);
    }
  });

  it("GET /v1/integrity/proof/{id}: 404 for an unknown event, 409 for one not sealed yet, 401 without a key", async () => {
    await expectError(await call("GET", "/v1/integrity/proof/nope"), 404, "not_found");
    await rowsAt("fresh", [Date.now()]);
    await expectError(await call("GET", "/v1/integrity/proof/fresh-0"), 409, "conflict");
    await expectError(await call("GET", "/v1/integrity/proof/a-0", { key: null }), 401, "unauthorized");
  });

  it("POST /v1/integrity/verify answers at once for a short range, and reports what is wrong", async () => {
    const range = { from: new Date(0).toISOString(), to: new Date(T + 20_000).toISOString() };
    const ok = await callJson("POST", "/v1/integrity/verify", { body: range });
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ status: "done", ok: true, windows: 2, rows: 602, problems: [], requested_by: "bootstrap-admin" });
    await env.DB.prepare("DELETE FROM events WHERE id = 'b-0'").run();
    const bad = await callJson("POST", "/v1/integrity/verify", { body: range });
    expect(bad.body).toMatchObject({ ok: false, problems: [{ kind: "count_differs", from: T + 10_000, to: T + 20_000, detail: "sealed 2 rows, found 1" }] });
    const status = await callJson("GET", "/v1/integrity/status");
    expect(status.body).toMatchObject({ last_seal: { to: T + 20_000 }, last_verification: { id: bad.body.id, ok: false } });
  });

  it("POST /v1/integrity/verify runs a long range as a job that starts at once", async () => {
    const range = { from: new Date(0).toISOString(), to: new Date(T + 20_000).toISOString() };
    const response = await callWithEnv({ VERIFY_INLINE_ROWS: "0" }, "POST", "/v1/integrity/verify", { body: range });
    expect(response.status).toBe(202);
    const started = (await response.json()) as { id: string; status: string };
    expect(started.status).toBe("pending");
    const { body } = await callJson("GET", `/v1/integrity/verifications/${started.id}`);
    expect(body).toMatchObject({ status: "done", ok: true, windows: 2, rows: 602 });
    await expectError(await call("GET", "/v1/integrity/verifications/nope"), 404, "not_found");
  });

  it("the quarter-hour cron carries pending verifications on, a budget at a time, to the end", async () => {
    const pending = await startVerification(env, { ...config(), verifyInlineRows: 0 }, { from: 0, to: T + 20_000, requestedBy: "test" });
    expect(pending.status).toBe("pending");
    await continueVerification(env, config(), pending.id, 0);
    expect(await getVerification(env.DB, pending.id)).toMatchObject({ status: "pending", windows: 1 });
    expect(await continuePendingVerifications(env, config())).toBe(1);
    expect(await getVerification(env.DB, pending.id)).toMatchObject({ status: "done", ok: true, windows: 2, rows: 602 });
  });

  it("POST /v1/integrity/verify validates its range and is admin only", async () => {
    await expectError(await call("POST", "/v1/integrity/verify", { body: { from: "2026-02-01T00:00:00Z", to: "2026-01-01T00:00:00Z" } }), 400, "invalid_request");
    await expectError(await call("POST", "/v1/integrity/verify", { body: { from: "yesterday" } }), 400, "invalid_request");
    await expectError(await call("POST", "/v1/integrity/verify", { key: await keyWith("read"), body: { from: "2026-01-01T00:00:00Z", to: "2026-02-01T00:00:00Z" } }), 403, "forbidden");
  });

  it("GET /v1/integrity/rows exports the sealed rows, from which the windows rebuild offline", async () => {
    const read = await keyWith("read");
    const response = await call("GET", `/v1/integrity/rows?from=0&to=${T + 20_000}`, { key: read });
    expect(response.status).toBe(200);
    const rows = (await response.text()).trim().split("\n").map((line) => JSON.parse(line));
    expect(rows).toHaveLength(602);
    expect(Object.keys(rows[0])).not.toContain("email");
    const seals = (await callJson("GET", "/v1/integrity/seals", { key: read })).body.data;
    expect(checkWindows(seals, rows)).toEqual([{ ok: true, message: "2 of 2 window(s) match their seals" }]);
    rows[3].bytes = 7;
    expect(checkWindows(seals, rows)[0]).toMatchObject({ ok: false, message: expect.stringContaining("root differs") });
    await expectError(await call("GET", `/v1/integrity/rows?from=${T}&to=${T}`, { key: read }), 400, "invalid_request");
    await expectError(await call("GET", "/v1/integrity/rows?from=0&to=1", { key: null }), 401, "unauthorized");
    await expectError(await call("GET", "/v1/integrity/rows?from=0&to=1", { key: await keyWith("ingest") }), 403, "forbidden");
  });
});

describe("admin actions are recorded in the ledger", () => {
  beforeEach(clearAll);

  it("key creation and revocation appear as admin.* events with the acting key as actor", async () => {
    const admin = await keyWith("admin");
    const adminId = (await callJson("GET", "/v1/keys")).body.data.find((key: { scopes: string[] }) => key.scopes.includes("admin")).id;
    const created = await callJson("POST", "/v1/keys", { key: admin, body: { name: "partner", scopes: ["read"] } });
    await callJson("DELETE", `/v1/keys/${created.body.id}`, { key: admin });
    const creations = await callJson("GET", "/v1/events?action=admin.key.create");
    const mine = creations.body.data.find((item: { resource: { id: string } }) => item.resource.id === created.body.id);
    expect(mine).toMatchObject({ action: "admin.key.create", status: "success", actor: { id: adminId }, resource: { type: "api_key" }, meta: { scopes: ["read"] } });
    // Named regression: read keys see admin events, so they carry neither the secret, its prefix nor the key's name.
    for (const secret of [created.body.key, created.body.prefix, "partner"]) expect(JSON.stringify(mine)).not.toContain(secret);
    const revocations = await callJson("GET", "/v1/events?action=admin.key.revoke");
    expect(revocations.body.data).toEqual([expect.objectContaining({ actor: expect.objectContaining({ id: adminId }), resource: expect.objectContaining({ id: created.body.id }) })]);
  });

  it("imports, retention and rollup runs and restores are recorded; dry runs are not", async () => {
    await call("POST", "/v1/events/import?dry_run=true", { rawBody: `${JSON.stringify(event({ id: unique("imp") }))}\n`, contentType: "application/x-ndjson" });
    await call("POST", "/v1/events/import", { rawBody: `${JSON.stringify(event({ id: unique("imp") }))}\n`, contentType: "application/x-ndjson" });
    await call("POST", "/v1/maintenance/retention", { body: { dry_run: true } });
    await call("POST", "/v1/maintenance/retention", { body: {} });
    await call("POST", "/v1/maintenance/rollup", { body: {} });
    const actions = async (action: string) => (await callJson("GET", `/v1/events?action=${action}`)).body.data;
    expect(await actions("admin.events.import")).toEqual([expect.objectContaining({ meta: expect.objectContaining({ format: "ndjson", inserted: 1 }) })]);
    expect(await actions("admin.retention.run")).toHaveLength(1);
    expect(await actions("admin.rollup.run")).toEqual([expect.objectContaining({ meta: expect.objectContaining({ mode: "incremental" }) })]);
  });

  it("archive restores are recorded with their outcome", async () => {
    await rowsAt("old", [Date.now() - 3_600_000], Date.now() - 200 * 86_400_000);
    const retention = await callJson("POST", "/v1/maintenance/retention", { body: {} });
    expect(retention.body.archived).toHaveLength(1);
    await call("POST", "/v1/archives/restore", { body: { key: retention.body.archived[0] } });
    const restores = (await callJson("GET", "/v1/events?action=admin.archive.restore")).body.data;
    expect(restores).toEqual([
      expect.objectContaining({ actor: expect.objectContaining({ id: "bootstrap-admin" }), resource: expect.objectContaining({ type: "archive", id: retention.body.archived[0] }), meta: expect.objectContaining({ rows: 1, restored: 1 }) }),
    ]);
  });

  it("clients cannot write admin.* events (ingest, batch and import refuse them)", async () => {
    const ingest = await keyWith("ingest");
    const single = await expectError(await call("POST", "/v1/events", { key: ingest, body: event({ action: "admin.key.create" }) }), 400, "invalid_request");
    expect(JSON.stringify(single.details)).toContain("admin.*");
    const batch = await callJson("POST", "/v1/events/batch", { key: ingest, body: { events: [event({ action: "admin.key.revoke" })] } });
    expect(batch.body).toMatchObject({ accepted: 0, rejected: [{ index: 0 }] });
  });
});
