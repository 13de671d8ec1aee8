// Retention of the seeded ledger: POST /v1/maintenance/retention with older_than_days=1 archives every day but today and
// yesterday to R2 (gzip NDJSON), verifies each archive and deletes the rows. Runs last: it empties the shared ledger.
import { sampleProcess } from "../lib/load.mjs";

export default {
  name: "retention",
  description: "POST /v1/maintenance/retention (archive to R2 + verify + delete) of the seeded ledger; runs last, it empties the ledger",
  order: 95,
  async run(ctx) {
    const seeded = await ctx.ensureSeeded(ctx.options.events);
    const body = { older_than_days: 1 };
    const dry = await ctx.api.call("/v1/maintenance/retention", { method: "POST", body: { ...body, dry_run: true } });
    const sampler = sampleProcess(ctx.server.workerdPid);
    const started = performance.now();
    const result = await ctx.api.call("/v1/maintenance/retention", { method: "POST", body });
    const seconds = (performance.now() - started) / 1000;
    const { peakRssMb, cpuPercent } = await sampler.stop();
    return {
      figures: { rowsPerSecond: result.deleted / seconds, peakRssMb, workerdCpuPercent: cpuPercent },
      notes: [
        `${result.deleted.toLocaleString("en-US")} of ${dry.events.toLocaleString("en-US")} rows older than ${result.cutoff} archived into ${result.archived.length} day objects, verified and deleted in ${seconds.toFixed(1)} s (ledger of ${seeded.count.toLocaleString("en-US")} seeded events plus earlier scenarios' events)`,
        "every statement is checked against D1's production limits in code (≤ 100 bound parameters, ≤ 100 KB SQL, deletes of ≤ 1,000 ids each)",
      ],
      targets: [{ metric: "rowsPerSecond", op: ">=", value: 50_000, label: "≥ 50,000 rows/s", atEvents: 1_000_000 }],
      details: { dry, result, seconds },
    };
  },
};
