// `npm run bench`: builds the worker, serves it with Miniflare beside a bare-Hono baseline, runs the selected scenarios
// (bench/scenarios/*.mjs) and prints one table of absolute figures, ratios to the baseline and target verdicts.
import { readdir } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { highWaterMark, runLoad } from "./lib/load.mjs";
import { judge, notes, table, writeResults } from "./lib/report.mjs";
import { SEEDED_RESOURCE_TYPE } from "./lib/scenario.mjs";
import { buildWorkers, defaultStateParent, root, startServer } from "./lib/server.mjs";
import { createApi, eventGenerator, importHistory, waitForCount } from "./lib/workload.mjs";

const usage = `Usage: npm run bench -- [options]
  --scenario a,b     scenarios to run (default: every scenario with defaultRun); baseline always runs first
  --duration s       seconds of load per measurement (default 10)
  --connections n    concurrent connections of the load generator (default 32)
  --warmup s         discarded warm-up seconds before each measurement (default 2)
  --events n         seeded ledger size for read scenarios (default 100000; --full: 1000000)
  --full             the issue's sizes: 1,000,000-event ledger
  --var KEY=VALUE    override a worker variable (repeatable), e.g. --var LEDGER_FLUSH_DELAY_MS=100
  --state-dir path   parent of the throwaway D1/R2/Durable Object state (default /dev/shm when present, else the OS temp dir)
  --list             list scenarios and exit`;

const { values: flags } = parseArgs({
  options: {
    scenario: { type: "string" },
    duration: { type: "string", default: "10" },
    connections: { type: "string", default: "32" },
    warmup: { type: "string", default: "2" },
    events: { type: "string" },
    full: { type: "boolean", default: false },
    var: { type: "string", multiple: true, default: [] },
    "state-dir": { type: "string" },
    list: { type: "boolean", default: false },
    help: { type: "boolean", default: false },
  },
});

if (flags.help) {
  console.log(usage);
  process.exit(0);
}

function positive(name, text) {
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`--${name} must be a positive number (got ${text})`);
  return value;
}

const options = {
  duration: positive("duration", flags.duration),
  connections: Math.round(positive("connections", flags.connections)),
  warmup: Number(flags.warmup) >= 0 ? Number(flags.warmup) : 2,
  full: flags.full,
  events: Math.round(positive("events", flags.events ?? (flags.full ? "1000000" : "100000"))),
  stateDir: flags["state-dir"] ? path.resolve(flags["state-dir"]) : await defaultStateParent(),
};
const vars = {
  // Refused downloads after a client's first in a window are one row with a count, flushed when the window ends; a 1 s
  // window lets the hot-ip scenario see every refusal in D1 right after its load (override with --var).
  DENIAL_WINDOW_SECONDS: "1",
  // No cron runs here to carry a verification job on, so the integrity scenario verifies the whole seeded ledger in
  // one request: the rows/s it reports is the verifier's own, as the cron's chunks would run it.
  VERIFY_INLINE_ROWS: "5000000",
  // Seals trail receipts by this margin; the service's floor (flush delay + 60 s) instead of 300 s lets the integrity
  // scenario seal what was just seeded after about a minute instead of five.
  SEAL_MARGIN_SECONDS: "61",
  ...Object.fromEntries(
    flags.var.map((pair) => {
      const at = pair.indexOf("=");
      if (at < 1) throw new Error(`--var expects KEY=VALUE (got ${pair})`);
      return [pair.slice(0, at), pair.slice(at + 1)];
    }),
  ),
};

async function discoverScenarios() {
  const dir = path.join(import.meta.dirname, "scenarios");
  const scenarios = [];
  for (const file of (await readdir(dir)).filter((name) => name.endsWith(".mjs")).sort()) {
    const { default: scenario } = await import(pathToFileURL(path.join(dir, file)).href);
    if (!scenario?.name || typeof scenario.run !== "function") throw new Error(`bench/scenarios/${file} must default-export { name, run }`);
    scenarios.push(scenario);
  }
  return scenarios.sort((a, b) => a.order - b.order);
}

const all = await discoverScenarios();
if (flags.list) {
  for (const scenario of all) console.log(`${scenario.name.padEnd(16)} ${scenario.defaultRun === false ? "(opt-in) " : ""}${scenario.description}`);
  process.exit(0);
}
const requested = flags.scenario ? flags.scenario.split(",").map((name) => name.trim()).filter(Boolean) : null;
const unknown = (requested ?? []).filter((name) => !all.some((scenario) => scenario.name === name));
if (unknown.length > 0) throw new Error(`unknown scenario(s): ${unknown.join(", ")}; known: ${all.map((s) => s.name).join(", ")}`);
const selected = all.filter((scenario) => scenario.name === "baseline" || (requested ? requested.includes(scenario.name) : scenario.defaultRun !== false));

const startedAt = Date.now();
const log = (message) => console.error(`[bench ${((Date.now() - startedAt) / 1000).toFixed(0).padStart(4)}s] ${message}`);
const loadAverageAtStart = os.loadavg();

/** Stops workerd and removes the temporary build and state (on signals, the exit hooks of server.mjs and Miniflare do). */
const cleanups = [];
async function cleanUp() {
  while (cleanups.length > 0) await cleanups.pop()().catch(() => {});
}
for (const signal of ["SIGINT", "SIGTERM"]) process.once(signal, () => process.exit(130));

log("building the worker and the baseline with wrangler (dry-run bundles)");
const build = await buildWorkers();
cleanups.push(build.dispose);
log("starting Miniflare (app + baseline in one workerd process, throwaway state)");
const server = await startServer(build, { vars, stateParent: options.stateDir }).catch(async (error) => {
  await cleanUp();
  throw error;
});
cleanups.push(() => server.dispose());
log(`app ${server.appUrl}, baseline ${server.baselineUrl}, workerd pid ${server.workerdPid ?? "unknown"}`);

const api = createApi(server.appUrl, server.adminKey);
const seeded = { count: 0, seconds: 0, finishedAt: 0 };
let tracedBusy = Promise.resolve();

/** @type {import("./lib/scenario.mjs").Context} */
const ctx = {
  options,
  server,
  api,
  keys: { ingest: [], read: [] },
  events: eventGenerator,
  load: (load) =>
    runLoad({
      url: server.appUrl,
      duration: options.duration,
      connections: options.connections,
      warmupSeconds: options.warmup,
      workerdPid: server.workerdPid,
      ...load,
    }),
  countStored: (resourceType) => countStored(server, resourceType),
  async waitForStored(resourceType, expected) {
    const { count, waitedMs } = await waitForCount(() => countStored(server, resourceType), expected, { intervalMs: 50 });
    const complete = count >= expected;
    return {
      stored: count,
      expected,
      afterMs: waitedMs,
      complete,
      note: complete
        ? `every acknowledged event (${expected.toLocaleString("en-US")}, warm-up included) was in D1 ${waitedMs} ms after the load stopped`
        : `only ${count.toLocaleString("en-US")} of ${expected.toLocaleString("en-US")} acknowledged events reached D1 within ${waitedMs} ms`,
    };
  },
  async ensureSeeded(count) {
    if (seeded.count >= count) return { ...seeded };
    const generator = eventGenerator(7 + seeded.count);
    const started = Date.now();
    const before = await countStored(server, SEEDED_RESOURCE_TYPE);
    const missing = count - seeded.count;
    log(`seeding ${missing.toLocaleString("en-US")} events (90 days of history) through POST /v1/events/import`);
    const sums = await importHistory({
      api,
      total: missing,
      makeEvent: (index) => ({
        ...generator.event({ resourceType: SEEDED_RESOURCE_TYPE, ip: generator.ip(), occurredWithinDays: 90 }),
        id: `seed-${seeded.count + index}`,
      }),
    });
    const { count: stored } = await waitForCount(() => countStored(server, SEEDED_RESOURCE_TYPE), before + sums.inserted, { timeoutMs: 600_000 });
    seeded.count += stored - before;
    seeded.seconds += (Date.now() - started) / 1000;
    seeded.finishedAt = Date.now();
    log(`seeded ${seeded.count.toLocaleString("en-US")} events in ${seeded.seconds.toFixed(1)} s`);
    return { ...seeded };
  },
  traced(fn) {
    const next = tracedBusy.then(() => withTracedServer(fn));
    tracedBusy = next.catch(() => {});
    return next;
  },
  baseline: {},
  log,
};

/**
 * Per target and resource type, the receipt time from which rows are counted: an hour before the first count. The ledger
 * has no resource-type index (docs/architecture.md, "Storage layout"), so counting reads only the recent receipt range of
 * event_rows' primary key instead of the whole ledger on every poll; counts taken for one type stay comparable.
 */
const countedSince = new WeakMap();

async function countStored(target, resourceType) {
  const db = await target.db();
  if (!countedSince.has(target)) countedSince.set(target, new Map());
  const since = countedSince.get(target);
  if (!since.has(resourceType)) since.set(resourceType, Date.now() - 3_600_000);
  // Recorded attempts: a row stands for one, a counted refusal row for `denied_count`.
  const row = await db
    .prepare("SELECT coalesce(sum(coalesce(denied_count, 1)), 0) AS n FROM events WHERE received_at >= ?2 AND resource_type = ?1")
    .bind(resourceType, since.get(resourceType))
    .first();
  return Number(row?.n ?? 0);
}

async function withTracedServer(fn) {
  log("starting a separate traced instance to count D1 statements");
  const traced = await startServer(build, { traced: true, vars, stateParent: options.stateDir });
  try {
    const tracedApi = createApi(traced.appUrl, traced.adminKey);
    const [ingestKey] = await tracedApi.createKeys(1, ["ingest"], "bench-traced");
    return await fn({
      appUrl: traced.appUrl,
      api: tracedApi,
      ingestKey,
      d1Totals: traced.d1Totals,
      stateDir: traced.stateDir,
      countStored: (resourceType) => countStored(traced, resourceType),
    });
  } finally {
    await traced.dispose();
  }
}

const rows = [];
let peakRssMb = null;
try {
  ctx.keys.ingest = await api.createKeys(32, ["ingest"], "bench-ingest");
  ctx.keys.read = await api.createKeys(8, ["read"], "bench-read");
  for (const scenario of selected) {
    log(`scenario ${scenario.name}: ${scenario.description}`);
    const scenarioStarted = Date.now();
    try {
      const produced = await scenario.run(ctx);
      for (const row of Array.isArray(produced) ? produced : [produced]) {
        const label = row.label ?? scenario.name;
        const base = row.compareTo ? ctx.baseline[row.compareTo] : undefined;
        const figures = { ...row.figures };
        if (base?.rps && figures.rps !== undefined) figures.ratio = figures.rps / base.rps;
        rows.push({ scenario: scenario.name, ...row, label, figures, seconds: (Date.now() - scenarioStarted) / 1000 });
      }
    } catch (error) {
      log(`scenario ${scenario.name} failed: ${error.stack ?? error}`);
      rows.push({ scenario: scenario.name, label: scenario.name, figures: {}, notes: [`FAILED: ${error.message}`], failed: true });
    }
  }
} finally {
  peakRssMb = await highWaterMark(server.workerdPid);
  await cleanUp();
}
for (const row of rows) row.verdicts = judge(row, options);

const machine = {
  cpus: os.cpus().length,
  cpuModel: os.cpus()[0]?.model ?? "unknown",
  memoryGiB: Math.round(os.totalmem() / 2 ** 30),
  node: process.version,
  loadAverageAtStart,
  loadAverageAtEnd: os.loadavg(),
};
const loadText = (averages) => averages.map((value) => value.toFixed(1)).join(" / ");
const summary = [
  `download-audit bench, ${new Date().toISOString()} — ${machine.cpus} cores (${machine.cpuModel}), Node ${machine.node}, load average (1/5/15 min) ${loadText(loadAverageAtStart)} at start, ${loadText(machine.loadAverageAtEnd)} at end`,
  `duration ${options.duration} s per measurement, ${options.connections} connections, ledger size ${options.events.toLocaleString("en-US")} events, state under ${options.stateDir}, workerd lifetime peak RSS ${peakRssMb ?? "–"} MiB`,
  "",
  table(rows),
  "",
  notes(rows),
].join("\n");
console.log(summary);
if (server.structuredErrors.length > 0) log(`the worker logged errors (first ${server.structuredErrors.length} in results.json), e.g. ${server.structuredErrors[0]}`);
const resultsFile = path.join(root, "bench", "results.json");
await writeResults(resultsFile, { date: new Date().toISOString(), machine, options, vars, workerdPeakRssMb: peakRssMb, rows, serverErrors: server.structuredErrors });
log(`wrote ${path.relative(root, resultsFile)}; total ${((Date.now() - startedAt) / 1000).toFixed(0)} s`);
if (rows.some((row) => row.failed)) process.exitCode = 1;
