// GET /v1/stats over 90 days of the seeded ledger: from raw rows only (before any rollup exists), then cold from the
// rollups (distinct queries, so no answer is reused) with unique users estimated from sketches (the default) and counted
// exactly (exact=true), then from the 16th of a month (the monthly tier's worst case), then the same query repeated under
// load (answers reused while the data is unchanged). Every exact field must be identical in the raw and the rolled-up
// answers; the estimate's error is measured against the exact count.
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
  description: "GET /v1/stats for 90 days: raw rows only (before any rollup), cold from rollups (users estimated; exact=true), and repeated under load",
  order: 50,
  async run(ctx) {
    const seeded = await ctx.ensureSeeded(ctx.options.events);
    const seededAt = Date.now();
    const from = new Date(Math.floor(Date.now() / DAY_MS) * DAY_MS - 89 * DAY_MS).toISOString().slice(0, 10);
    const path = `/v1/stats?from=${from}`;
    const distinct = Array.from({ length: SAMPLES }, (_, index) => `${path}&top=${index + 1}`);
    const key = ctx.keys.read[0];

    // The rollup watermark is still 0 on a fresh state: these answers come from raw rows only.
    const raw = await timed(ctx, distinct.map((query) => `${query}&exact=true`), key);
    // The rollup leaves events received within ROLLUP_SETTLE_SECONDS (60 s by default) to its next run.
    await sleep(Math.max(0, seededAt + 61_000 - Date.now()));
    const rollupStarted = performance.now();
    const rollup = await ctx.api.call("/v1/maintenance/rollup", { method: "POST", body: {} });
    const rollupSeconds = (performance.now() - rollupStarted) / 1000;
    // Estimated first, so that the exact run (whose user sets hold many times the sketches' bytes) cannot warm its pages.
    const estimated = await timed(ctx, distinct, key);
    const exact = await timed(ctx, distinct.map((query) => `${query}&exact=true`), key);
    // The monthly rollup tier's worst case: a range starting on the 16th reads 15 edge days of day rows per ranked key.
    const fromDate = new Date(`${from}T00:00:00Z`);
    const midMonth = new Date(Date.UTC(fromDate.getUTCFullYear(), fromDate.getUTCMonth() + (fromDate.getUTCDate() > 16 ? 1 : 0), 16)).toISOString().slice(0, 10);
    const edges = await timed(ctx, Array.from({ length: SAMPLES }, (_, index) => `/v1/stats?from=${midMonth}&top=${index + 1}`), key);
    const identical = JSON.stringify(exact.answer) === JSON.stringify(raw.answer);
    const withoutUsers = (answer) => JSON.stringify({ ...answer, unique_users_estimated: null }, (name, value) => (name === "unique_users" ? null : value));
    const exactFieldsIdentical = withoutUsers(estimated.answer) === withoutUsers(raw.answer);
    // Every unique-user figure of the answer (totals, series, top lists, split) against its exact count.
    const pairs = [];
    const collect = (estimate, truth) => {
      if (Array.isArray(truth)) truth.forEach((item, index) => collect(estimate?.[index], item));
      else if (truth && typeof truth === "object")
        for (const [name, value] of Object.entries(truth)) {
          if (name === "unique_users") pairs.push([estimate?.unique_users, value]);
          else collect(estimate?.[name], value);
        }
    };
    collect(estimated.answer, raw.answer);
    const relative = ([estimate, truth]) => (truth === 0 ? (estimate === 0 ? 0 : Infinity) : Math.abs(estimate - truth) / truth);
    const totalError = relative([estimated.answer.totals.unique_users, raw.answer.totals.unique_users]);
    const large = pairs.filter(([, truth]) => truth >= 1000);
    const rms = Math.sqrt(large.reduce((sum, pair) => sum + relative(pair) ** 2, 0) / Math.max(1, large.length));
    const worst = Math.max(0, ...pairs.map(relative));
    const percent = (value) => `${(value * 100).toFixed(2)} %`;

    const load = await ctx.load({
      connections: 4,
      request: (n) => ({ method: "GET", path, headers: { authorization: `Bearer ${ctx.keys.read[n % ctx.keys.read.length]}` } }),
    });
    const p50Target = { metric: "p50Ms", op: "<=", value: 100, label: "p50 ≤ 100 ms", atEvents: 1_000_000 };
    const answerNote = `${raw.answer.totals.events.toLocaleString("en-US")} events, ${raw.answer.totals.unique_users.toLocaleString("en-US")} unique users (exact)`;
    return [
      {
        label: "stats cold (users estimated)",
        figures: { p50Ms: estimated.p50, p99Ms: Math.max(...estimated.ms), rawP50Ms: raw.p50, speedupVsRaw: raw.p50 / estimated.p50, exactP50Ms: exact.p50 },
        notes: [
          `${SAMPLES} sequential distinct queries (top=1…${SAMPLES}) each: raw rows only p50 ${raw.p50.toFixed(0)} ms, from rollups p50 ${estimated.p50.toFixed(0)} ms with unique users from sketches, ${exact.p50.toFixed(0)} ms with exact=true (p99 column = slowest)`,
          `unique users estimated ${estimated.answer.totals.unique_users.toLocaleString("en-US")} for ${raw.answer.totals.unique_users.toLocaleString("en-US")} exact: error ${percent(totalError)}; over the answer's ${pairs.length} unique-user figures worst ${percent(worst)}, rms ${percent(rms)} over the ${large.length} of ≥ 1,000 users (standard error 1.63 %)`,
          `every exact field (events, successful, failed, bytes, series and top-list counts) of the estimated answer is ${exactFieldsIdentical ? "identical to" : "DIFFERENT FROM"} the raw one`,
          `first rollup of the ${seeded.count.toLocaleString("en-US")}-event ledger: ${rollup.days} days in ${rollupSeconds.toFixed(1)} s (${Math.round(seeded.count / rollupSeconds).toLocaleString("en-US")} events/s)`,
        ],
        targets: [p50Target, { metric: "speedupVsRaw", op: ">=", value: 10, label: "≥ 10× faster than raw", atEvents: 1_000_000 }],
        details: { raw, estimated, exact, rollup, rollupSeconds, exactFieldsIdentical, identical, error: { total: totalError, worst, rms, figures: pairs.length } },
      },
      {
        label: "stats cold, from the 16th (users estimated)",
        figures: { p50Ms: edges.p50, p99Ms: Math.max(...edges.ms) },
        notes: [`${SAMPLES} sequential distinct queries from ${midMonth} to now: the monthly tier's worst case, 15 edge days of day rows`],
        targets: [p50Target],
        details: { edges, from: midMonth },
      },
      {
        label: "stats cold (exact=true)",
        figures: { p50Ms: exact.p50, p99Ms: Math.max(...exact.ms), rawP50Ms: raw.p50, speedupVsRaw: raw.p50 / exact.p50 },
        notes: [`the exact rolled-up answer is ${identical ? "identical to" : "DIFFERENT FROM"} the raw one (${answerNote})`],
        details: { identical },
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
