// A simulated world: clients in six regions, D1's primary in one, Durable Objects where placement puts them. Each request
// type is measured here (its local service time, every hop ~0 ms) and then given the network round trips its path makes
// in production, from a table of inter-region round-trip times. Additive model: p50/p99 = local p50/p99 + Σ hop RTTs.
import { describeStatuses } from "../lib/load.mjs";

/** Cloudflare location-hint regions used here; D1's primary (and thus every write and uncached read) is in `enam`. */
const REGIONS = ["enam", "wnam", "weur", "apac", "oc", "afr"];
const D1_PRIMARY = "enam";

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

/** Where a hash-sharded Durable Object lives for a client: created by whichever client used it first, i.e. anywhere. */
const anywhere = (region) => REGIONS.reduce((sum, other) => sum + rtt(region, other), 0) / REGIONS.length;

/**
 * The production path of each request type, hop by hop (docs/architecture.md → Latency budget). Auth costs no hop: the key
 * comes from the isolate's cache and the per-key limit from a Rate Limiting binding in the same location.
 */
const PATHS = {
  "read (GET /v1/events)": (region) => [["D1 query", rtt(region, D1_PRIMARY)]],
  "stats (GET /v1/stats)": (region) => [["D1 batch", rtt(region, D1_PRIMARY)]],
  "ingest, not a download": (region) => [["ledger shard", anywhere(region)]],
  "ingest, download (guarded)": (region) => [
    ["IP rate-limit shard", anywhere(region)],
    ["ledger shard", anywhere(region)],
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
    const measured = {
      "read (GET /v1/events)": await ctx.load({ ...short, request: (n) => ({ method: "GET", path: "/v1/events?limit=20", headers: { authorization: `Bearer ${key(n, "read")}` } }) }),
      "stats (GET /v1/stats)": await ctx.load({ ...short, request: (n) => ({ method: "GET", path: "/v1/stats?interval=day", headers: { authorization: `Bearer ${key(n, "read")}` } }) }),
      "ingest, not a download": await ctx.load({
        ...short,
        request: (n) => ({
          method: "POST",
          path: "/v1/events",
          headers: { authorization: `Bearer ${key(n, "ingest")}`, "content-type": "application/json", "cf-connecting-ip": events.ip() },
          body: JSON.stringify({ ...events.event({ resourceType: "bench-world" }), action: "view" }),
        }),
      }),
      "ingest, download (guarded)": await ctx.load({
        ...short,
        request: (n) => ({
          method: "POST",
          path: "/v1/events",
          headers: { authorization: `Bearer ${key(n, "ingest")}`, "content-type": "application/json", "cf-connecting-ip": events.ip() },
          body: JSON.stringify(events.event({ resourceType: "bench-world" })),
        }),
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
