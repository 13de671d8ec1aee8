// GET /v1/stats over 90 days of the seeded ledger: first from raw rows only (no rollup exists yet), then after the
// rollup, under load. The two answers must be identical; the row reports the rollup path and its speed-up over raw rows.
import { describeStatuses, loadFigures, percentile } from "../lib/load.mjs";

const DAY_MS = 86_400_000;
const RAW_SAMPLES = 5;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export default {
  name: "stats",
  description: "GET /v1/stats for 90 days: raw rows only (before any rollup) vs rollups (after POST /v1/maintenance/rollup)",
  order: 50,
  async run(ctx) {
    const seeded = await ctx.ensureSeeded(ctx.options.events);
    const seededAt = Date.now();
    const from = new Date(Math.floor(Date.now() / DAY_MS) * DAY_MS - 89 * DAY_MS).toISOString().slice(0, 10);
    const path = `/v1/stats?from=${from}`;
    const key = ctx.keys.read[0];

    // The rollup watermark is still 0 on a fresh state, so this answer is computed from raw rows only.
    const rawMs = [];
    let rawAnswer;
    for (let sample = 0; sample < RAW_SAMPLES; sample++) {
      const started = performance.now();
      rawAnswer = await ctx.api.call(path, { key });
      rawMs.push(performance.now() - started);
    }
    rawMs.sort((a, b) => a - b);

    // The rollup skips events received within ROLLUP_SETTLE_SECONDS (60 s by default); give the seeding that long.
    await sleep(Math.max(0, seededAt + 61_000 - Date.now()));
    const rollupStarted = performance.now();
    const rollup = await ctx.api.call("/v1/maintenance/rollup", { method: "POST", body: {} });
    const rollupSeconds = (performance.now() - rollupStarted) / 1000;
    const rolledAnswer = await ctx.api.call(path, { key });
    const identical = JSON.stringify(rolledAnswer) === JSON.stringify(rawAnswer);

    const load = await ctx.load({
      connections: 4,
      request: (n) => ({ method: "GET", path, headers: { authorization: `Bearer ${ctx.keys.read[n % ctx.keys.read.length]}` } }),
    });
    const rawP50 = percentile(rawMs, 50);
    return {
      compareTo: "get",
      figures: { ...loadFigures(load), rawP50Ms: rawP50, speedupVsRaw: rawP50 / load.p50Ms },
      notes: [
        `raw rows only: p50 ${rawP50.toFixed(0)} ms over ${RAW_SAMPLES} sequential requests; rollups: p50 ${load.p50Ms.toFixed(1)} ms with 4 connections (${describeStatuses(load)})`,
        `the rolled-up answer is ${identical ? "identical to" : "DIFFERENT FROM"} the raw answer (${rawAnswer.totals.events.toLocaleString("en-US")} events, ${rawAnswer.totals.unique_users.toLocaleString("en-US")} unique users)`,
        `first rollup of the ${seeded.count.toLocaleString("en-US")}-event ledger: ${rollup.days} days in ${rollupSeconds.toFixed(1)} s`,
      ],
      targets: [
        { metric: "p50Ms", op: "<=", value: 100, label: "p50 ≤ 100 ms", atEvents: 1_000_000 },
        { metric: "speedupVsRaw", op: ">=", value: 10, label: "≥ 10× faster than raw", atEvents: 1_000_000 },
      ],
      details: { load, rawMs, rollup, rollupSeconds, identical },
    };
  },
};
