// NDJSON import through POST /v1/events/import (5,000 lines a request, 2 in flight): events/s stored in D1 (an import
// answers only after its rows are in D1, so acknowledged is stored), apart from the read scenarios' seeding.
import { sampleProcess } from "../lib/load.mjs";
import { importHistory } from "../lib/workload.mjs";

const resourceType = "bench-import";

export default {
  name: "ingest-import",
  description: "POST /v1/events/import, NDJSON with client ids, 5,000 lines a request, 2 in flight; events/s stored",
  order: 25,
  async run(ctx) {
    const total = ctx.options.full ? 200_000 : 50_000;
    const generator = ctx.events(25);
    const sampler = sampleProcess(ctx.server.workerdPid);
    const started = performance.now();
    const sums = await importHistory({
      api: ctx.api,
      total,
      makeEvent: (index) => ({ ...generator.event({ resourceType, ip: generator.ip(), occurredWithinDays: 30 }), id: `import-${index}` }),
    });
    const seconds = (performance.now() - started) / 1000;
    const { peakRssMb, cpuPercent } = await sampler.stop();
    return {
      figures: { eventsPerSecond: sums.inserted / seconds, p50Ms: (seconds * 1000) / sums.requests, peakRssMb, workerdCpuPercent: cpuPercent },
      notes: [
        `${sums.inserted.toLocaleString("en-US")} of ${total.toLocaleString("en-US")} lines stored (${sums.replayed} replayed, ${sums.invalid} invalid) by ${sums.requests} requests in ${seconds.toFixed(1)} s; p50 column = mean time per 5,000-line request with 2 in flight`,
      ],
      targets: [{ metric: "eventsPerSecond", op: ">=", value: 20_000, label: "≥ 20,000 events/s" }],
      details: { sums, seconds },
    };
  },
};
