// One client IP on purpose: every download hits the same rate-limit object; past the limit the answers are 429 (recorded as denied).
import { answered, describeStatuses, loadFigures } from "../lib/load.mjs";

const resourceType = "bench-hot-ip";
const HOT_IP = "203.0.113.7";

export default {
  name: "hot-ip",
  description: "POST /v1/events downloads from a single CF-Connecting-IP (varied users/records): the per-IP limit under load",
  order: 50,
  async run(ctx) {
    const events = ctx.events(51);
    const before = await ctx.countStored(resourceType);
    // Eight keys: every key's first request from this IP is a key-cache miss, and AUTH_FAILURE_LIMITER refuses an IP's
    // 31st miss a minute with a 429 that is an authentication refusal, not a recorded download.
    const keys = ctx.keys.ingest.slice(0, 8);
    const load = await ctx.load({
      request: (n) => ({
        method: "POST",
        path: "/v1/events",
        headers: {
          authorization: `Bearer ${keys[n % keys.length]}`,
          "content-type": "application/json",
          "cf-connecting-ip": HOT_IP,
        },
        body: JSON.stringify({ ...events.event({ resourceType }), action: "download" }),
      }),
    });
    // Refused downloads are recorded too (status `denied`; after a client's first in a window as a count on one row), so
    // every 201 and 429 is a recorded attempt.
    const drain = await ctx.waitForStored(resourceType, before + answered(load, "201") + answered(load, "429"));
    const refused = load.statusCounts["429"] ?? 0;
    return {
      compareTo: "post",
      figures: { ...loadFigures(load), eventsPerSecond: ((load.statusCounts["201"] ?? 0) + refused) / load.durationSeconds },
      notes: [`${describeStatuses(load)}; ${((refused / Math.max(1, load.requests)) * 100).toFixed(1)}% refused with 429 and recorded as denied; ${drain.note}`],
      details: { load, drain },
    };
  },
};
