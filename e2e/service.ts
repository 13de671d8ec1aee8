// Starts the service as `npm run dev` does (wrangler dev, migrations applied, .dev.vars.example settings) on a free port
// with a fresh temporary state directory, and stops it again; or (chaos) kills and restarts it on the same state.
import { execFile, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { createWriteStream } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { createServer } from "node:net";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";

const root = path.join(import.meta.dirname, "..");
const wrangler = path.join(root, "node_modules", "wrangler", "bin", "wrangler.js");
const quietEnv = { ...process.env, WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false", NO_COLOR: "1" };

export interface RunningService {
  baseUrl: string;
  adminKey: string;
  logFile: string;
  stop: () => Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port"))));
    });
  });
}

/** The development settings `npm run dev` starts from (.dev.vars.example) plus `settings`, as `--var` flags; the admin key is our own. */
async function devVars(adminKey: string, settings: Record<string, string>): Promise<string[]> {
  const example = await readFile(path.join(root, ".dev.vars.example"), "utf8");
  const vars = new Map<string, string>();
  for (const line of example.split("\n")) {
    const match = /^\s*([A-Z0-9_]+)\s*=\s*(.*?)\s*$/.exec(line);
    if (match) vars.set(match[1]!, match[2]!.replace(/^"(.*)"$/, "$1"));
  }
  vars.set("ADMIN_API_KEY", adminKey);
  for (const [name, value] of Object.entries(settings)) vars.set(name, value);
  return [...vars].flatMap(([name, value]) => ["--var", `${name}:${value}`]);
}

async function waitForHealth(baseUrl: string, logFile: string, exited: () => string | null, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const exit = exited();
    if (exit !== null) throw new Error(`wrangler dev exited early (${exit})`);
    if (/\[ERROR\]/.test((await readFile(logFile, "utf8")).replace(/\x1b\[[0-9;]*m/g, ""))) throw new Error("wrangler dev reported an error");
    const healthy = await fetch(`${baseUrl}/health`, { signal: AbortSignal.timeout(2_000) })
      .then((response) => response.ok)
      .catch(() => false);
    if (healthy) return;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  throw new Error(`the service did not become healthy within ${timeoutMs / 1000} s`);
}

/** A fresh state directory with the D1 migrations applied, as `npm run dev` prepares it. */
export async function prepareState(): Promise<string> {
  const stateDir = await mkdtemp(path.join(os.tmpdir(), "download-audit-e2e-"));
  await promisify(execFile)(process.execPath, [wrangler, "d1", "migrations", "apply", "DB", "--local", "--persist-to", stateDir], {
    cwd: root,
    env: quietEnv,
  });
  return stateDir;
}

export interface LaunchedRuntime {
  baseUrl: string;
  /** Kills wrangler dev and workerd (the whole process group) with SIGKILL, as a crash would; the state stays. */
  kill: () => Promise<void>;
  /** Stops them with SIGTERM (SIGKILL after 10 s); the state stays. */
  terminate: () => Promise<void>;
}

/** Starts `wrangler dev` on `stateDir` (persisted: a restart on the same directory sees the same D1, DOs and R2). */
export async function launchRuntime(options: {
  stateDir: string;
  logFile: string;
  adminKey: string;
  port?: number;
  settings?: Record<string, string>;
}): Promise<LaunchedRuntime> {
  const port = options.port ?? (await freePort());
  const baseUrl = `http://127.0.0.1:${port}`;
  const log = createWriteStream(options.logFile);
  await new Promise((resolve) => log.once("open", resolve));
  const child = spawn(
    process.execPath,
    [
      wrangler, "dev", "--ip", "127.0.0.1", "--port", String(port), "--persist-to", options.stateDir, "--show-interactive-dev-session=false",
      ...(await devVars(options.adminKey, options.settings ?? {})),
    ],
    { cwd: root, env: quietEnv, detached: true, stdio: ["ignore", log, log] },
  );
  let exit: string | null = null;
  const exitedPromise = new Promise<void>((resolve) =>
    child.once("exit", (code, signal) => {
      exit = `code ${code}, signal ${signal}`;
      resolve();
    }),
  );
  const signal = async (name: NodeJS.Signals, escalateAfterMs: number | null) => {
    if (exit === null && child.pid !== undefined) {
      process.kill(-child.pid, name);
      const killTimer = escalateAfterMs === null ? undefined : setTimeout(() => exit === null && process.kill(-child.pid!, "SIGKILL"), escalateAfterMs);
      await exitedPromise;
      clearTimeout(killTimer);
    }
    log.end();
  };
  const runtime = { baseUrl, kill: () => signal("SIGKILL", null), terminate: () => signal("SIGTERM", 10_000) };
  try {
    await waitForHealth(baseUrl, options.logFile, () => exit, 90_000);
  } catch (error) {
    await runtime.terminate();
    const tail = (await readFile(options.logFile, "utf8").catch(() => "")).split("\n").slice(-40).join("\n");
    throw new Error(`${(error as Error).message}\n--- wrangler dev log (${options.logFile}) ---\n${tail}`);
  }
  return runtime;
}

export async function startService(logFile: string, settings: Record<string, string> = {}): Promise<RunningService> {
  const stateDir = await prepareState();
  const adminKey = `e2e-admin-${randomUUID()}`;
  let runtime: LaunchedRuntime;
  try {
    runtime = await launchRuntime({ stateDir, logFile, adminKey, settings });
  } catch (error) {
    await rm(stateDir, { recursive: true, force: true });
    throw error;
  }
  const stop = async () => {
    await runtime.terminate();
    await rm(stateDir, { recursive: true, force: true });
  };
  return { baseUrl: runtime.baseUrl, adminKey, logFile, stop };
}
