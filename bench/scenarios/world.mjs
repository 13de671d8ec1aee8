// A simulated world: clients in six regions, D1's primary in one with read replicas in D1's regions, ledger shards placed
// by location hints. Each request type is measured here (its local service time, every hop ~0 ms) and then given the
// network round trips its path makes in production, from a table of inter-region round-trip times.
// Additive model: p50/p99 = local p50/p99 + Σ hop RTTs.
import { describeStatuses } from "../lib/load.mjs";

/** Cloudflare location-hint regions used here; D1's primary (every D1 write, and reads that must see them) is in `enam`. */
const REGIONS = ["enam", "wnam", "weur", "apac", "oc", "afr"];
const D1_PRIMARY = "enam";
/**
 * Regions with a D1 read replica. D1 creates one in each of its regions (wnam, enam, weur, eeur, apac, oc); Africa has
 * none, so a client there reads from the nearest of them (weur).
 */
const REPLICA_REGIONS = ["enam", "wnam", "weur", "apac", "oc"];

/** Round-trip times (ms) between regions: typical public figures for the hubs (Ashburn, San Jose, Frankfurt, Singapore, Sydney, Johannesburg). */
const RTT = {
  enam: { enam: 8, wnam: 65, weur: 85, apac: 215, oc: 200, afr: 230 },
  wnam: { wnam: 8, weur: 145, apac: 170, oc: 150, afr: 290 },
  weur: { weur: 8, apac: 160, oc: 260, afr: 165 },
  apac: { apac: 8, oc: 95, afr: 260 },
  oc: { oc: 8, afr: 300 },
  afr: { afr: 8 },
};
const rtt = (a, b) => RTT[a]?.[b] ?? RTT[b][a];
const nearestReplica = (region) => Math.min(...REPLICA_REGIONS.map((replica) => rtt(region, replica)));

/**
 * The production path of each request type, hop by hop (docs/architecture.md → Latency budget). Auth costs no hop: the key
 * comes from the isolate's cache and the per-key limit from a Rate Limiting binding in the same location. A regional
 * ledger shard is created with its region as location hint, so a call to it is a round trip within the region; the dedup
 * window of a signed-in user lives in the user's shard of the same region (one object-to-object call there).
 */
const PATHS = {
  "read (GET /v1/events)": (region) => [["D1 replica query", nearestReplica(region)]],
  "stats (GET /v1/stats)": (region) => [["D1 replica batch", nearestReplica(region)]],
  "ingest, not a download": (region) => [["regional ledger shard", rtt(region, region)]],
  "ingest, download, anonymous client (guarded)": (region) => [["IP's regional ledger shard (limit + dedup + staging)", rtt(region, region)]],
  "ingest, download, signed-in user (guarded)": (region) => [
    ["IP's regional ledger shard (limit + staging)", rtt(region, region)],
    ["→ user's regional shard (dedup window)", rtt(region, region)],
  ],
  "ingest, download with a client id (guarded)": (region) => [
    ["IP's regional ledger shard (limit)", rtt(region, region)],
    ["id shard beside D1's primary (replay + staging)", rtt(region, D1_PRIMARY)],
    ["→ D1 look-up of the new id, next door", rtt(D1_PRIMARY, D1_PRIMARY)],
    ["→ dedup shard in D1's region", rtt(D1_PRIMARY, D1_PRIMARY)],
  ],
};

export default {
  name: "world",
  description: "Simulated world: local service time of each request type plus its production round trips, for clients in six regions",
  order: 95,
  async run(ctx) {
    const events = ctx.events(95);
    const key = (n, kind) => ctx.keys[kind][n % ctx.keys[kind].length];
    const short = { duration: Math.min(ctx.options.duration, 5), connections: 4, warmupSeconds: 1 };
    const ingest = (n, body) => ({
      method: "POST",
      path: "/v1/events",
      headers: { authorization: `Bearer ${key(n, "ingest")}`, "content-type": "application/json", "cf-connecting-ip": events.ip() },
      body: JSON.stringify(body),
    });
    const download = (extra = {}) => ({ ...events.event({ resourceType: "bench-world" }), action: "download", status: "success", ...extra });
    const run = `${Date.now().toString(36)}`;
    const measured = {
      "read (GET /v1/events)": await ctx.load({ ...short, request: (n) => ({ method: "GET", path: "/v1/events?limit=20", headers: { authorization: `Bearer ${key(n, "read")}` } }) }),
      "stats (GET /v1/stats)": await ctx.load({ ...short, request: (n) => ({ method: "GET", path: "/v1/stats?interval=day", headers: { authorization: `Bearer ${key(n, "read")}` } }) }),
      "ingest, not a download": await ctx.load({ ...short, request: (n) => ingest(n, { ...events.event({ resourceType: "bench-world" }), action: "view" }) }),
      "ingest, download, anonymous client (guarded)": await ctx.load({ ...short, request: (n) => ingest(n, download({ actor: undefined })) }),
      "ingest, download, signed-in user (guarded)": await ctx.load({
        ...short,
        request: (n) => ingest(n, download({ actor: { id: `world-user-${n % 500}`, email: `world-${n % 500}@bench.example` } })),
      }),
      "ingest, download with a client id (guarded)": await ctx.load({
        ...short,
        request: (n) => ingest(n, download({ id: `world-${run}-${n}-${Math.random().toString(36).slice(2, 10)}`, actor: { id: `world-user-${n % 500}` } })),
      }),
    };
    const rows = [];
    for (const [type, load] of Object.entries(measured)) {
      for (const region of REGIONS) {
        const hops = PATHS[type](region);
        const network = hops.reduce((sum, [, ms]) => sum + ms, 0);
        rows.push({
          label: `world: ${type} from ${region}`,
          figures: { p50Ms: Math.round(load.p50Ms + network), p99Ms: Math.round(load.p99Ms + network) },
          notes: [`${hops.length} round trip(s): ${hops.map(([hop, ms]) => `${hop} ${Math.round(ms)} ms`).join(", ")}; local ${load.p50Ms}/${load.p99Ms} ms`, describeStatuses(load)],
          details: { type, region, hops, local: { p50Ms: load.p50Ms, p99Ms: load.p99Ms } },
        });
      }
    }
    return rows;
  },
};
