// Opt-in breakdown of the app's fixed costs: the middleware alone (unknown route), one D1 read (/health), and an
// authenticated minimal read (key lookup + per-key limit + a one-row page), each against the bare-Hono GET.
import { describeStatuses, loadFigures } from "../lib/load.mjs";

export default {
  name: "app-floor",
  description: "app fixed costs: unknown route (middleware only), GET /health (one D1 query), GET /v1/events?limit=1 (auth)",
  order: 5,
  defaultRun: false,
  async run(ctx) {
    const events = ctx.events(5);
    const probes = [
      ["app 404 (middleware only)", () => ({ method: "GET", path: "/bench-unknown-route" })],
      ["app GET /health (1 D1 query)", () => ({ method: "GET", path: "/health" })],
      [
        "app GET /v1/events?limit=1 (auth + key limit)",
        (n) => ({ method: "GET", path: "/v1/events?limit=1", headers: { authorization: `Bearer ${ctx.keys.read[n % ctx.keys.read.length]}`, "cf-connecting-ip": events.ip() } }),
      ],
    ];
    const rows = [];
    for (const [label, request] of probes) {
      const load = await ctx.load({ request });
      rows.push({ label, compareTo: "get", figures: loadFigures(load), notes: [describeStatuses(load)], details: { load } });
    }
    return rows;
  },
};
