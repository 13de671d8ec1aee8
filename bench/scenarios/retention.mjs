// Retention of the seeded ledger: POST /v1/maintenance/retention with older_than_days=1 archives every day but today and
// yesterday to R2 (gzip NDJSON and a Parquet copy), verifies each archive and deletes the rows, after an untimed rollup
// run (as the cron would have made one). Runs last: it empties the shared ledger.
import { sampleProcess } from "../lib/load.mjs";

export default {
  name: "retention",
  description: "POST /v1/maintenance/retention (archive to R2 + verify + delete) of the seeded ledger; runs last, it empties the ledger",
  order: 95,
  async run(ctx) {
    const seeded = await ctx.ensureSeeded(ctx.options.events);
    // A day's rows are deleted only once its rollup holds them, and the rollup leaves events received within
    // ROLLUP_SETTLE_SECONDS (60 s by default) to a later run: wait until every seeded event is older than that.
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, seeded.finishedAt + 61_000 - Date.now())));
    // In production the quarter-hour rollup has long rolled up a day before retention reaches it: so here too, untimed
    // (a day whose rows did not change since is then not rebuilt by retention).
    const rollupStarted = performance.now();
    const rollup = await ctx.api.call("/v1/maintenance/rollup", { method: "POST", body: {} });
    const rollupSeconds = (performance.now() - rollupStarted) / 1000;
    const dry = await ctx.api.call("/v1/maintenance/retention", { method: "POST", body: { older_than_days: 1, dry_run: true } });
    const sampler = sampleProcess(ctx.server.workerdPid);
    const started = performance.now();
    // Oldest days first, two weeks of history per request, so no request outlives the HTTP client's 5-minute timeout.
    const results = [];
    for (const olderThanDays of [78, 64, 50, 36, 22, 8, 1])
      results.push(await ctx.api.call("/v1/maintenance/retention", { method: "POST", body: { older_than_days: olderThanDays } }));
    const seconds = (performance.now() - started) / 1000;
    const { peakRssMb, cpuPercent } = await sampler.stop();
    const deleted = results.reduce((sum, result) => sum + result.deleted, 0);
    const archived = results.reduce((sum, result) => sum + result.archived.length, 0);
    return {
      figures: { rowsPerSecond: deleted / seconds, peakRssMb, workerdCpuPercent: cpuPercent },
      notes: [
        `${deleted.toLocaleString("en-US")} of ${dry.events.toLocaleString("en-US")} rows older than ${dry.cutoff} archived into ${archived} day objects, verified and deleted in ${seconds.toFixed(1)} s by ${results.length} requests (ledger of ${seeded.count.toLocaleString("en-US")} seeded events plus earlier scenarios' events)`,
        "every statement is checked against D1's production limits in code (≤ 100 bound parameters, ≤ 100 KB SQL, deletes of ≤ 1,000 ids each)",
        `rolled up first, untimed, as the quarter-hour cron would have: ${rollup.days} days in ${rollupSeconds.toFixed(1)} s`,
      ],
      targets: [{ metric: "rowsPerSecond", op: ">=", value: 50_000, label: "≥ 50,000 rows/s", atEvents: 1_000_000 }],
      details: { dry, rollup, rollupSeconds, results, seconds },
    };
  },
};
