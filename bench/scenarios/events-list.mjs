// Filtered GET /v1/events pages over a seeded ledger (100,000 events by default, 1,000,000 with --full).
import { describeStatuses, loadFigures } from "../lib/load.mjs";
import { POOL } from "../lib/workload.mjs";

const DAY_MS = 86_400_000;

/** A realistic mix of the filters a portal uses, each over the seeded pools. */
function filteredQuery(events) {
  const record = events.pick(POOL.records);
  const dayStart = Date.now() - (1 + events.pick(89)) * DAY_MS;
  const filters = [
    `resource_type=dataset&resource_id=rec-${record}`,
    `doi=10.5281/bench.${record}`,
    `organisation=${encodeURIComponent(`Organisation ${events.pick(POOL.organisations)}`)}`,
    `actor_id=user-${events.pick(POOL.users)}`,
    "action=metadata.download",
    "status=failure",
    `from=${new Date(dayStart).toISOString()}&to=${new Date(dayStart + DAY_MS).toISOString()}`,
    `action=download&from=${new Date(dayStart).toISOString()}`,
  ];
  return `/v1/events?${filters[events.pick(filters.length)]}&limit=50`;
}

export default {
  name: "events-list",
  description: "GET /v1/events with varied filters (resource, DOI, organisation, actor, action, status, date range), 50 per page",
  order: 40,
  async run(ctx) {
    const seeded = await ctx.ensureSeeded(ctx.options.events);
    const events = ctx.events(41);
    const load = await ctx.load({
      request: (n) => ({
        method: "GET",
        path: filteredQuery(events),
        headers: { authorization: `Bearer ${ctx.keys.read[n % ctx.keys.read.length]}`, "cf-connecting-ip": events.ip() },
      }),
    });
    return {
      compareTo: "get",
      figures: loadFigures(load),
      notes: [
        `ledger of ${seeded.count.toLocaleString("en-US")} seeded events over 90 days (imported in ${seeded.seconds.toFixed(1)} s, ${Math.round(seeded.count / seeded.seconds).toLocaleString("en-US")} events/s) plus the events of earlier scenarios`,
        describeStatuses(load),
      ],
      targets: [{ metric: "ratio", op: ">=", value: 0.1, label: "≥ 0.10× bare-Hono rps", atEvents: 1_000_000 }],
      details: { load, seeded },
    };
  },
};
