// GET /v1/stats over 90 days of the seeded ledger: from raw rows only (before any rollup exists), then computed from the
// rollups (distinct queries, so nothing is reused), then the same query repeated under load (answers reused while the
// data is unchanged). Raw and rolled-up answers must be identical.
import { describeStatuses, loadFigures, percentile } from "../lib/load.mjs";

const DAY_MS = 86_400_000;
const SAMPLES = 5;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function timed(ctx, paths, key) {
  const ms = [];
  let answer;
  for (const path of paths) {
    const started = performance.now();
    answer = await ctx.api.call(path, { key });
    ms.push(performance.now() - started);
  }
  return { answer, p50: percentile(ms.sort((a, b) => a - b), 50), ms };
}

export default {
  name: "stats",
  description: "GET /v1/stats for 90 days: raw rows only (before any rollup), computed from rollups, and repeated under load",
  order: 50,
  async run(ctx) {
    const seeded = await ctx.ensureSeeded(ctx.options.events);
    const seededAt = Date.now();
    const from = new Date(Math.floor(Date.now() / DAY_MS) * DAY_MS - 89 * DAY_MS).toISOString().slice(0, 10);
    const path = `/v1/stats?from=${from}`;
    const distinct = Array.from({ length: SAMPLES }, (_, index) => `${path}&top=${index + 1}`);
    const key = ctx.keys.read[0];

    // The rollup watermark is still 0 on a fresh state: these answers come from raw rows only.
    const raw = await timed(ctx, distinct, key);
    // The rollup leaves events received within ROLLUP_SETTLE_SECONDS (60 s by default) to its next run.
    await sleep(Math.max(0, seededAt + 61_000 - Date.now()));
    const rollupStarted = performance.now();
    const rollup = await ctx.api.call("/v1/maintenance/rollup", { method: "POST", body: {} });
    const rollupSeconds = (performance.now() - rollupStarted) / 1000;
    const computed = await timed(ctx, distinct, key);
    const identical = JSON.stringify(computed.answer) === JSON.stringify(raw.answer);

    const load = await ctx.load({
      connections: 4,
      request: (n) => ({ method: "GET", path, headers: { authorization: `Bearer ${ctx.keys.read[n % ctx.keys.read.length]}` } }),
    });
    const p50Target = { metric: "p50Ms", op: "<=", value: 100, label: "p50 ≤ 100 ms", atEvents: 1_000_000 };
    return [
      {
        label: "stats (computed from rollups)",
        figures: { p50Ms: computed.p50, p99Ms: Math.max(...computed.ms), rawP50Ms: raw.p50, speedupVsRaw: raw.p50 / computed.p50 },
        notes: [
          `${SAMPLES} sequential distinct queries (top=1…${SAMPLES}) each: raw rows only p50 ${raw.p50.toFixed(0)} ms, from rollups p50 ${computed.p50.toFixed(0)} ms (p99 column = slowest)`,
          `the rolled-up answer is ${identical ? "identical to" : "DIFFERENT FROM"} the raw one (${raw.answer.totals.events.toLocaleString("en-US")} events, ${raw.answer.totals.unique_users.toLocaleString("en-US")} unique users, exact)`,
          `first rollup of the ${seeded.count.toLocaleString("en-US")}-event ledger: ${rollup.days} days in ${rollupSeconds.toFixed(1)} s (${Math.round(seeded.count / rollupSeconds).toLocaleString("en-US")} events/s)`,
        ],
        targets: [p50Target, { metric: "speedupVsRaw", op: ">=", value: 10, label: "≥ 10× faster than raw", atEvents: 1_000_000 }],
        details: { raw, computed, rollup, rollupSeconds, identical },
      },
      {
        label: "stats (same query repeated)",
        compareTo: "get",
        figures: loadFigures(load),
        notes: [`4 connections; the answer is reused while rollups and raw rows are unchanged (${describeStatuses(load)})`],
        targets: [p50Target],
        details: { load },
      },
    ];
  },
};
