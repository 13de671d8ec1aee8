// Builds the worker and the baseline worker with wrangler and serves both from one Miniflare (one workerd process) with
// throwaway state, the bindings of wrangler.jsonc, the secrets named in .dev.vars.example and the D1 migrations applied.
import { execFile } from "node:child_process";
import { constants, rmSync } from "node:fs";
import { access, mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { Miniflare, convertV4MiniflareOptions } from "miniflare";
import { unstable_getMiniflareWorkerOptions, unstable_readConfig, unstable_splitSqlQuery } from "wrangler";

const run = promisify(execFile);

// Temporary build and state directories still present when the process exits (Ctrl-C, kill, a crash) are removed then;
// the exit event is the one place that still runs after Miniflare's own signal handler has stopped workerd and exited.
const temporaryDirs = new Set();
process.on("exit", () => {
  for (const dir of temporaryDirs) rmSync(dir, { recursive: true, force: true });
});

async function temporaryDir(parent, prefix) {
  const dir = await mkdtemp(path.join(parent, prefix));
  temporaryDirs.add(dir);
  return dir;
}

async function removeDir(dir) {
  await rm(dir, { recursive: true, force: true });
  temporaryDirs.delete(dir);
}

export const root = path.resolve(import.meta.dirname, "..", "..");
const wranglerCli = path.join(root, "node_modules", "wrangler", "bin", "wrangler.js");
const appConfigPath = path.join(root, "wrangler.jsonc");
const baselineConfigPath = path.join(root, "bench", "baseline.wrangler.jsonc");

/** Bundles a worker exactly as `wrangler deploy` would (dry run) and returns the directory and entry module. */
async function bundle(configPath, outdir) {
  // Run by this Node (22, as npm scripts pick it), not by whatever `node` is first on PATH.
  await run(process.execPath, [wranglerCli, "deploy", "--dry-run", "--config", configPath, "--outdir", outdir], {
    cwd: root,
    env: { ...process.env, WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false" },
    maxBuffer: 16 * 1024 * 1024,
  });
  const entries = (await readdir(outdir)).filter((name) => /\.(m?js)$/.test(name));
  if (entries.length !== 1) throw new Error(`expected one bundled module in ${outdir}, found: ${entries.join(", ")}`);
  return { dir: outdir, entry: path.join(outdir, entries[0]) };
}

/** Builds the app and the baseline worker into a temporary directory. */
export async function buildWorkers() {
  const dir = await temporaryDir(os.tmpdir(), "download-audit-bench-build-");
  try {
    const [app, baseline] = await Promise.all([
      bundle(appConfigPath, path.join(dir, "app")),
      bundle(baselineConfigPath, path.join(dir, "baseline")),
    ]);
    return { dir, app, baseline, dispose: () => removeDir(dir) };
  } catch (error) {
    await removeDir(dir);
    throw error;
  }
}

/** Runs `fn` with wrangler's logger at warn level: it would announce the developer's .dev.vars, which the bench replaces. */
function quietly(fn) {
  const level = process.env.WRANGLER_LOG;
  process.env.WRANGLER_LOG = "warn";
  try {
    return fn();
  } finally {
    if (level === undefined) delete process.env.WRANGLER_LOG;
    else process.env.WRANGLER_LOG = level;
  }
}

/** `KEY=value` lines of .dev.vars.example: the secrets a local run needs, with their throwaway values. */
async function exampleSecrets() {
  const text = await readFile(path.join(root, ".dev.vars.example"), "utf8").catch(() => "");
  const secrets = {};
  for (const line of text.split("\n")) {
    const match = line.match(/^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$/);
    if (match) secrets[match[1]] = match[2].replace(/^(["'])(.*)\1$/, "$2");
  }
  return secrets;
}

/** Applies every migration file of every D1 database in wrangler.jsonc, in file-name order, one atomic batch per file. */
async function applyMigrations(mf, config) {
  for (const database of config.d1_databases ?? []) {
    const dir = path.resolve(root, database.migrations_dir ?? "migrations");
    const files = (await readdir(dir)).filter((name) => name.endsWith(".sql")).sort();
    const db = await mf.getD1Database(database.binding, "app");
    for (const file of files) {
      const statements = unstable_splitSqlQuery(await readFile(path.join(dir, file), "utf8"));
      if (statements.length > 0) await db.batch(statements.map((sql) => db.prepare(sql)));
    }
  }
}

function workerdChildren() {
  return readdir("/proc")
    .then((entries) =>
      Promise.all(
        entries
          .filter((entry) => /^\d+$/.test(entry))
          .map(async (pid) => {
            const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => "");
            const command = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
            const parent = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
            return command === "workerd" && parent === process.pid ? Number(pid) : null;
          }),
      ),
    )
    .then((pids) => pids.filter((pid) => pid !== null))
    .catch(() => []);
}

/**
 * Where throwaway state goes by default: tmpfs when the machine has one. Durable Object storage commits are synced to
 * disk locally (production confirms them by replication instead), and on a virtual disk those syncs, serialised across all
 * objects of the process, would dominate every write path; `--state-dir` puts the state elsewhere to measure with them.
 */
export async function defaultStateParent() {
  try {
    await access("/dev/shm", constants.W_OK);
    return "/dev/shm";
  } catch {
    return os.tmpdir();
  }
}

/** Miniflare options: the app with wrangler.jsonc's bindings, the baseline, and (traced) the D1 statement counter. */
function miniflareOptions({ workerOptions, bindings, build, stateDir, traced, structuredErrors }) {
  const runtime = { compatibilityDate: workerOptions.compatibilityDate, compatibilityFlags: workerOptions.compatibilityFlags };
  return convertV4MiniflareOptions({
    resourcePersistencePath: stateDir,
    // BENCH_INSPECT=<port> opens workerd's inspector for CPU profiles (bench/lib/cpu-profile.mjs); never on traced runs.
    ...(process.env.BENCH_INSPECT && !traced ? { inspectorPort: Number(process.env.BENCH_INSPECT) } : {}),
    handleStructuredLogs: (log) => {
      if (log.level === "error" && structuredErrors.length < 20) structuredErrors.push(log.message);
    },
    workers: [
      {
        ...workerOptions,
        name: "app",
        modulesRoot: build.app.dir,
        modules: [{ type: "ESModule", path: build.app.entry }],
        bindings,
        unsafeDirectSockets: [{ port: 0 }],
        ...(traced ? { streamingTails: ["d1-statement-counter"] } : {}),
      },
      {
        ...runtime,
        name: "baseline",
        modulesRoot: build.baseline.dir,
        modules: [{ type: "ESModule", path: build.baseline.entry }],
        unsafeDirectSockets: [{ port: 0 }],
      },
      ...(traced
        ? [
            {
              ...runtime,
              name: "d1-statement-counter",
              modules: true,
              scriptPath: path.join(import.meta.dirname, "d1-statement-counter.js"),
              unsafeDirectSockets: [{ port: 0 }],
            },
          ]
        : []),
    ],
  });
}

/**
 * Starts one Miniflare serving the app ("app") and the bare Hono baseline ("baseline"), each on its own direct socket of
 * the same workerd process. With `traced`, the app also streams its trace to a tail worker that counts D1 statements
 * (that costs throughput, so throughput is never measured on a traced instance).
 */
export async function startServer(build, { traced = false, vars = {}, stateParent = os.tmpdir() } = {}) {
  const config = unstable_readConfig({ config: appConfigPath });
  const { workerOptions } = quietly(() => unstable_getMiniflareWorkerOptions(config));
  // The code is the wrangler bundle; module rules only matter for unbundled sources, and Miniflare's v4 adapter rejects them.
  delete workerOptions.modulesRules;
  const bindings = { ...config.vars, ...(await exampleSecrets()), ...vars };
  if (!bindings.ADMIN_API_KEY) throw new Error("ADMIN_API_KEY must be listed in .dev.vars.example (or given with --var)");
  const before = new Set(await workerdChildren());
  const structuredErrors = [];
  const stateDir = await temporaryDir(stateParent, "download-audit-bench-state-");
  let mf;
  try {
    mf = new Miniflare(miniflareOptions({ workerOptions, bindings, build, stateDir, traced, structuredErrors }));
    const appUrl = await mf.unsafeGetDirectURL("app");
    const baselineUrl = await mf.unsafeGetDirectURL("baseline");
    const counterUrl = traced ? await mf.unsafeGetDirectURL("d1-statement-counter") : null;
    await applyMigrations(mf, config);
    const workerdPid = (await workerdChildren()).find((pid) => !before.has(pid)) ?? null;
    return {
      appUrl: appUrl.href.replace(/\/$/, ""),
      baselineUrl: baselineUrl.href.replace(/\/$/, ""),
      adminKey: bindings.ADMIN_API_KEY,
      workerdPid,
      structuredErrors,
      /** Where Miniflare keeps this instance's state (D1's SQLite files among it). */
      stateDir,
      /** Direct D1 access for the harness's own bookkeeping (counting stored rows); the app never sees it. */
      db: (binding = "DB") => mf.getD1Database(binding, "app"),
      /** Totals of D1 calls/statements/rows written so far (traced instances only). */
      async d1Totals() {
        if (!counterUrl) throw new Error("D1 statement counts need a traced server");
        return (await fetch(counterUrl)).json();
      },
      async dispose() {
        await mf.dispose();
        await removeDir(stateDir);
      },
    };
  } catch (error) {
    await mf?.dispose().catch(() => {});
    await removeDir(stateDir);
    throw error;
  }
}
