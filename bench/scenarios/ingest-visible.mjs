// Ingest → visible: while single-event load runs, probe events are posted and GET /v1/events is polled until each appears.
import { describeStatuses, percentile } from "../lib/load.mjs";

const resourceType = "bench-visible";
const PROBE_EVERY_MS = 200;
const POLL_EVERY_MS = 25;
const GIVE_UP_MS = 30_000;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Posts one event with a unique resource id and polls the filtered list until it is there; ms from POST to visible. */
async function probe(ctx, events, n) {
  const resourceId = `probe-${Date.now()}-${n}`;
  const started = performance.now();
  const body = { ...events.event({ resourceType }), resource: { type: resourceType, id: resourceId } };
  await ctx.api.call("/v1/events", { method: "POST", key: ctx.keys.ingest[n % ctx.keys.ingest.length], body, headers: { "cf-connecting-ip": events.ip() } });
  const query = `/v1/events?resource_type=${resourceType}&resource_id=${resourceId}&limit=1`;
  while (performance.now() - started < GIVE_UP_MS) {
    const page = await ctx.api.call(query, { key: ctx.keys.read[n % ctx.keys.read.length] });
    if (page.data.length > 0) return performance.now() - started;
    await sleep(POLL_EVERY_MS);
  }
  return null;
}

export default {
  name: "ingest-visible",
  description: "ingest → visible in GET /v1/events (p50/p99 of visibility) under concurrent single-event load",
  order: 30,
  async run(ctx) {
    const events = ctx.events(31);
    const probeEvents = ctx.events(32);
    const background = ctx.load({
      warmupSeconds: 0,
      request: (n) => ({
        method: "POST",
        path: "/v1/events",
        headers: {
          authorization: `Bearer ${ctx.keys.ingest[n % ctx.keys.ingest.length]}`,
          "content-type": "application/json",
          "cf-connecting-ip": events.ip(),
        },
        body: JSON.stringify(events.event({ resourceType: "bench-single" })),
      }),
    });
    const probes = [];
    const until = Date.now() + ctx.options.duration * 1000 - 500;
    for (let n = 0; Date.now() < until; n++) {
      probes.push(probe(ctx, probeEvents, n));
      await sleep(PROBE_EVERY_MS);
    }
    const [load, latencies] = await Promise.all([background, Promise.all(probes)]);
    const seen = latencies.filter((ms) => ms !== null).sort((a, b) => a - b);
    const lost = latencies.length - seen.length;
    return {
      figures: { p50Ms: percentile(seen, 50), p99Ms: lost > 0 ? Infinity : percentile(seen, 99), peakRssMb: load.peakRssMb, workerdCpuPercent: load.workerdCpuPercent },
      notes: [
        `latency = POST sent → first GET /v1/events page containing the event; ${latencies.length} probes (one per ${PROBE_EVERY_MS} ms, polled every ${POLL_EVERY_MS} ms), max ${Math.round(seen.at(-1) ?? 0)} ms${lost ? `, ${lost} not visible within ${GIVE_UP_MS / 1000} s` : ""}`,
        `background load: ${load.rps.toFixed(0)} rps of single-event ingest (${describeStatuses(load)})`,
      ],
      targets: [{ metric: "p99Ms", op: "<=", value: 2000, label: "visible ≤ 2 s at p99" }],
      details: { latencies, load },
    };
  },
};
