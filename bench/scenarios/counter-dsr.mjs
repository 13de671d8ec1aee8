// COUNTER Dataset Report from the rollups: GET /v1/reports/counter/dsr over the seeded ledger (90 days; --full: 1,000,000
// events), once for the last 30 closed days and once for all 90 days, after the rollup run has built the daily COUNTER
// rows. Days are rolled up first, so the report reads rollups only; the JSON is fully read by the client.
import { percentile } from "../lib/load.mjs";

const DAY_MS = 86_400_000;
const SAMPLES = 5;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function timedReports(ctx, path, key) {
  const ms = [];
  let report;
  for (let sample = 0; sample < SAMPLES; sample++) {
    const started = performance.now();
    report = await ctx.api.call(path, { key });
    ms.push(performance.now() - started);
  }
  return { report, p50: percentile(ms.sort((a, b) => a - b), 50), ms };
}

const sumOf = (report, metric) =>
  report["report-datasets"].reduce(
    (sum, item) => sum + item.performance.reduce((inner, p) => inner + p.instance.filter((i) => i["metric-type"] === metric).reduce((s, i) => s + i.count, 0), 0),
    0,
  );

export default {
  name: "counter-dsr",
  description: "GET /v1/reports/counter/dsr from the daily COUNTER rollups: the last 30 days and all 90 seeded days",
  order: 55,
  async run(ctx) {
    const seeded = await ctx.ensureSeeded(ctx.options.events);
    // The rollup leaves events received within ROLLUP_SETTLE_SECONDS (60 s by default) to its next run.
    await sleep(Math.max(0, seeded.finishedAt + 61_000 - Date.now()));
    const rollupStarted = performance.now();
    const rollup = await ctx.api.call("/v1/maintenance/rollup", { method: "POST", body: {} });
    const rollupSeconds = (performance.now() - rollupStarted) / 1000;
    const today = Math.floor(Date.now() / DAY_MS);
    const day = (offset) => new Date((today + offset) * DAY_MS).toISOString().slice(0, 10);
    const key = ctx.keys.read[0];
    const month = await timedReports(ctx, `/v1/reports/counter/dsr?begin_date=${day(-30)}&end_date=${day(-1)}`, key);
    const all = await timedReports(ctx, `/v1/reports/counter/dsr?begin_date=${day(-90)}&end_date=${day(-1)}`, key);
    const describe = ({ report }) =>
      `${report["report-datasets"].length.toLocaleString("en-US")} datasets, ${sumOf(report, "total-dataset-investigations").toLocaleString("en-US")} investigations, ${JSON.stringify(report).length.toLocaleString("en-US")} bytes of JSON`;
    return [
      {
        label: "counter DSR, 30 days",
        figures: { p50Ms: month.p50, p99Ms: Math.max(...month.ms) },
        notes: [
          `${SAMPLES} sequential requests; ${describe(month)}; the ledger holds ${seeded.count.toLocaleString("en-US")} events over 90 days`,
          `rollup run (event + COUNTER rollups) before: ${rollup.days} days in ${rollupSeconds.toFixed(1)} s`,
        ],
        details: { ms: month.ms, rollup },
      },
      {
        label: "counter DSR, 90 days",
        figures: { p50Ms: all.p50, p99Ms: Math.max(...all.ms) },
        notes: [`${SAMPLES} sequential requests; ${describe(all)} (every seeded event in the period)`],
        details: { ms: all.ms },
      },
    ];
  },
};
