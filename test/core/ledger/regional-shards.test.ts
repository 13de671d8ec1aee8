import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { app } from "../../../src/app";
import { allLedgerShards, idShard, ledgerStub, regionalShard } from "../../../src/core/ledger/pipeline";
import { clientEventId } from "../../../src/core/ledger/ingest";
import { getConfig } from "../../../src/lib/config";
import { hmacHex } from "../../../src/lib/crypto";
import { bytesOf, createLink, createRecord, uniqueId, uploadFile } from "../../catalog-helpers";
import { ADMIN_KEY, countRows, event, flushLedger, unique } from "../../helpers";

const config = getConfig(env);
const AFRICA = { continent: "AF", country: "ZA", longitude: "28.04" };
const OCEANIA = { continent: "OC", country: "AU", longitude: "151.2" };

interface Call {
  binding: "LEDGER_SHARD" | "RATE_LIMITER";
  name: string;
  locationHint: string | undefined;
}

/** The Worker's environment with its Durable Object namespaces wrapped so that every stub the Worker asks for is recorded. */
function recordingEnv(settings: Record<string, string> = {}) {
  const calls: Call[] = [];
  const wrap = <B extends Call["binding"]>(binding: B) =>
    ({
      getByName: (name: string, options?: DurableObjectNamespaceGetDurableObjectOptions) => {
        calls.push({ binding, name, locationHint: options?.locationHint });
        return env[binding].getByName(name, options);
      },
    }) as unknown as Env[B];
  return { calls, env: { ...env, ...settings, LEDGER_SHARD: wrap("LEDGER_SHARD"), RATE_LIMITER: wrap("RATE_LIMITER") } as Env };
}

/** POSTs an event from a client the edge placed at `cf` (no ledger flush first: staged events stay staged). */
async function postFrom(cf: Record<string, unknown> | undefined, body: unknown, workerEnv: Env = env) {
  const ctx = createExecutionContext();
  const response = await app.fetch(
    new Request("http://localhost/v1/events", {
      method: "POST",
      headers: { authorization: `Bearer ${ADMIN_KEY}`, "content-type": "application/json" },
      body: JSON.stringify(body),
      ...(cf ? { cf } : {}),
    }),
    workerEnv,
    ctx,
  );
  await waitOnExecutionContext(ctx);
  return { status: response.status, body: (await response.json()) as any, headers: response.headers };
}

const randomIp = () => `198.18.${Math.floor(Math.random() * 256)}.${1 + Math.floor(Math.random() * 254)}`;
const ipHash = (ip: string) => hmacHex(config.piiKey, `ip:${ip}`);

describe("regional ledger shards: a guarded download costs one nearby Durable Object call", () => {
  it("stages a download without a client id in its IP's shard of the client's region, with that region as location hint, in one call", async () => {
    const ip = randomIp();
    const recording = recordingEnv();
    const response = await postFrom(AFRICA, event({ client: { ip, user_agent: "region-test" }, actor: undefined }), recording.env);
    expect(response.status).toBe(201);
    expect(response.headers.get("ratelimit-limit")).toBe("100");
    expect(response.headers.get("ratelimit-remaining")).toBe("99");
    // One call in all: the IP's limit and the staging share it; no RateLimiter call (the byte budget is off).
    expect(recording.calls).toEqual([{ binding: "LEDGER_SHARD", name: regionalShard(config, "afr", await ipHash(ip)).name, locationHint: "afr" }]);
    expect(recording.calls[0]!.name).toMatch(/^ledger:afr:[0-7]$/);
    const shard = ledgerStub(env, regionalShard(config, "afr", await ipHash(ip)));
    expect(await shard.stateSize()).toMatchObject({ hits: 1 });
  });

  it("stages an event that is no download in its user's shard of the region (one call, no limit)", async () => {
    const recording = recordingEnv();
    const actorId = `u-${crypto.randomUUID()}`;
    const response = await postFrom(OCEANIA, event({ action: "view", actor: { id: actorId } }), recording.env);
    expect(response.status).toBe(201);
    const userKey = await hmacHex(config.piiKey, `id:${actorId}`);
    expect(recording.calls).toEqual([{ binding: "LEDGER_SHARD", name: regionalShard(config, "oc", userKey).name, locationHint: "oc" }]);
  });

  it("stages an event with a client id in its id's shard beside D1's primary, after asking the IP's regional shard for the limit", async () => {
    const ip = randomIp();
    const clientId = `cid-${crypto.randomUUID()}`;
    const recording = recordingEnv();
    const response = await postFrom(AFRICA, event({ id: clientId, client: { ip, user_agent: "region-test" } }), recording.env);
    expect(response.status).toBe(201);
    const storedId = clientEventId("bootstrap-admin", clientId);
    expect(response.body.id).toBe(storedId);
    expect(recording.calls).toEqual([
      { binding: "LEDGER_SHARD", name: regionalShard(config, "afr", await ipHash(ip)).name, locationHint: "afr" },
      { binding: "LEDGER_SHARD", name: idShard(config, storedId).name, locationHint: "enam" },
    ]);
    expect(recording.calls[1]!.name).toMatch(/^ledger:\d+$/);
  });

  it("falls back to D1's primary region (D1_PRIMARY_REGION) when the edge gives no usable continent", async () => {
    for (const [cf, settings, region] of [
      [undefined, {}, "enam"],
      [{ continent: "T1" }, {}, "enam"],
      [{ continent: "AN" }, { D1_PRIMARY_REGION: "weur" }, "weur"],
    ] as const) {
      const recording = recordingEnv(settings);
      const ip = randomIp();
      expect((await postFrom(cf, event({ client: { ip, user_agent: "region-test" }, actor: undefined }), recording.env)).status).toBe(201);
      expect(recording.calls).toEqual([{ binding: "LEDGER_SHARD", name: regionalShard(config, region, await ipHash(ip)).name, locationHint: region }]);
    }
  });

  it("keeps an ingested download at one call with the byte budget on (only downloads the service serves are charged)", async () => {
    const recording = recordingEnv({ DOWNLOAD_BYTES_LIMIT: "1000000" });
    expect((await postFrom(AFRICA, event({ client: { ip: randomIp(), user_agent: "region-test" } }), recording.env)).status).toBe(201);
    expect(recording.calls.map((call) => call.binding)).toEqual(["LEDGER_SHARD"]);
  });

  it("serves a signed download with the byte budget on: the user's budget shard, then the IP's shard, both in the client's region with its hint", async () => {
    const id = uniqueId("regional");
    await createRecord(id, { public: false });
    await uploadFile(id, "obs.csv", bytesOf(100, 3));
    const path = await createLink({ record_id: id, file: "obs.csv", user: { id: `u-${crypto.randomUUID()}` } });
    const recording = recordingEnv({ DOWNLOAD_BYTES_LIMIT: "1000000" });
    const ip = randomIp();
    const ctx = createExecutionContext();
    const response = await app.fetch(new Request(`http://localhost${path}`, { headers: { "cf-connecting-ip": ip }, cf: OCEANIA }), recording.env, ctx);
    await waitOnExecutionContext(ctx);
    expect(response.status).toBe(200);
    await response.arrayBuffer();
    expect(recording.calls.map(({ binding, locationHint }) => [binding, locationHint])).toEqual([
      ["RATE_LIMITER", "oc"],
      ["LEDGER_SHARD", "oc"],
    ]);
    expect(recording.calls[0]!.name).toMatch(/^user:oc:\d+$/);
    expect(recording.calls[1]!.name).toBe(regionalShard(config, "oc", await ipHash(ip)).name);
  });

  it("lists every shard an event can be staged in, so flushes and erasures reach them all", async () => {
    const shards = allLedgerShards(config);
    expect(shards).toHaveLength(config.ledgerShards + 9 * config.ledgerRegionShards);
    expect(shards.map((shard) => shard.name)).toContain(regionalShard(config, "me", "any").name);
    expect(shards.map((shard) => shard.name)).toContain(idShard(config, "any").name);
    expect(new Set(shards.map((shard) => shard.name)).size).toBe(shards.length);
    expect(shards.every((shard) => shard.name.startsWith(`ledger:${shard.region}:`) || /^ledger:\d+$/.test(shard.name))).toBe(true);
  });
});

describe("erasure reaches the regional shards", () => {
  it("flushes an event still staged in a far region's shard before erasing, so its actor details never come back", async () => {
    const email = `${unique("erase")}@example.org`;
    const staged = await postFrom(AFRICA, event({ action: "view", actor: { email, name: "Staged In Africa" } }));
    expect(staged.status).toBe(201);
    // No flush in between: the event and its actor details are only in the Africa shard's staging.
    const ctx = createExecutionContext();
    const erased = await app.fetch(
      new Request("http://localhost/v1/privacy/erasures", {
        method: "POST",
        headers: { authorization: `Bearer ${ADMIN_KEY}`, "content-type": "application/json" },
        body: JSON.stringify({ email, reason: "regional staging test" }),
      }),
      env,
      ctx,
    );
    await waitOnExecutionContext(ctx);
    expect(erased.status).toBe(200);
    expect(((await erased.json()) as any).removed.actors).toBe(1);
    // Whatever the shards flush later adds nothing back.
    await flushLedger();
    expect(await countRows("actors", `email = '${email}'`)).toBe(0);
    expect(await countRows("events", `id = '${staged.body.id}'`)).toBe(1);
  });
});

describe("client ids across regions: exact replay wherever the retry arrives", () => {
  it("answers a retry from another region as a replay while the first is still staged, and a changed event as a conflict", async () => {
    await flushLedger();
    const clientId = `cross-${crypto.randomUUID()}`;
    const body = event({ id: clientId, action: "view", resource: { type: "dataset", id: clientId } });
    const first = await postFrom(AFRICA, body);
    expect(first.status).toBe(201);
    const retry = await postFrom(OCEANIA, body);
    expect(retry.status).toBe(200);
    expect(retry.body).toMatchObject({ id: first.body.id, replayed: true, received_at: first.body.received_at });
    const changed = await postFrom(undefined, { ...body, message: "other content" });
    expect(changed.status).toBe(409);
    expect(await countRows("events", `id = '${first.body.id}'`)).toBe(1);
    // After the flush the retry from a third region is answered from D1.
    const late = await postFrom({ continent: "SA" }, body);
    expect(late.status).toBe(200);
    expect(late.body).toMatchObject({ id: first.body.id, replayed: true });
    expect(await countRows("events", `id = '${first.body.id}'`)).toBe(1);
  });
});

describe("what regional shards trade (docs/architecture.md → Regional shards)", () => {
  it("limits an IP per region: its limit in one region does not hold it back in another", async () => {
    const ip = randomIp();
    const settings = recordingEnv({ DOWNLOAD_RATE_LIMIT: "1" }).env;
    const download = () => event({ client: { ip, user_agent: "limit-test" }, actor: undefined });
    expect((await postFrom(AFRICA, download(), settings)).status).toBe(201);
    expect((await postFrom(AFRICA, download(), settings)).status).toBe(429);
    expect((await postFrom(OCEANIA, download(), settings)).status).toBe(201);
  });

  it("dedups a user's downloads within a region (also across the user's IPs), not across regions", async () => {
    const actorId = `u-${crypto.randomUUID()}`;
    const download = (ip: string) => event({ actor: { id: actorId }, client: { ip, user_agent: "dedup-test" }, resource: { type: "dataset", id: "regional" } });
    const first = await postFrom(AFRICA, download(randomIp()));
    expect(first.body.duplicate_of).toBeNull();
    // Another IP of the same person in the same region: the IP's shard asks the user's shard of the region.
    const otherIp = await postFrom(AFRICA, download(randomIp()));
    expect(otherIp.body.duplicate_of).toBe(first.body.id);
    // The same person reaching another region within the window opens a window there: counted again at ingest.
    const elsewhere = await postFrom(OCEANIA, download(randomIp()));
    expect(elsewhere.body.duplicate_of).toBeNull();
  });

  it("dedups an anonymous client (IP + user agent) in its IP's shard, where the download is staged", async () => {
    const ip = randomIp();
    const download = () => event({ actor: undefined, client: { ip, user_agent: "anonymous-dedup" }, resource: { type: "dataset", id: "regional-anon" } });
    const shard = ledgerStub(env, regionalShard(config, "afr", await ipHash(ip)));
    const { windows } = await shard.stateSize();
    const first = await postFrom(AFRICA, download());
    const second = await postFrom(AFRICA, download());
    expect(second.body.duplicate_of).toBe(first.body.id);
    expect(await shard.stateSize()).toMatchObject({ windows: windows + 1 });
  });
});
